import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The benchmark client: an open-loop load generator and the measurements built on it. JDK only, launched from
 * source: {@code java benchmark/src/LoadGenerator.java COMMAND --option value ...}.
 *
 * <p>Open loop: requests are sent at fixed scheduled times (rate r: one every 1/r s) whatever the server does, on
 * asynchronous HTTP/1.1 connections (as many as are outstanding), and each latency runs from the scheduled send
 * time, not the actual one, so a stalled sender or server is not hidden (no coordinated omission).
 *
 * <pre>
 * balancer         --base URL --model nap [--rates 150,300] [--strategies ROUND_ROBIN,...] [--warmup 3] [--seconds 20]
 * modelhost-add    --base URL --deploy DIR --cfg FILE [--id mh9] [--model iris] [--rate 100] [--runs 5]
 * first-prediction --base URL --deploy DIR --source FILE [--name hot] [--runs 5]
 * swap             --base URL --model swap --target FILE --variants A,B [--cycles 20] [--rss-cycles 50] [--rate 100]
 *                  --pid PID --metrics URL
 * scrape           --base URL --metrics URL --models a,b,... [--requests 30] [--count 200]
 * load             --url URL --body JSON [--rate 100] [--seconds 10]
 * </pre>
 */
public class LoadGenerator {

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: LoadGenerator balancer|modelhost-add|first-prediction|swap|scrape --option value ...");
            System.exit(2);
        }
        try {
            dispatch(args[0], new Args(Arrays.copyOfRange(args, 1, args.length)));
        } catch (Exception | Error e) {
            e.printStackTrace();
            System.exit(1);
        }
        System.exit(0); // the HTTP client's threads are not daemons
    }

    static void dispatch(String command, Args a) throws Exception {
        switch (command) {
            case "balancer" -> Balancer.run(a);
            case "modelhost-add" -> ModelhostAdd.run(a);
            case "first-prediction" -> HotDeploy.firstPrediction(a);
            case "swap" -> HotDeploy.swap(a);
            case "scrape" -> Scrape.run(a);
            case "load" -> {
                // plain open-loop load: --url URL --body JSON --rate R --seconds S
                Stats stats = new Stats(0, Long.MAX_VALUE);
                HttpRequest request = Http.post(a.str("url", null), a.str("body", null));
                String trace = a.str("trace", "");
                List<Listener> listeners = new ArrayList<>(List.of(stats));
                List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
                long t0 = System.nanoTime();
                long epochMs = System.currentTimeMillis();
                if (!trace.isEmpty()) {
                    // one line per request: wall-clock ms of the scheduled send, latency ms, status
                    listeners.add(r -> lines.add(String.format(Locale.ROOT, "%d %.2f %d", epochMs + (r.scheduled() - t0) / 1_000_000,
                            (r.done() - r.scheduled()) / 1e6, r.status())));
                }
                new OpenLoop(t -> request).runFor(a.dbl("rate", 100), a.dbl("seconds", 10), listeners).awaitIdle(60);
                if (!trace.isEmpty()) {
                    Files.write(Path.of(trace), lines);
                }
                System.out.printf(Locale.ROOT, "sent %d, ok %d, errors %s, p50 %s ms, p99 %s ms, max %s ms%n",
                        stats.sent.sum(), stats.ok.sum(), stats.errorText(), stats.pct(0.5), stats.pct(0.99), stats.max());
            }
            default -> throw new IllegalArgumentException("unknown command " + command);
        }
    }

    static void log(String format, Object... args) {
        System.err.printf(Locale.ROOT, "[%tT] %s%n", System.currentTimeMillis(), String.format(Locale.ROOT, format, args));
    }

    static String ms(long nanos) {
        return String.format(Locale.ROOT, "%.1f", nanos / 1e6);
    }
}

// ---- 1. balancer strategies ------------------------------------------------------------------------------------

