package io.fractal.rest.internal;

import java.lang.reflect.InvocationHandler;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.glassfish.jersey.server.model.Invocable;
import org.glassfish.jersey.server.spi.internal.ResourceMethodInvocationHandlerProvider;

/**
 * Has Jersey write an asynchronous answer (a resource method's {@link CompletionStage} that is not complete yet) on
 * the HTTP listener's worker pool, not on whichever thread completes the stage (a modelhost worker, the balancer's
 * waiting thread). Grizzly recycles a request into the cache of the thread that finishes it; a thread outside the
 * listener only ever fills its cache, and what it holds keeps the listener's classes, and so old revisions of
 * io.fractal.http after an update, reachable for the thread's life. The direct calls do the same
 * ({@link DirectLane}).
 *
 * <p>The pool is the one of the listener that received the request being served on the calling thread
 * ({@link #bind}); a method called outside a request (none bound), or a stage complete already, is left as it is.
 * A pool that refuses the task (it is shutting down) has the answer written on the completing thread, as before.
 */
final class ListenerThreadAnswers implements ResourceMethodInvocationHandlerProvider {

    private static final ThreadLocal<Executor> POOL = new ThreadLocal<>();
    private static final InvocationHandler HANDLER = (resource, method, args) -> {
        Object result = method.invoke(resource, args); // as Jersey's own handler: its dispatcher unwraps failures
        Executor pool = POOL.get();
        if (pool == null || !(result instanceof CompletionStage<?> stage)
                || stage instanceof CompletableFuture<?> f && f.isDone()) {
            return result;
        }
        return onPool(stage, pool);
    };

    /**
     * A stage that completes as {@code stage} does, with the very same value or failure (a dependent stage would wrap
     * a failure in a {@link java.util.concurrent.CompletionException}, and Jersey answers a cancellation and a
     * {@code WebApplicationException} by what they are), on {@code pool}; on the completing thread if the pool
     * refuses.
     */
    static CompletionStage<Object> onPool(CompletionStage<?> stage, Executor pool) {
        CompletableFuture<Object> answer = new CompletableFuture<>();
        stage.whenComplete((value, error) -> {
            Runnable complete = () -> {
                if (error != null) {
                    answer.completeExceptionally(error);
                } else {
                    answer.complete(value);
                }
            };
            try {
                pool.execute(complete);
            } catch (RejectedExecutionException e) {
                complete.run();
            }
        });
        return answer;
    }

    /** Binds the pool of the listener whose request the calling thread serves now; null unbinds. */
    static void bind(Executor pool) {
        if (pool == null) {
            POOL.remove();
        } else {
            POOL.set(pool);
        }
    }

    @Override
    public InvocationHandler create(Invocable method) {
        Class<?> type = method.getHandlingMethod().getReturnType();
        return type == Object.class || CompletionStage.class.isAssignableFrom(type) ? HANDLER : null;
    }
}
