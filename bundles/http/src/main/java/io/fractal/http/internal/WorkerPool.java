package io.fractal.http.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The threads that serve requests: as many as the machine runs at once (twice its cores, at least 4) while they
 * keep up, and more only when the queue starves. Every request that is running takes CPU, so on a busy machine more
 * threads than cores add context switches and tail latency and nothing else (measured on 2 cores at 32
 * connections: a pool that grew to 40 threads served 30% fewer predictions than 4 threads, with twice the p99).
 * But a thread can also be stuck without using the CPU: reading the body of a client that sends it a byte at a
 * time, for up to the body timeout. So a watchdog looks every {@value #TICK_MS} ms at the oldest queued task; when
 * it has waited more than {@code starvationMillis} and fewer than the base number of threads made progress on the
 * CPU within that time (the others are stuck: in a read, on a lock, in a wait), the pool takes one more thread (up to {@code most}): stuck
 * threads are made up for one tick at a time, busy ones are not. Once the queue has stayed empty for
 * {@value #CALM_MS} ms, the pool goes back to its base size (threads beyond it end as they become idle).
 * This is the starvation rule of .NET's thread pool and of ForkJoinPool's compensation, for a plain executor.
 */
final class WorkerPool extends ThreadPoolExecutor {

    static final long TICK_MS = 10;
    static final long CALM_MS = 2000;
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

    private final int base;
    private final int most;
    private final long starvationNanos;
    private final LinkedBlockingQueue<Runnable> queue;
    /** The worker threads, with their CPU time (ns) when last looked at and when it last moved. */
    private final Map<Thread, long[]> workers;
    private final ScheduledExecutorService timer;
    private final ScheduledFuture<?> watchdog;
    private long calmSince = System.nanoTime();

    /** A task and when it was queued. */
    private static final class Queued implements Runnable {
        final Runnable task;
        final long queuedAt = System.nanoTime();

        Queued(Runnable task) {
            this.task = task;
        }

        @Override
        public void run() {
            task.run();
        }
    }

    /**
     * @param base             the threads it keeps
     * @param most             the threads it may grow to while tasks starve
     * @param starvationMillis how long the oldest queued task may wait before the pool takes one more thread
     * @param name             the threads' name prefix ({@code name-N}, the watchdog {@code name-watch})
     */
    WorkerPool(int base, int most, long starvationMillis, String name) {
        this(base, Math.max(base, most), starvationMillis, IsolatedThreads.factory(name), name,
                new LinkedBlockingQueue<>(), new ConcurrentHashMap<>());
    }

    private WorkerPool(int base, int most, long starvationMillis, ThreadFactory threads, String name,
            LinkedBlockingQueue<Runnable> queue, Map<Thread, long[]> workers) {
        super(base, base, 60, TimeUnit.SECONDS, queue, task -> {
            Thread t = threads.newThread(task);
            workers.put(t, new long[] {-1, System.nanoTime()});
            return t;
        });
        this.workers = workers;
        this.base = base;
        this.most = most;
        this.starvationNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(1, starvationMillis));
        this.queue = queue;
        this.timer = Executors.newSingleThreadScheduledExecutor(IsolatedThreads.factory(name + "-watch"));
        this.watchdog = timer.scheduleWithFixedDelay(this::watch, TICK_MS, TICK_MS, TimeUnit.MILLISECONDS);
    }

    @Override
    public void execute(Runnable task) {
        super.execute(new Queued(task));
    }

    private void watch() {
        Runnable head = queue.peek();
        long now = System.nanoTime();
        int size = getMaximumPoolSize();
        if (head == null) {
            if (size > base && now - calmSince > TimeUnit.MILLISECONDS.toNanos(CALM_MS)) {
                setCorePoolSize(base);
                setMaximumPoolSize(base);
            }
            return;
        }
        calmSince = now;
        int progressing = progressing(now); // looked at whenever tasks wait, so that it knows since when
        if (head instanceof Queued q && now - q.queuedAt > starvationNanos && size < most && progressing < base) {
            setMaximumPoolSize(size + 1);
            setCorePoolSize(size + 1); // a core thread starts at once and takes the head of the queue
        }
    }

    /**
     * The worker threads that are making progress: runnable, and their CPU time moved within the starvation time.
     * A busy CPU keeps tasks waiting too (and on a crowded machine a runnable thread may wait its turn for a
     * while), and more threads would not help it: only threads that are stuck (blocked on a lock or a wait, or
     * in a read that does not return, which Java reports as runnable) are made up for.
     */
    private int progressing(long now) {
        int n = 0;
        for (Map.Entry<Thread, long[]> e : workers.entrySet()) {
            Thread t = e.getKey();
            Thread.State state = t.getState();
            if (state == Thread.State.TERMINATED) {
                workers.remove(t);
                continue;
            }
            long[] seen = e.getValue(); // CPU time (ns), and when it last moved
            long cpu = CPU.getThreadCpuTime(t.getId());
            if (cpu != seen[0]) {
                seen[0] = cpu;
                seen[1] = now;
            }
            if (state == Thread.State.RUNNABLE && (cpu < 0 || now - seen[1] <= starvationNanos)) {
                n++;
            }
        }
        return n;
    }

    /** The threads the pool may have now (its base, or more while it makes up for stuck ones). */
    int size() {
        return getMaximumPoolSize();
    }

    @Override
    protected void terminated() {
        watchdog.cancel(false);
        timer.shutdownNow();
    }
}