final class Balancer {
    static final String BODY = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}";

    static void run(Args a) throws Exception {
        String base = a.str("base", null);
        String model = a.str("model", "nap");
        List<Double> rates = a.doubles("rates", "150,300");
        List<String> strategies = a.list("strategies", "ROUND_ROBIN,LEAST_OUTSTANDING,POWER_OF_TWO");
        double warmup = a.dbl("warmup", 3);
        double seconds = a.dbl("seconds", 20);
        HttpRequest request = Http.post(base + "/v2/models/" + model + "/infer", BODY);

        LoadGenerator.log("warm-up: 5 s at %.0f req/s", rates.get(0));
        new OpenLoop(t -> request).runFor(rates.get(0), 5, List.of()).awaitIdle(60);

        List<String> rows = new ArrayList<>();
        List<String> hostIds = null;
        for (double rate : rates) {
            for (String strategy : strategies) {
                Http.put(base + "/api/v1/balancer", "{\"strategy\":\"" + strategy + "\"}");
                awaitQuiet(base);
                long now = System.nanoTime();
                long measureFrom = now + OpenLoop.nanos(warmup) + TimeUnit.MILLISECONDS.toNanos(20);
                Stats stats = new Stats(measureFrom, measureFrom + OpenLoop.nanos(seconds));
                OpenLoop load = new OpenLoop(t -> request);
                Map<String, Long> before = null;
                LoadGenerator.log("%s at %.0f req/s: %.0f s warm-up, %.0f s measured", strategy, rate, warmup, seconds);
                load.start(rate, now + TimeUnit.MILLISECONDS.toNanos(20), measureFrom + OpenLoop.nanos(seconds),
                        List.of(stats));
                // the served counters at the start of the measured window
                OpenLoop.sleepUntil(measureFrom);
                before = served(base);
                load.join();
                boolean idle = load.awaitIdle(120);
                Map<String, Long> after = served(base);
                if (hostIds == null) {
                    hostIds = new ArrayList<>(after.keySet());
                }
                Map<String, Long> share = new LinkedHashMap<>();
                long total = 0;
                for (String id : hostIds) {
                    long d = after.getOrDefault(id, 0L) - before.getOrDefault(id, 0L);
                    share.put(id, d);
                    total += d;
                }
                StringBuilder shares = new StringBuilder();
                for (String id : hostIds) {
                    shares.append(String.format(Locale.ROOT, " | %8.1f%%", total == 0 ? 0 : 100.0 * share.get(id) / total));
                }
                String row = String.format(Locale.ROOT, "| %4.0f | %-17s | %6d | %6d | %-14s | %8s | %8s | %8s | %8s | %6.1f%s |",
                        rate, strategy, stats.sent.sum(), stats.ok.sum(), stats.errorText() + (idle ? "" : " (unfinished)"),
                        stats.pct(0.50), stats.pct(0.90), stats.pct(0.99), stats.max(), stats.throughput(), shares);
                rows.add(row);
                LoadGenerator.log("%s", row);
            }
        }
        StringBuilder head = new StringBuilder("| rate | strategy          |   sent |     ok | errors         |   p50 ms |   p90 ms |   p99 ms |   max ms |   ok/s");
        StringBuilder rule = new StringBuilder("|-----:|-------------------|-------:|-------:|----------------|---------:|---------:|---------:|---------:|-------:");
        for (String id : hostIds) {
            head.append(String.format(Locale.ROOT, " | %9s", id));
            rule.append("|----------:");
        }
        System.out.println(head + " |");
        System.out.println(rule + "|");
        rows.forEach(System.out::println);
    }

    /** Waits until no modelhost has requests queued or running (the backlog of an overloaded run is gone). */
    static void awaitQuiet(String base) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            boolean quiet = true;
            for (Object h : Json.hosts(base)) {
                Map<?, ?> m = (Map<?, ?>) h;
                if (Json.num(m.get("in_flight")) + Json.num(m.get("queued")) > 0) {
                    quiet = false;
                }
            }
            if (quiet) {
                return;
            }
            Thread.sleep(100);
        }
    }

    /** The served counter of each modelhost. */
    static Map<String, Long> served(String base) throws Exception {
        Map<String, Long> m = new TreeMap<>();
        for (Object h : Json.hosts(base)) {
            Map<?, ?> host = (Map<?, ?>) h;
            m.put((String) host.get("id"), Json.num(host.get("served")));
        }
        return m;
    }
}

// ---- 2. a modelhost added by .cfg ------------------------------------------------------------------------------

