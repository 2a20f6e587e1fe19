package io.fractal.inferrer.internal;

import io.fractal.api.inference.CapacityExceededException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * A dynamic, optional service reference that a request can wait for. Declarative Services binds and unbinds it
 * (the providing bundle is updated, or restarts) while the component that holds it stays registered; a request
 * that needs the service while it is away waits for it up to a grace, then fails with
 * {@link CapacityExceededException} (503 with {@code Retry-After}).
 *
 * <p>The component's bind method calls {@link #bind}, its unbind method {@link #unbind}. With a greedy reference
 * DS binds a replacement before it unbinds the service it replaces; {@code unbind} only clears what it names.
 *
 * <p>A service that is being deactivated may still answer the requests that took it just before it was unbound,
 * or refuse them; {@link #call(Function)} and {@link #callAsync} then ask its successor once.
 *
 * <p>When the component itself is deactivated (its own bundle is updated), {@link #retain} keeps the last service
 * for the requests that still reach the old instance: they finish on it instead of waiting for a successor that
 * will never be bound to a deactivated component.
 */
final class DynamicService<T> {

    private final String name;
    private final LongSupplier graceMillis;
    private final Deadlines deadlines;
    private final Object lock = new Object();
    private volatile T current;
    /** The component is deactivated: unbinding no longer clears the service. Guarded by {@link #lock}. */
    private boolean retained;
    /** Requests waiting for the service; guarded by {@link #lock}. */
    private final List<CompletableFuture<T>> waiting = new ArrayList<>();

    /**
     * @param name what the service is, for the 503 message ("the model repository")
     * @param graceMillis how long a request waits for the service when it is away
     * @param deadlines the component's timer, which ends the wait
     */
    DynamicService(String name, LongSupplier graceMillis, Deadlines deadlines) {
        this.name = name;
        this.graceMillis = graceMillis;
        this.deadlines = deadlines;
    }

    void bind(T service) {
        List<CompletableFuture<T>> woken;
        synchronized (lock) {
            current = service;
            woken = List.copyOf(waiting);
            waiting.clear();
        }
        // The waiting requests continue on another thread: this one is Declarative Services' and must not run them.
        for (CompletableFuture<T> w : woken) {
            w.completeAsync(() -> service);
        }
    }

    void unbind(T service) {
        synchronized (lock) {
            if (current == service && !retained) {
                current = null;
            }
        }
    }

    /**
     * The component is being deactivated: the service bound now stays in use for the requests this instance still
     * gets (DS unbinds it right after); what the requests need is still registered, only this component goes.
     */
    void retain() {
        synchronized (lock) {
            retained = true;
        }
    }

    /** The bound service, or null while it is away. */
    T current() {
        return current;
    }

    /** Whether {@code service} is the one bound now. */
    boolean isCurrent(T service) {
        return current == service;
    }

    /**
     * The service, once it is bound: at once when it is, else when DS binds it; or a failure with
     * {@link CapacityExceededException} after the grace. Never blocks.
     */
    CompletableFuture<T> whenAvailable() {
        T s = current;
        if (s != null) {
            return CompletableFuture.completedFuture(s);
        }
        CompletableFuture<T> arrival = new CompletableFuture<>();
        synchronized (lock) {
            s = current;
            if (s != null) {
                return CompletableFuture.completedFuture(s);
            }
            waiting.add(arrival);
        }
        long grace = Math.max(0, graceMillis.getAsLong());
        deadlines.bound(arrival, grace, () -> absent(grace)).whenComplete((service, error) -> {
            if (error != null) {
                synchronized (lock) {
                    waiting.remove(arrival);
                }
            }
        });
        return arrival;
    }

    /** The service, waiting for it up to the grace (blocking the calling thread); 503 after. */
    T await() {
        T s = current;
        if (s != null) {
            return s;
        }
        try {
            return whenAvailable().get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new CompletionException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw absent(0);
        }
    }

    /**
     * Calls the service (waiting for it up to the grace). If the call fails after the instance it used was
     * unbound (it was being deactivated), calls its successor once. For calls that may be repeated (reads,
     * idempotent changes); blocks the calling thread while the service is away.
     */
    <R> R call(Function<T, R> action) {
        T used = await();
        try {
            return action.apply(used);
        } catch (RuntimeException e) {
            if (current == used) {
                throw e;
            }
            T next = await();
            if (next == used) {
                throw e;
            }
            return action.apply(next);
        }
    }

    /**
     * Calls {@code used}; when its answer is a failure that {@code retryable} accepts and {@code used} has been
     * unbound meanwhile (it was being deactivated), calls its successor once, waiting for it up to the grace.
     * Never blocks.
     */
    <R> CompletableFuture<R> callAsync(T used, Function<T, CompletableFuture<R>> action,
            Predicate<Throwable> retryable) {
        return invoke(used, action).handle((value, error) -> {
            if (error == null) {
                return CompletableFuture.completedFuture(value);
            }
            Throwable cause = unwrap(error);
            if (!retryable.test(cause) || current == used) {
                return CompletableFuture.<R>failedFuture(cause);
            }
            return whenAvailable().thenCompose(next -> next == used ? CompletableFuture.<R>failedFuture(cause)
                    : invoke(next, action));
        }).thenCompose(Function.identity());
    }

    private static <T, R> CompletableFuture<R> invoke(T service, Function<T, CompletableFuture<R>> action) {
        try {
            CompletableFuture<R> f = action.apply(service);
            return f != null ? f : CompletableFuture.failedFuture(new IllegalStateException("no answer"));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private CapacityExceededException absent(long waitedMillis) {
        return new CapacityExceededException(name + " is not available (waited " + waitedMillis + " ms); "
                + "retry later", 1);
    }

    static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
