package io.fractal.modelhost.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class GenerationTest {

    private final FakeEngine engine = new FakeEngine();

    private FakeEngine.FakeModel model() throws Exception {
        return (FakeEngine.FakeModel) engine.load(FakeEngine.Artifact.of("m", 1), 1);
    }

    @Test
    void retiringAnIdleGenerationClosesItAtOnce() throws Exception {
        FakeEngine.FakeModel model = model();
        Generation g = new Generation(model, engine);
        g.retire();
        assertTrue(g.awaitClosed(0, TimeUnit.MILLISECONDS));
        assertEquals(1, model.closes.get());
    }

    @Test
    void itClosesOnlyWhenTheLastUserReleasesAfterRetire() throws Exception {
        FakeEngine.FakeModel model = model();
        Generation g = new Generation(model, engine);
        assertTrue(g.acquire());
        assertTrue(g.acquire());
        assertEquals(2, g.users());
        g.retire();
        assertEquals(0, model.closes.get());
        assertFalse(g.awaitClosed(10, TimeUnit.MILLISECONDS));
        g.release();
        assertEquals(0, model.closes.get());
        g.release();
        assertEquals(1, model.closes.get());
        assertTrue(g.awaitClosed(0, TimeUnit.MILLISECONDS));
    }

    @Test
    void usersComingAndGoingBeforeRetireDoNotCloseIt() throws Exception {
        FakeEngine.FakeModel model = model();
        Generation g = new Generation(model, engine);
        for (int i = 0; i < 3; i++) {
            assertTrue(g.acquire());
            g.release();
        }
        assertEquals(0, model.closes.get());
        assertFalse(g.awaitClosed(0, TimeUnit.MILLISECONDS));
    }

    @Test
    void acquireFailsOnceRetiring() throws Exception {
        FakeEngine.FakeModel model = model();
        Generation g = new Generation(model, engine);
        assertTrue(g.acquire());
        g.retire();
        assertFalse(g.acquire());
        assertEquals(1, g.users());
        assertEquals(0, model.closes.get());
        g.release();
        assertEquals(1, model.closes.get());
        assertFalse(g.acquire());
        assertEquals(1, model.closes.get(), "a refused acquire closed it again");
        assertEquals(0, g.users());
    }

    @Test
    void closesOnceWhateverHappens() throws Exception {
        FakeEngine.FakeModel model = model();
        Generation g = new Generation(model, engine);
        g.retire();
        g.retire();
        assertFalse(g.acquire());
        assertEquals(1, model.closes.get());
    }

    private static final long US = 1000;

    @Test
    void callsOfOneRowOnlySayNothingOfHowRowsShareACallsCost() throws Exception {
        Generation g = new Generation(model(), engine);
        assertFalse(g.quickerThan(1000 * US, 1), "not measured yet");
        for (int i = 0; i < 20; i++) {
            g.timed(400 * US, 1, 0);
        }
        assertTrue(g.quickerThan(1000 * US, 1));
        assertTrue(g.quickerThan(1000 * US, 2));
        assertFalse(g.quickerThan(1000 * US, 3), "3 rows at 400 us each, for all it knows");
    }

    @Test
    void callsOfDifferentRowsGiveAFixedCostAndACostPerRow() throws Exception {
        Generation g = new Generation(model(), engine);
        // 400 us per call plus 10 us per row (a model whose cost is mostly fixed), calls of 1 and 8 rows
        for (int i = 0; i < 40; i++) {
            int rows = i % 2 == 0 ? 1 : 8;
            g.timed((400 + 10 * rows) * US, rows, 0);
        }
        assertTrue(g.quickerThan(1000 * US, 16), "16 rows cost about 560 us");
        assertFalse(g.quickerThan(500 * US, 16));
        assertTrue(g.quickerThan(450 * US, 1));
        assertFalse(g.quickerThan(400 * US, 1), "1 row costs about 410 us");
        assertFalse(g.quickerThan(1000 * US, 17), "beyond twice the most rows seen: 17 times a row's typical cost");
    }

    @Test
    void aModelWhoseCostGrowsWithRowsIsFittedSo() throws Exception {
        Generation g = new Generation(model(), engine);
        // 20 us per call plus 100 us per row, calls of 1 to 4 rows
        for (int i = 0; i < 40; i++) {
            int rows = 1 + i % 4;
            g.timed((20 + 100 * rows) * US, rows, 0);
        }
        assertTrue(g.quickerThan(1000 * US, 8), "8 rows cost about 820 us");
        assertFalse(g.quickerThan(1000 * US, 10), "10 rows cost about 1020 us");
    }

    @Test
    void batchedCallsOfManyRowsDoNotMakeASingleRowLookSlow() throws Exception {
        Generation g = new Generation(model(), engine);
        g.timed(60 * US, 1, 0); // warm-up: one row
        for (int i = 0; i < 20; i++) {
            g.timed((50 + 30 * 32) * US, 32, 0); // batches of 32 rows: about 1 ms each
        }
        assertTrue(g.quickerThan(1000 * US, 1), "a row costs about 80 us, whatever the batches cost");
        assertFalse(g.quickerThan(1000 * US, 32));
    }

    @Test
    void aPauseThatMakesMoreRowsLookCheaperFallsBackToTheCostPerRow() throws Exception {
        Generation g = new Generation(model(), engine);
        // 20 us per call plus 100 us per row, calls of 1 and 2 rows, one of 8 rows earlier
        g.timed(820 * US, 8, 0);
        for (int i = 0; i < 20; i++) {
            int rows = 1 + i % 2;
            g.timed((20 + 100 * rows) * US, rows, 0);
        }
        assertFalse(g.quickerThan(1000 * US, 16), "16 rows cost about 1.6 ms");
        g.timed(3000 * US, 1, 0); // one row, held up 3 ms (a collector's pause): more rows look cheaper
        for (int i = 0; i < 8; i++) {
            assertFalse(g.quickerThan(1000 * US, 16), "after the pause, call " + i);
            g.timed((20 + 100 * (1 + i % 2)) * US, 1 + i % 2, 0);
        }
    }

    @Test
    void answersOfManyElementsCountAsTheyAreWritten() throws Exception {
        Generation g = new Generation(model(), engine);
        for (int i = 0; i < 20; i++) {
            g.timed(100 * US, 1, 20_000); // 100 us, and an answer of 20,000 elements (1 ms to write)
        }
        assertFalse(g.quickerThan(1000 * US, 1));
        assertTrue(g.quickerThan(1200 * US, 1));
    }
}
