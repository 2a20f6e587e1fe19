package io.fractal.inferrer.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.fractal.api.inference.CapacityExceededException;
import jakarta.ws.rs.WebApplicationException;
import org.junit.jupiter.api.Test;

class MemoryBudgetTest {

    @Test
    void bodiesShareTheBudgetAndGiveItBack() {
        MemoryBudget budget = new MemoryBudget(1000);
        MemoryBudget.Lease a = budget.reserve(100, MemoryBudget.JSON_FACTOR); // 600
        assertEquals(600, budget.used());
        CapacityExceededException busy = assertThrows(CapacityExceededException.class,
                () -> budget.reserve(100, MemoryBudget.JSON_FACTOR));
        assertEquals(1, busy.retryAfterSeconds());
        MemoryBudget.Lease b = budget.reserve(100, MemoryBudget.BINARY_FACTOR); // 300 more fits
        a.close();
        a.close(); // once
        assertEquals(300, budget.used());
        b.close();
        assertEquals(0, budget.used());
    }

    @Test
    void aBodyThatCouldNeverFitIs413AndOverflowIsNoLoophole() {
        MemoryBudget budget = new MemoryBudget(1000);
        WebApplicationException e = assertThrows(WebApplicationException.class,
                () -> budget.reserve(200, MemoryBudget.JSON_FACTOR));
        assertEquals(413, e.getResponse().getStatus());
        assertThrows(WebApplicationException.class, () -> budget.reserve(Long.MAX_VALUE / 2, MemoryBudget.JSON_FACTOR));
        assertEquals(0, budget.used());
        budget.reserve(0, MemoryBudget.JSON_FACTOR).close();
    }
}