final class ModelhostAdd {
    static void run(Args a) throws Exception {
        String base = a.str("base", null);
        Path deploy = Path.of(a.str("deploy", null));
        Path cfg = Path.of(a.str("cfg", null));
        String id = a.str("id", "mh9");
        String model = a.str("model", "iris");
        double rate = a.dbl("rate", 100);
        int runs = a.integer("runs", 5);
        Path target = deploy.resolve(cfg.getFileName());
        HttpRequest request = Http.post(base + "/api/v1/models/" + model + "/prediction",
                "{\"values\": [5.1, 3.5, 1.4, 0.2]}");
        String marker = "\"modelhost\":\"" + id + "\"";

        AtomicLong firstServed = new AtomicLong(); // done time of the first response from the new host, 0 when armed
        AtomicLong lastServed = new AtomicLong();
        Stats all = new Stats(Long.MAX_VALUE, Long.MAX_VALUE); // opened after the warm-up
        Listener watch = r -> {
            if (r.status() == 200 && r.body() != null && r.body().contains(marker)) {
                firstServed.compareAndSet(0, r.done());
                lastServed.accumulateAndGet(r.done(), Math::max);
            }
        };
        OpenLoop load = new OpenLoop(t -> request);
        load.start(rate, System.nanoTime(), Long.MAX_VALUE, List.of(all, watch));
        LoadGenerator.log("load: %.0f req/s on %s; 3 s warm-up", rate, model);
        Thread.sleep(3000);
        all.from = System.nanoTime();

        int timeout = a.integer("timeout", 15);
        List<long[]> results = new ArrayList<>();
        List<String> rows = new ArrayList<>();
        for (int run = 1; run <= runs; run++) {
            Path staged = Files.createTempFile(deploy.getParent(), ".cfg", ".tmp");
            Files.copy(cfg, staged, StandardCopyOption.REPLACE_EXISTING);
            firstServed.set(0);
            jitter();
            Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
            long t0 = System.nanoTime();
            long listed = 0;
            long deadline = t0 + TimeUnit.SECONDS.toNanos(timeout);
            while (firstServed.get() == 0 && System.nanoTime() < deadline) {
                if (listed == 0 && hosts(base).contains(id)) {
                    listed = System.nanoTime();
                }
                Thread.sleep(10);
            }
            long served = firstServed.get() == 0 ? -1 : firstServed.get() - t0;
            String states = states(base, id);
            if (listed == 0 && served >= 0) {
                listed = firstServed.get(); // served before the poll saw it listed
            }
            // remove it again: the host drains, then goes
            Files.delete(target);
            long t1 = System.nanoTime();
            while (hosts(base).contains(id)) {
                if (System.nanoTime() - t1 > TimeUnit.SECONDS.toNanos(60)) {
                    throw new IllegalStateException(id + " still listed 60 s after its .cfg was deleted");
                }
                Thread.sleep(10);
            }
            long gone = System.nanoTime() - t1;
            String listedText = listed == 0 ? "never" : LoadGenerator.ms(listed - t0);
            if (served >= 0) {
                results.add(new long[] {listed - t0, served, gone});
                rows.add(String.format(Locale.ROOT, "| %d | %s | %s | %s | %s |", run, listedText, LoadGenerator.ms(served),
                        LoadGenerator.ms(gone), states));
            } else {
                rows.add(String.format(Locale.ROOT, "| %d | %s | **none within %d s** | %s | %s |", run, listedText, timeout,
                        LoadGenerator.ms(gone), states));
            }
            LoadGenerator.log("run %d: listed after %s ms, first served after %s; gone %s ms after delete; %s", run,
                    listedText, served >= 0 ? LoadGenerator.ms(served) + " ms" : "NEVER (" + timeout + " s)",
                    LoadGenerator.ms(gone), states);
            Thread.sleep(1000);
        }
        load.stop();
        load.awaitIdle(30);

        System.out.println("| run | .cfg copied -> listed in /api/v1/modelhosts (ms) | .cfg copied -> first response from " + id
                + " (ms) | .cfg deleted -> gone (ms) | model states on " + id + " when measured |");
        System.out.println("|----:|---:|---:|---:|---|");
        rows.forEach(System.out::println);
        if (!results.isEmpty()) {
            System.out.printf(Locale.ROOT, "| **median** (%d of %d runs served) | %s | **%s** | %s | |%n", results.size(), runs,
                    LoadGenerator.ms(median(results, 0)), LoadGenerator.ms(median(results, 1)), LoadGenerator.ms(median(results, 2)));
        }
        System.out.printf(Locale.ROOT, "%nrequests during the runs (after the warm-up): %d sent, %d ok, errors: %s; p50 %s ms, p99 %s ms, max %s ms%n",
                all.sent.sum(), all.ok.sum(), all.errorText(), all.pct(0.5), all.pct(0.99), all.max());
    }

    /** The states of the models on one modelhost, e.g. "digits:READY iris:WAITING_FOR_ENGINE". */
    static String states(String base, String id) throws Exception {
        StringBuilder b = new StringBuilder();
        for (Object h : Json.hosts(base)) {
            Map<?, ?> host = (Map<?, ?>) h;
            if (id.equals(host.get("id"))) {
                for (Object o : (List<?>) host.get("loaded")) {
                    Map<?, ?> m = (Map<?, ?>) o;
                    b.append(b.length() == 0 ? "" : " ").append(m.get("model")).append(':').append(m.get("state"));
                }
            }
        }
        return b.length() == 0 ? "(not listed)" : b.toString();
    }

    /**
     * Waits 0 to 500 ms at random. Each run starts after something the server did on a FileInstall scan (every
     * 500 ms); without this, every copy would land at the same point of the scan cycle and the figures would
     * show that one point instead of the spread a user sees.
     */
    static void jitter() throws InterruptedException {
        Thread.sleep(java.util.concurrent.ThreadLocalRandom.current().nextInt(500));
    }

