package io.fractal.http.internal;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import org.glassfish.grizzly.Buffer;
import org.glassfish.grizzly.Connection;
import org.glassfish.grizzly.EmptyCompletionHandler;
import org.glassfish.grizzly.Grizzly;
import org.glassfish.grizzly.WriteResult;
import org.glassfish.grizzly.attributes.Attribute;
import org.glassfish.grizzly.filterchain.FilterChainContext;
import org.glassfish.grizzly.filterchain.NextAction;
import org.glassfish.grizzly.http.HttpContent;
import org.glassfish.grizzly.http.HttpHeader;
import org.glassfish.grizzly.http.HttpPacketParsing;
import org.glassfish.grizzly.http.HttpRequestPacket;
import org.glassfish.grizzly.http.HttpResponsePacket;
import org.glassfish.grizzly.http.HttpServerFilter;
import org.glassfish.grizzly.http.KeepAlive;
import org.glassfish.grizzly.memory.Buffers;
import org.glassfish.grizzly.memory.MemoryManager;
import org.glassfish.grizzly.nio.NIOConnection;

/**
 * Grizzly's HTTP/1.1 server codec, with two changes: a request head is checked ({@link RequestHeads}) before it is
 * parsed, and what is refused there, or by the codec itself (a header section too large, a bad Content-Length, a
 * malformed chunk, an unsupported version, a missing Host), is answered with {@code {"error": "..."}} as the API
 * answers, instead of an empty 400 or 505, a 500 from an application that cannot build a URI from it, or no answer
 * at all (a request line without spaces waits for more until a timeout).
 */
@SuppressWarnings("deprecation") // Grizzly has no builder for its codec yet; HttpServer uses the same constructor
final class StrictHttpCodec extends HttpServerFilter {

    /** The request the codec is parsing on a connection (Grizzly's own attribute, found by its public name). */
    private static final Attribute<Object> IN_PROCESS = Grizzly.DEFAULT_ATTRIBUTE_BUILDER.createAttribute(
            HTTP_SERVER_REQUEST_ATTR_NAME);
    /** Set on a connection whose request this filter refused: what still arrives on it is dropped. */
    private static final Attribute<Boolean> REFUSED = Grizzly.DEFAULT_ATTRIBUTE_BUILDER.createAttribute(
            StrictHttpCodec.class.getName() + ".refused");
    /** The message an error answer of the codec gives, set on the request when the problem is found. */
    private static final String ERROR = StrictHttpCodec.class.getName() + ".error";

    private final int maxHeadersSize;

    StrictHttpCodec(boolean chunkingEnabled, int maxHeadersSize, KeepAlive keepAlive, int maxRequestHeaders,
            int maxResponseHeaders) {
        super(chunkingEnabled, maxHeadersSize, null, keepAlive, null, maxRequestHeaders, maxResponseHeaders);
        this.maxHeadersSize = maxHeadersSize;
    }

    @Override
    public NextAction handleRead(FilterChainContext ctx) throws IOException {
        Connection<?> connection = ctx.getConnection();
        if (REFUSED.isSet(connection)) {
            return ctx.getStopAction();
        }
        Object inProcess = IN_PROCESS.get(connection);
        if (inProcess == null || inProcess instanceof HttpPacketParsing p && !p.isHeaderParsed()) {
            Buffer input = ctx.getMessage();
            if (inProcess == null) {
                // RFC 9112 2.2: empty lines before a request line are ignored
                while (input.hasRemaining() && (input.get(input.position()) == '\r'
                        || input.get(input.position()) == '\n')) {
                    input.position(input.position() + 1);
                }
                if (!input.hasRemaining()) {
                    return ctx.getStopAction();
                }
            }
            RequestHeads.Problem problem = RequestHeads.check(input::get, input.position(), input.limit());
            if (problem != null) {
                refuse(ctx, problem.status(), problem.message());
                return ctx.getStopAction();
            }
            int minor = RequestHeads.laterMinorVersion(input::get, input.position(), input.limit());
            if (minor >= 0) {
                input.put(minor, (byte) '1'); // Grizzly knows HTTP/1.1, not HTTP/1.2
            }
        }
        return super.handleRead(ctx);
    }

