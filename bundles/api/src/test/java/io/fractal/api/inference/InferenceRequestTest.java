package io.fractal.api.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class InferenceRequestTest {

    @Test
    void theOlderConstructorsMakeARequestWithoutADeadline() {
        InferenceRequest six = new InferenceRequest("id", "m", 1, List.of(), Set.of(), 5);
        assertFalse(six.hasDeadline());
        assertEquals(InferenceRequest.NO_DEADLINE, six.deadlineNanos());
        assertEquals(Long.MAX_VALUE, six.remainingNanos());
        assertFalse(InferenceRequest.of("m", 1, List.of()).hasDeadline());
        assertFalse(new InferenceRequest("id", "m", 1, List.of(), Set.of(), 5, 0).hasDeadline(), "0 is none");
    }

    @Test
    void aDeadlineSaysTheTimeLeftAndSurvivesAnotherVersionNumber() {
        long now = System.nanoTime();
        InferenceRequest r = new InferenceRequest("id", "m", 1, List.of(), Set.of("p"), now, now + 1_000_000_000L);
        assertTrue(r.hasDeadline());
        assertTrue(r.remainingNanos() > 0 && r.remainingNanos() <= 1_000_000_000L);
        InferenceRequest other = r.withVersion(7);
        assertEquals(7, other.version());
        assertEquals(r.deadlineNanos(), other.deadlineNanos());
        assertEquals(r.createdNanos(), other.createdNanos());
        assertEquals(Set.of("p"), other.outputs());
        InferenceRequest past = new InferenceRequest(null, "m", 1, List.of(), Set.of(), now - 10, now - 5);
        assertTrue(past.remainingNanos() <= 0);
    }
}