    static List<String> hosts(String base) throws Exception {
        List<String> ids = new ArrayList<>();
        for (Object h : Json.hosts(base)) {
            ids.add((String) ((Map<?, ?>) h).get("id"));
        }
        return ids;
    }

    static long median(List<long[]> rows, int col) {
        long[] v = rows.stream().mapToLong(r -> r[col]).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}

// ---- 3. hot deploy ---------------------------------------------------------------------------------------------

final class HotDeploy {
    static final String V2_BODY =
            "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[5.1,3.5,1.4,0.2]}]}";
    static final Pattern VERSION = Pattern.compile("\"version\":(\\d+)");

    /** A new model file dropped into deploy/: time until it first answers a prediction. */
    static void firstPrediction(Args a) throws Exception {
        String base = a.str("base", null);
        Path deploy = Path.of(a.str("deploy", null));
        Path source = Path.of(a.str("source", null));
        String prefix = a.str("name", "hot");
        int runs = a.integer("runs", 5);
        String ext = source.getFileName().toString().replaceAll("^.*\\.", "");
        List<long[]> results = new ArrayList<>();
        for (int run = 1; run <= runs; run++) {
            String name = prefix + run;
            Path target = deploy.resolve(name + "." + ext);
            Path staged = Files.createTempFile(deploy.getParent(), ".model", ".tmp");
            Files.copy(source, staged, StandardCopyOption.REPLACE_EXISTING);
            HttpRequest request = Http.post(base + "/v2/models/" + name + "/infer", V2_BODY);
            ModelhostAdd.jitter();
            Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
            long t0 = System.nanoTime();
            Map<Integer, Integer> seen = new TreeMap<>();
            long known = 0;
            while (true) {
                HttpResponse<String> r = Http.CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
                seen.merge(r.statusCode(), 1, Integer::sum);
                if (known == 0 && r.statusCode() != 404) {
                    known = System.nanoTime();
                }
                if (r.statusCode() == 200) {
                    break;
                }
                if (System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(60)) {
                    throw new IllegalStateException(name + ": no prediction within 60 s; last " + r.statusCode() + " " + r.body());
                }
                Thread.sleep(5);
            }
            long t = System.nanoTime() - t0;
            results.add(new long[] {known - t0, t});
            LoadGenerator.log("%s: known after %s ms, first prediction after %s ms (polled every 5 ms: %s)", name,
                    LoadGenerator.ms(known - t0), LoadGenerator.ms(t), seen);
            Files.delete(target);
            while (Http.status(base + "/api/v1/models/" + name) != 404) {
                Thread.sleep(20);
            }
        }
        System.out.println("| run | file copied -> model known (ms) | file copied -> first prediction (ms) |");
        System.out.println("|----:|---:|---:|");
        for (int i = 0; i < results.size(); i++) {
            System.out.printf(Locale.ROOT, "| %d | %s | %s |%n", i + 1, LoadGenerator.ms(results.get(i)[0]),
                    LoadGenerator.ms(results.get(i)[1]));
        }
        System.out.printf(Locale.ROOT, "| **median** | %s | **%s** |%n", LoadGenerator.ms(ModelhostAdd.median(results, 0)),
                LoadGenerator.ms(ModelhostAdd.median(results, 1)));
    }

