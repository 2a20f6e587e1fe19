package io.fractal.metrics.internal;

import io.fractal.api.metrics.FractalMetrics;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;

/** JVM memory, GC and threads, and the process's resident memory, named as Prometheus expects. */
final class JvmGauges {

    private JvmGauges() {
    }

    static void register(FractalMetrics m) {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        m.gauge("jvm_memory_used_bytes", () -> memory.getHeapMemoryUsage().getUsed(), "area", "heap");
        m.gauge("jvm_memory_committed_bytes", () -> memory.getHeapMemoryUsage().getCommitted(), "area", "heap");
        m.gauge("jvm_memory_max_bytes", () -> memory.getHeapMemoryUsage().getMax(), "area", "heap");
        m.gauge("jvm_memory_used_bytes", () -> memory.getNonHeapMemoryUsage().getUsed(), "area", "nonheap");
        m.gauge("jvm_memory_committed_bytes", () -> memory.getNonHeapMemoryUsage().getCommitted(), "area", "nonheap");
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            m.gauge("jvm_memory_pool_used_bytes", () -> pool.getUsage().getUsed(), "pool", pool.getName());
        }
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            m.gauge("jvm_gc_collections", gc::getCollectionCount, "gc", gc.getName());
            m.gauge("jvm_gc_collection_seconds", () -> gc.getCollectionTime() / 1000.0, "gc", gc.getName());
        }
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        m.gauge("jvm_threads_live", threads::getThreadCount);
        m.gauge("jvm_threads_daemon", () -> threads.getDaemonThreadCount());
        m.gauge("jvm_threads_peak", threads::getPeakThreadCount);
        for (Thread.State state : Thread.State.values()) {
            m.gauge("jvm_threads_state", () -> countThreads(threads, state), "state", state.name());
        }
        m.gauge("process_resident_memory_bytes", JvmGauges::residentBytes);
    }

    private static long countThreads(ThreadMXBean threads, Thread.State state) {
        long n = 0;
        for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds(), 0)) {
            if (info != null && info.getThreadState() == state) {
                n++;
            }
        }
        return n;
    }

    /** VmRSS from /proc/self/status (Linux); -1 elsewhere. */
    static long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux
        }
        return -1;
    }
}
