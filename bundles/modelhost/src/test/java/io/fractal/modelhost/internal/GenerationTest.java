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
}