    /** Replaces a served model's file again and again under load: failed requests, swap time, then RSS. */
    static void swap(Args a) throws Exception {
        String base = a.str("base", null);
        String model = a.str("model", "swap");
        Path target = Path.of(a.str("target", null));
        List<Path> variants = a.list("variants", null).stream().map(Path::of).toList();
        int cycles = a.integer("cycles", 20);
        int rssCycles = a.integer("rss-cycles", 50);
        int rssEvery = a.integer("rss-every", 0); // also read the memory every N replaces (slow: a GC and 3 s each)
        double rate = a.dbl("rate", 100);
        long pid = Long.parseLong(a.str("pid", null));
        String metrics = a.str("metrics", null);
        HttpRequest request = Http.post(base + "/api/v1/models/" + model + "/prediction", "{\"values\": [5.1, 3.5, 1.4, 0.2]}");

        AtomicLong newest = new AtomicLong();     // the highest version a response came from
        AtomicLong newestAt = new AtomicLong();   // when that version first answered
        Listener versions = r -> {
            if (r.status() == 200 && r.body() != null) {
                Matcher m = VERSION.matcher(r.body());
                if (m.find()) {
                    long v = Long.parseLong(m.group(1));
                    synchronized (newest) {
                        if (v > newest.get()) {
                            newest.set(v);
                            newestAt.set(r.done());
                        }
                    }
                }
            }
        };
        Stats first = new Stats(0, Long.MAX_VALUE);   // cycles 1..cycles
        Stats rest = new Stats(Long.MAX_VALUE, Long.MAX_VALUE);
        OpenLoop load = new OpenLoop(t -> request);
        Stats warm = new Stats(0, Long.MAX_VALUE);
        load.start(rate, System.nanoTime(), Long.MAX_VALUE, List.of(versions, warm));
        LoadGenerator.log("load: %.0f req/s on %s; 3 s warm-up", rate, model);
        Thread.sleep(3000);
        Memory rss0 = Memory.read(pid, metrics);
        LoadGenerator.log("before any replace: %s", rss0);
        load.stop();
        load.awaitIdle(30);

        load = new OpenLoop(t -> request);
        CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>(List.of(versions, first));
        load.start(rate, System.nanoTime(), Long.MAX_VALUE, listeners);
        long current = newest.get();
        List<Long> swapTimes = new ArrayList<>();
        List<String> periodic = new ArrayList<>();
        Memory rss1 = null;
        for (int c = 1; c <= rssCycles; c++) {
            if (c == cycles + 1) {
                long boundary = System.nanoTime();
                first.to = boundary;
                rest.from = boundary;
                listeners.add(rest);
            }
            Files.copy(variants.get(c % variants.size()), target, StandardCopyOption.REPLACE_EXISTING);
            long t0 = System.nanoTime();
            while (newest.get() <= current) {
                if (System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(60)) {
                    throw new IllegalStateException("cycle " + c + ": no response from a version above " + current + " in 60 s");
                }
                Thread.sleep(5);
            }
            current = newest.get();
            swapTimes.add(newestAt.get() - t0);
            if (c == 1) {
                rss1 = Memory.read(pid, metrics);
                LoadGenerator.log("after 1 replace: %s", rss1);
            }
            if (rssEvery > 0 && c % rssEvery == 0 && c != rssCycles) {
                Memory m = Memory.read(pid, metrics);
                periodic.add(m.row("after " + c + " replaces"));
                LoadGenerator.log("after %d replaces: %s", c, m);
            }
            if (c % 10 == 0) {
                LoadGenerator.log("cycle %d: version %d; failed so far %s / %s", c, current, first.errorText(), rest.errorText());
            }
            Thread.sleep(300); // let the old version close before the next replace
            ModelhostAdd.jitter();
        }
        load.stop();
        load.awaitIdle(30);
        Memory rss50 = Memory.read(pid, metrics);
        LoadGenerator.log("after %d replaces: %s", rssCycles, rss50);

        long[] st = swapTimes.stream().mapToLong(Long::longValue).sorted().toArray();
        System.out.printf(Locale.ROOT, "Swap under load (%.0f req/s of v1 predictions on '%s'):%n%n", rate, model);
        System.out.println("| cycles | requests | ok | failed (non-200) |");
        System.out.println("|---|---:|---:|---|");
        System.out.printf(Locale.ROOT, "| 1-%d | %d | %d | %s |%n", cycles, first.sent.sum(), first.ok.sum(), first.errorText());
        System.out.printf(Locale.ROOT, "| %d-%d | %d | %d | %s |%n", cycles + 1, rssCycles, rest.sent.sum(), rest.ok.sum(), rest.errorText());
        System.out.printf(Locale.ROOT, "%nlatency during cycles 1-%d: p50 %s ms, p99 %s ms, max %s ms%n", cycles,
                first.pct(0.5), first.pct(0.99), first.max());
        System.out.printf(Locale.ROOT, "file replaced -> first response from the new version (%d replaces): median %s ms, "
                + "min %s ms, max %s ms%n%n", st.length, LoadGenerator.ms(st[st.length / 2]), LoadGenerator.ms(st[0]),
                LoadGenerator.ms(st[st.length - 1]));
        System.out.println(Memory.HEAD);
        System.out.println(rss0.row("before any replace"));
        System.out.println(rss1.row("after 1 replace"));
        periodic.forEach(System.out::println);
        System.out.println(rss50.row("after " + rssCycles + " replaces"));
        System.out.printf(Locale.ROOT, "%nVmRSS growth from 1 to %d replaces: %+.1f MiB (%+.0f KiB per replace)%n", rssCycles,
                (rss50.vmRssKib - rss1.vmRssKib) / 1024.0, (rss50.vmRssKib - rss1.vmRssKib) / (double) (rssCycles - 1));
    }

    /** The server's memory, read after a forced GC and a pause. */
    record Memory(long vmRssKib, double metricRss, double heapUsed, double heapCommitted, double nonHeapCommitted) {
        static Memory read(long pid, String metrics) throws Exception {
            Process p = new ProcessBuilder("jcmd", Long.toString(pid), "GC.run").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            p.waitFor(30, TimeUnit.SECONDS);
            Thread.sleep(3000);
            long kib = 0;
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    kib = Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
            String text = Http.get(metrics);
            return new Memory(kib, Prom.value(text, "process_resident_memory_bytes", ""),
                    Prom.sum(text, "jvm_memory_used_bytes", "area=\"heap\""),
                    Prom.sum(text, "jvm_memory_committed_bytes", "area=\"heap\""),
                    Prom.sum(text, "jvm_memory_committed_bytes", "area=\"nonheap\""));
        }

