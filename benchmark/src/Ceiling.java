import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import org.glassfish.grizzly.http.server.HttpHandler;
import org.glassfish.grizzly.http.server.HttpServer;
import org.glassfish.grizzly.http.server.NetworkListener;
import org.glassfish.grizzly.http.server.Request;
import org.glassfish.grizzly.http.server.Response;
import org.glassfish.grizzly.strategies.LeaderFollowerNIOStrategy;

/**
 * The HTTP ceiling for benchmark/ceiling.sh: a bare Grizzly 4 HTTP server, configured as Fractal's listener is (one
 * NetworkListener with Grizzly's default transport and worker thread pool, the handler run on a worker thread), whose
 * only handler reads each request body in full and answers 200 with a fixed body (application/json, Content-Length),
 * the bytes of a file given at start: the size of Fractal's answer to the same request. No Jersey, no Jackson, no
 * model: whatever Fractal spends beyond this is Fractal's.
 *
 * <pre>java -cp grizzly-framework.jar:grizzly-http.jar:grizzly-http-server.jar benchmark/src/Ceiling.java PORT BODY_FILE [leader-follower|same-thread]</pre>
 *
 * Prints "READY port" once it listens; runs until killed.
 */
public final class Ceiling {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        byte[] answer = Files.readAllBytes(Path.of(args[1]));
        HttpServer server = new HttpServer();
        NetworkListener listener = new NetworkListener("ceiling", "127.0.0.1", port);
        if (args.length > 2 && args[2].equals("leader-follower")) {
            listener.getTransport().setIOStrategy(LeaderFollowerNIOStrategy.getInstance());
        }
        // same-thread: the selector thread that read a request serves it, as Fractal serves a prediction whose body is
        // in (the bodies here are a few hundred bytes, in one packet)
        boolean sameThread = args.length > 2 && args[2].equals("same-thread");
        if (sameThread) {
            listener.getTransport().setIOStrategy(org.glassfish.grizzly.strategies.SameThreadIOStrategy.getInstance());
        }
        server.addListener(listener);
        server.getServerConfiguration().addHttpHandler(new HttpHandler() {
            @Override
            public org.glassfish.grizzly.http.server.RequestExecutorProvider getRequestExecutorProvider() {
                return sameThread ? new org.glassfish.grizzly.http.server.RequestExecutorProvider.SameThreadProvider()
                        : super.getRequestExecutorProvider();
            }

            @Override
            public void service(Request request, Response response) throws Exception {
                request.getInputStream().readAllBytes();   // the whole body, as a server that parses it must
                response.setStatus(200);
                response.setContentType("application/json");
                response.setContentLength(answer.length);
                response.getOutputStream().write(answer);
            }
        }, "/");
        server.start();
        System.out.println("READY " + port);
        new CountDownLatch(1).await();
    }
}
