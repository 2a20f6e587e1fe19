package io.fractal.http.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The request threads: a base that busy work does not grow, and more threads only for stuck ones. */
class WorkerPoolTest {

    @Test
    void threadsStuckOnAWaitAreMadeUpForAndThePoolShrinksOnceCalm() throws Exception {
        WorkerPool pool = new WorkerPool(2, 10, 20, "test-pool");
        try {
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch started = new CountDownLatch(6);
            for (int i = 0; i < 6; i++) {
                pool.execute(() -> {
                    started.countDown();
                    try {
                        release.await(); // a slow client's body: the thread waits without using the CPU
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            assertTrue(started.await(3, TimeUnit.SECONDS), "all six stuck tasks got a thread");
            assertEquals(6, pool.size());
            CountDownLatch quick = new CountDownLatch(1);
            pool.execute(quick::countDown);
            assertTrue(quick.await(3, TimeUnit.SECONDS), "a request behind them is served too");
            release.countDown();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (pool.size() > 2 && System.nanoTime() < end) {
                Thread.sleep(50);
            }
            assertEquals(2, pool.size(), "back to its base once nothing waits");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void threadsStuckInASocketReadAreMadeUpFor() throws Exception {
        // a read that does not return is RUNNABLE to Java, like a busy thread: the pool tells them apart by CPU time
        WorkerPool pool = new WorkerPool(2, 10, 20, "test-pool");
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            List<Socket> sockets = new ArrayList<>();
            CountDownLatch started = new CountDownLatch(4);
            for (int i = 0; i < 4; i++) {
                Socket s = new Socket(server.getInetAddress(), server.getLocalPort());
                sockets.add(s);
                pool.execute(() -> {
                    started.countDown();
                    try {
                        s.getInputStream().read(); // a client that never sends its body
                    } catch (IOException e) {
                        // closed at the end of the test
                    }
                });
            }
            assertTrue(started.await(3, TimeUnit.SECONDS), "all four stuck reads got a thread");
            CountDownLatch quick = new CountDownLatch(1);
            pool.execute(quick::countDown);
            assertTrue(quick.await(3, TimeUnit.SECONDS), "a request behind them is served too");
            for (Socket s : sockets) {
                s.close();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void busyThreadsAreNotMultiplied() throws Exception {
        WorkerPool pool = new WorkerPool(2, 10, 20, "test-pool");
        try {
            AtomicInteger done = new AtomicInteger();
            for (int i = 0; i < 2; i++) {
                pool.execute(() -> {
                    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(400);
                    while (System.nanoTime() < end) {
                        Thread.onSpinWait(); // on the CPU all along: RUNNABLE
                    }
                    done.incrementAndGet();
                });
            }
            for (int i = 0; i < 20; i++) {
                pool.execute(done::incrementAndGet);
            }
            Thread.sleep(200); // ten times the starvation time, with the queue waiting behind busy threads
            assertEquals(2, pool.size(), "busy threads are not made up for");
            pool.shutdown();
            assertTrue(pool.awaitTermination(5, TimeUnit.SECONDS));
            assertEquals(22, done.get());
        } finally {
            pool.shutdownNow();
        }
    }
}