        static final String HEAD = "| memory (after jcmd GC.run + 3 s) | VmRSS MiB | process_resident_memory_bytes MiB "
                + "| heap used MiB | heap committed MiB | non-heap committed MiB | RSS - JVM committed MiB |\n"
                + "|---|---:|---:|---:|---:|---:|---:|";

        String row(String what) {
            return String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |", what, vmRssKib / 1024.0,
                    metricRss / 1048576, heapUsed / 1048576, heapCommitted / 1048576, nonHeapCommitted / 1048576,
                    (vmRssKib * 1024.0 - heapCommitted - nonHeapCommitted) / 1048576);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "VmRSS %.1f MiB, process_resident_memory_bytes %.1f MiB, heap used %.1f MiB, "
                    + "heap committed %.1f MiB, non-heap committed %.1f MiB", vmRssKib / 1024.0, metricRss / 1048576,
                    heapUsed / 1048576, heapCommitted / 1048576, nonHeapCommitted / 1048576);
        }
    }
}

// ---- 4. scrape cost --------------------------------------------------------------------------------------------

final class Scrape {
    static void run(Args a) throws Exception {
        String base = a.str("base", null);
        String metrics = a.str("metrics", null);
        List<String> models = a.list("models", null);
        int requests = a.integer("requests", 30);
        int count = a.integer("count", 200);
        // traffic on every model, so each has its latency series on each modelhost
        Stats traffic = new Stats(0, Long.MAX_VALUE);
        List<HttpRequest> reqs = models.stream().map(m -> Http.post(base + "/api/v1/models/" + m + "/prediction",
                "{\"values\": [5.1, 3.5, 1.4, 0.2]}")).toList();
        AtomicLong next = new AtomicLong();
        OpenLoop load = new OpenLoop(t -> reqs.get((int) (next.getAndIncrement() % reqs.size())));
        double rate = 200;
        load.runFor(rate, models.size() * requests / rate, List.of(traffic)).awaitIdle(60);
        LoadGenerator.log("traffic: %d predictions over %d models, %d ok, errors %s", traffic.sent.sum(), models.size(),
                traffic.ok.sum(), traffic.errorText());
        for (int i = 0; i < 50; i++) {
            Http.get(metrics); // warm-up
        }
        long pid = Long.parseLong(a.str("pid", "0"));
        long cpu0 = cpuTicks(pid);
        long[] times = new long[count];
        long bytes = 0;
        int lines = 0;
        HttpRequest scrape = HttpRequest.newBuilder(URI.create(metrics)).GET().build();
        for (int i = 0; i < count; i++) {
            long t = System.nanoTime();
            HttpResponse<byte[]> r = Http.CLIENT.send(scrape, HttpResponse.BodyHandlers.ofByteArray());
            times[i] = System.nanoTime() - t;
            if (r.statusCode() != 200) {
                throw new IllegalStateException("scrape: " + r.statusCode());
            }
            bytes += r.body().length;
            if (i == count - 1) {
                String text = new String(r.body());
                lines = (int) text.lines().filter(l -> !l.startsWith("#") && !l.isBlank()).count();
            }
        }
        long cpu = cpuTicks(pid) - cpu0;
        Arrays.sort(times);
        double mean = Arrays.stream(times).average().orElse(0);
        System.out.println("| scrapes | p50 ms | p90 ms | p99 ms | max ms | mean ms | server CPU ms per scrape | bytes per scrape | samples per scrape |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        System.out.printf(Locale.ROOT, "| %d | %s | %s | %s | %s | %s | %s | %d | %d |%n", count, LoadGenerator.ms(Stats.pct(times, 0.5)),
                LoadGenerator.ms(Stats.pct(times, 0.9)), LoadGenerator.ms(Stats.pct(times, 0.99)),
                LoadGenerator.ms(times[count - 1]), LoadGenerator.ms((long) mean),
                pid == 0 ? "-" : String.format(Locale.ROOT, "%.2f", cpu * 10.0 / count), bytes / count, lines);
    }

    /** User + system CPU time of a process in clock ticks (1/100 s), from /proc/PID/stat; 0 without a pid. */
    static long cpuTicks(long pid) throws IOException {
        if (pid == 0) {
            return 0;
        }
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime and stime: fields 14 and 15
    }
}

// ---- the open-loop engine ---------------------------------------------------------------------------------------

/** One finished request: scheduled and done times (System.nanoTime), the status (0 for an I/O error). */
record Result(long scheduled, long done, int status, String body, Throwable error) {
}