    /**
     * Answers a request whose head is refused, then stops sending on the connection (a FIN after the answer) and
     * drops what still arrives until the client closes it, or the idle timeout does. Closing at once would reset the
     * connection while the client is still sending (a body after a bad head), and a client that is reset loses the
     * answer it had not read yet.
     */
    private static void refuse(FilterChainContext ctx, int status, String message) {
        Connection<?> connection = ctx.getConnection();
        REFUSED.set(connection, Boolean.TRUE);
        byte[] body = JsonErrorPages.body(message).getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + status + switch (status) {
            case 405 -> " Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS";
            case 417 -> " Expectation Failed";
            case 505 -> " HTTP Version Not Supported";
            default -> " Bad Request";
        } + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n";
        byte[] head8 = head.getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[head8.length + body.length];
        System.arraycopy(head8, 0, all, 0, head8.length);
        System.arraycopy(body, 0, all, head8.length, body.length);
        ctx.write(Buffers.wrap(connection.getMemoryManager(), all), new EmptyCompletionHandler<WriteResult>() {
            @Override
            public void completed(WriteResult result) {
                lingeringClose(connection);
            }

            @Override
            public void failed(Throwable throwable) {
                connection.closeSilently();
            }
        });
    }

    private static void lingeringClose(Connection<?> connection) {
        if (connection instanceof NIOConnection nio && nio.getChannel() instanceof SocketChannel channel) {
            try {
                channel.shutdownOutput();
                return;
            } catch (IOException e) {
                // closed meanwhile
            }
        }
        connection.closeSilently();
    }

    @Override
    protected boolean onHttpHeaderParsed(HttpHeader header, Buffer buffer, FilterChainContext ctx) {
        boolean error = super.onHttpHeaderParsed(header, buffer, ctx);
        if (error && header instanceof HttpRequestPacket request && request.getAttribute(ERROR) == null) {
            request.setAttribute(ERROR, whyRefused(request));
        }
        return error;
    }

    /** What the codec found wrong in a head it parsed (its checks in prepareRequest). */
    private static String whyRefused(HttpRequestPacket request) {
        HttpResponsePacket response = request.getResponse();
        if (response.getStatus() == 505) {
            return "the HTTP version is not supported; send HTTP/1.1";
        }
        if (response.getStatus() == 400) {
            return request.getMethod().getMethodString() + " requests take no body";
        }
        int lengths = 0;
        for (String ignored : request.getHeaders().values("Content-Length")) {
            lengths++;
        }
        if (lengths > 1) {
            return "the request has Content-Length headers that differ";
        }
        if (request.getHeader("Host") == null) {
            return "an HTTP/1.1 request needs a Host header";
        }
        return "the request's head is malformed";
    }

    /** Grizzly found the head malformed (too large, a bad Content-Length, ...): answered as {@link #refuse} does. */
    @Override
    protected void onHttpHeaderError(HttpHeader header, FilterChainContext ctx, Throwable t) throws IOException {
        int status = 400;
        String message = null;
        if (header instanceof HttpRequestPacket request) {
            status = Math.max(400, request.getResponse().getStatus());
            message = (String) request.getAttribute(ERROR);
        }
        if (message == null) {
            String m = t == null || t.getMessage() == null ? "" : t.getMessage();
            message = m.contains("too large") ? "the request line and headers are larger than " + maxHeadersSize
                    + " bytes"
                    : m.contains("Content-Length") || m.contains("content-length") || t instanceof NumberFormatException
                            ? "the Content-Length header must be one non-negative number"
                            : "the request's head is malformed";
        }
        refuse(ctx, status, message);
    }

    @Override
    protected void onHttpContentError(HttpHeader header, FilterChainContext ctx, Throwable t) throws IOException {
        if (header instanceof HttpRequestPacket request && request.getAttribute(ERROR) == null) {
            request.setAttribute(ERROR, header.isChunked() ? "the request body's chunked encoding is malformed"
                    : "the request body is malformed");
        }
        super.onHttpContentError(header, ctx, t);
    }

    /** The codec's own error answers (status already set) carry a JSON body. */
    @Override
    protected HttpContent customizeErrorResponse(HttpResponsePacket response) {
        HttpRequestPacket request = response.getRequest();
        Object message = request == null ? null : request.getAttribute(ERROR);
        int status = response.getStatus();
        String text = status + " " + response.getReasonPhrase()
                + (message == null ? "" : ": " + message);
        byte[] body = JsonErrorPages.body(text).getBytes(StandardCharsets.UTF_8);
        response.setContentType("application/json");
        response.setContentLength(body.length);
        return HttpContent.builder(response).content(Buffers.wrap(MemoryManager.DEFAULT_MEMORY_MANAGER, body))
                .last(true).build();
    }
}
