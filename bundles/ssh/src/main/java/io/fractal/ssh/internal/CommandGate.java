package io.fractal.ssh.internal;

/**
 * Counts the commands that run in the sessions of one SSH server, so that the server can close once the last one
 * answered. A command may be the update of this very bundle, or a change of its configuration: the console is then
 * deactivated on the command's own thread, and its session must still send the answer and the exit status. The
 * console then frees its port at once, refuses further commands, and closes when the running ones have ended.
 */
final class CommandGate {

    private int running;
    private boolean closing;
    private Runnable whenIdle;

    /** Marks a command running; false once the console is closing (the session ends instead). */
    synchronized boolean enter() {
        if (closing) {
            return false;
        }
        running++;
        return true;
    }

    /** Whether the console began closing (while a command ran). */
    synchronized boolean closing() {
        return closing;
    }

    /** Marks the command done; the last one to end after {@link #close} runs its action, on this thread. */
    void leave() {
        Runnable action = null;
        synchronized (this) {
            running--;
            if (closing && running == 0) {
                action = whenIdle;
                whenIdle = null;
            }
        }
        if (action != null) {
            action.run();
        }
    }

    /**
     * Refuses new commands; true if none runs (the caller closes now), else false: {@code whenIdle} runs once the
     * last running command has ended. {@code whenIdle} must be made by the caller, now: it may run after this
     * bundle's class loader is gone, and must then need no class that was not loaded before.
     */
    synchronized boolean close(Runnable whenIdle) {
        closing = true;
        if (running == 0) {
            return true;
        }
        this.whenIdle = whenIdle;
        return false;
    }
}