interface Listener {
    default void sent(long scheduled) {
    }

    void done(Result r);
}

/** Sends requests at a fixed rate from one thread; responses are handled asynchronously. */
final class OpenLoop {
    private final LongFunction<HttpRequest> requests;
    private final AtomicInteger outstanding = new AtomicInteger();
    private volatile boolean stopped;
    private Thread sender;

    OpenLoop(LongFunction<HttpRequest> requests) {
        this.requests = requests;
    }

    static long nanos(double seconds) {
        return (long) (seconds * 1e9);
    }

    static void sleepUntil(long nanoTime) {
        for (long left = nanoTime - System.nanoTime(); left > 0; left = nanoTime - System.nanoTime()) {
            LockSupport.parkNanos(left);
        }
    }

    OpenLoop runFor(double rate, double seconds, List<? extends Listener> listeners) throws InterruptedException {
        long now = System.nanoTime();
        start(rate, now, now + nanos(seconds), listeners);
        join();
        return this;
    }

    /** Sends at {@code rate} per second with scheduled times in [from, to); returns at once. */
    void start(double rate, long from, long to, List<? extends Listener> listeners) {
        sender = new Thread(() -> {
            for (long i = 0; !stopped; i++) {
                long scheduled = from + (long) (i * 1e9 / rate);
                if (scheduled - to >= 0) {
                    break;
                }
                sleepUntil(scheduled);
                send(scheduled, listeners);
            }
        }, "open-loop-sender");
        sender.setDaemon(true);
        sender.start();
    }

    private void send(long scheduled, List<? extends Listener> listeners) {
        outstanding.incrementAndGet();
        listeners.forEach(l -> l.sent(scheduled));
        Http.CLIENT.sendAsync(requests.apply(scheduled), HttpResponse.BodyHandlers.ofString()).whenComplete((r, e) -> {
            Result result = new Result(scheduled, System.nanoTime(), r == null ? 0 : r.statusCode(),
                    r == null ? null : r.body(), e);
            try {
                listeners.forEach(l -> l.done(result));
            } finally {
                outstanding.decrementAndGet();
            }
        });
    }

    void join() throws InterruptedException {
        sender.join();
    }

    void stop() throws InterruptedException {
        stopped = true;
        join();
    }

    /** Waits for every response; false if some are still out after the timeout. */
    boolean awaitIdle(int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (outstanding.get() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        return outstanding.get() == 0;
    }
}

/** Counts and latencies of the requests scheduled within [from, to). */
final class Stats implements Listener {
    volatile long from;
    volatile long to;
    final LongAdder sent = new LongAdder();
    final LongAdder ok = new LongAdder();
    final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    private final AtomicLong lastDone = new AtomicLong(Long.MIN_VALUE);
    private long[] latencies = new long[4096];
    private int n;

    Stats(long from, long to) {
        this.from = from;
        this.to = to;
    }

    private boolean in(long scheduled) {
        return scheduled - from >= 0 && scheduled - to < 0;
    }

    @Override
    public void sent(long scheduled) {
        if (in(scheduled)) {
            sent.increment();
        }
    }

    @Override
    public void done(Result r) {
        if (!in(r.scheduled())) {
            return;
        }
        if (r.status() == 200) {
            ok.increment();
        } else {
            String key = r.status() == 0 ? r.error().getClass().getSimpleName() : Integer.toString(r.status());
            errors.computeIfAbsent(key, k -> new LongAdder()).increment();
        }
        lastDone.accumulateAndGet(r.done(), Math::max);
        synchronized (this) {
            if (n == latencies.length) {
                latencies = Arrays.copyOf(latencies, n * 2);
            }
            latencies[n++] = r.done() - r.scheduled();
        }
    }

    String errorText() {
        if (errors.isEmpty()) {
            return "0";
        }
        Map<String, Long> m = new TreeMap<>();
        errors.forEach((k, v) -> m.put(k, v.sum()));
        return m.toString().replaceAll("[{}]", "").replace('=', ':');
    }

    private synchronized long[] sorted() {
        long[] s = Arrays.copyOf(latencies, n);
        Arrays.sort(s);
        return s;
    }

