package io.fractal.inferrer.internal;

import io.fractal.api.concurrent.IsolatedThreads;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Time limits for one component's futures, kept on a timer thread of its own. The thread lives while the component
 * is active (a thread that ended after each idle moment would be created again for every few requests: measured, it
 * tripled the CPU a prediction costs); {@link #retire} ends it once the deadlines of the requests that may still
 * reach the deactivated component have passed, so nothing of an old bundle revision outlives its last request.
 *
 * <p>Not {@code CompletableFuture.orTimeout}: on Java 17 the JDK's one shared timer thread keeps, for the life of
 * the JVM, the access control context of the stack that happened to start it, and with it the class loaders of
 * every bundle on that stack (this one, Jersey's, the REST layer's): an update could never free them. For the same
 * reason this timer's thread is created with an empty access control context.
 */
final class Deadlines {

    /**
     * How long a deactivated component still takes deadlines: requests reach it only until the REST application
     * has been rebuilt without it, a fraction of this. The deadlines it took still fire after that.
     */
    static final long RETIRE_AFTER_MS = 2000;

    private final ScheduledThreadPoolExecutor timer;

    Deadlines(String threadName) {
        timer = new ScheduledThreadPoolExecutor(1, r -> IsolatedThreads.newThread(r, threadName));
        timer.setRemoveOnCancelPolicy(true);
    }

    /**
     * The component is deactivated: requests may still reach it for a moment (they finish on the services it
     * kept), so the timer takes deadlines for {@code graceMillis} more, then stops; the deadlines it holds then
     * still fire (those of requests answered meanwhile were removed), and its thread ends with the last of them.
     */
    void retire(long graceMillis) {
        try {
            timer.schedule(timer::shutdown, Math.max(0, graceMillis), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // already retired
        }
    }

    /**
     * Fails {@code future} with what {@code failure} gives once {@code millis} have passed, unless it completed
     * first. The failure completes the future off the timer thread (its dependents may write a response).
     *
     * @return {@code future}
     */
    <T> CompletableFuture<T> bound(CompletableFuture<T> future, long millis, Supplier<? extends Throwable> failure) {
        if (future.isDone()) {
            return future;
        }
        ScheduledFuture<?> task;
        try {
            task = timer.schedule(() -> ForkJoinPool.commonPool().execute(
                    () -> future.completeExceptionally(failure.get())), Math.max(0, millis), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // retired long ago: nothing should still call this component, but never leave a future unbounded
            future.completeExceptionally(failure.get());
            return future;
        }
        future.whenComplete((value, error) -> task.cancel(false));
        return future;
    }

}