    static long pct(long[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        int rank = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    String pct(double q) {
        return LoadGenerator.ms(pct(sorted(), q));
    }

    String max() {
        long[] s = sorted();
        return s.length == 0 ? "-" : LoadGenerator.ms(s[s.length - 1]);
    }

    /** Successful responses per second, from the window's start to the last response. */
    double throughput() {
        long end = Math.max(to, lastDone.get());
        return ok.sum() / ((end - from) / 1e9);
    }
}

// ---- small helpers ----------------------------------------------------------------------------------------------

final class Http {
    static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    static HttpRequest post(String url, String json) {
        return HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build();
    }

    static String get(String url) throws IOException, InterruptedException {
        HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("GET " + url + ": " + r.statusCode() + " " + r.body());
        }
        return r.body();
    }

    static int status(String url) throws IOException, InterruptedException {
        return CLIENT.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    static String put(String url, String json) throws IOException, InterruptedException {
        HttpResponse<String> r = CLIENT.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) {
            throw new IOException("PUT " + url + ": " + r.statusCode() + " " + r.body());
        }
        return r.body();
    }
}

/** Values from the Prometheus text format. */
final class Prom {
    static double value(String text, String name, String labelPart) {
        for (String line : text.split("\n")) {
            if (line.startsWith(name + " ") || (line.startsWith(name + "{") && line.contains(labelPart))) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return Double.NaN;
    }

    static double sum(String text, String name, String labelPart) {
        double s = 0;
        for (String line : text.split("\n")) {
            if (line.startsWith(name + "{") && line.contains(labelPart)) {
                s += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return s;
    }
}

/** A minimal JSON reader: objects as maps, arrays as lists, numbers as doubles. */
final class Json {
    private final String s;
    private int i;

    private Json(String s) {
        this.s = s;
    }

    static Object parse(String text) {
        Json j = new Json(text);
        Object v = j.value();
        j.ws();
        if (j.i != text.length()) {
            throw j.error("trailing text");
        }
        return v;
    }

    /** The modelhosts of GET /api/v1/modelhosts. */
    static List<?> hosts(String base) throws Exception {
        Object o = parse(Http.get(base + "/api/v1/modelhosts"));
        return (List<?>) (o instanceof Map<?, ?> m ? m.get("modelhosts") : o);
    }

    static long num(Object o) {
        return o == null ? 0 : ((Number) o).longValue();
    }

    private Object value() {
        ws();
        char c = s.charAt(i);
        switch (c) {
            case '{' -> {
                i++;
                Map<String, Object> m = new LinkedHashMap<>();
                ws();
                if (s.charAt(i) == '}') {
                    i++;
                    return m;
                }
                while (true) {
                    ws();
                    String k = string();
                    ws();
                    expect(':');
                    m.put(k, value());
                    ws();
                    if (s.charAt(i) == ',') {
                        i++;
                    } else {
                        expect('}');
                        return m;
                    }
                }
            }
            case '[' -> {
                i++;
                List<Object> l = new ArrayList<>();
                ws();
                if (s.charAt(i) == ']') {
                    i++;
                    return l;
                }
                while (true) {
                    l.add(value());
                    ws();
                    if (s.charAt(i) == ',') {
                        i++;
                    } else {
                        expect(']');
                        return l;
                    }
                }
            }
            case '"' -> {
                return string();
            }
            default -> {
                if (s.startsWith("true", i)) {
                    i += 4;
                    return Boolean.TRUE;
                }
                if (s.startsWith("false", i)) {
                    i += 5;
                    return Boolean.FALSE;
                }
                if (s.startsWith("null", i)) {
                    i += 4;
                    return null;
                }
                int start = i;
                while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                    i++;
                }
                if (start == i) {
                    throw error("unexpected '" + c + "'");
                }
                return Double.parseDouble(s.substring(start, i));
            }
        }
    }

    private String string() {
        expect('"');
        StringBuilder b = new StringBuilder();
        while (s.charAt(i) != '"') {
            char c = s.charAt(i++);
            if (c == '\\') {
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> {
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                    }
                    default -> b.append(e);
                }
            } else {
                b.append(c);
            }
        }
        i++;
        return b.toString();
    }

    private void ws() {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
    }

    private void expect(char c) {
        if (i >= s.length() || s.charAt(i) != c) {
            throw error("expected '" + c + "'");
        }
        i++;
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException("JSON: " + what + " at " + i);
    }
}

/** {@code --key value} options. */
final class Args {
    private final Map<String, String> values = new HashMap<>();

    Args(String[] args) {
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --option value, got " + args[i]);
            }
            values.put(args[i].substring(2), args[++i]);
        }
    }

    String str(String key, String def) {
        String v = values.getOrDefault(key, def);
        if (v == null) {
            throw new IllegalArgumentException("--" + key + " is required");
        }
        return v;
    }

    int integer(String key, int def) {
        return Integer.parseInt(str(key, Integer.toString(def)));
    }

    double dbl(String key, double def) {
        return Double.parseDouble(str(key, Double.toString(def)));
    }

    List<String> list(String key, String def) {
        return Arrays.stream(str(key, def).split(",")).map(String::trim).filter(x -> !x.isEmpty()).toList();
    }

    List<Double> doubles(String key, String def) {
        return list(key, def).stream().map(Double::parseDouble).toList();
    }
}
