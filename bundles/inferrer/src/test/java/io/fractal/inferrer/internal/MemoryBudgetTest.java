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

    @Test
    void aBodyHoldsItsShareUntilItsAnswerAndNotAfterAFailure() throws Exception {
        MemoryBudget budget = new MemoryBudget(1000);
        java.util.concurrent.CompletableFuture<String> answer = new java.util.concurrent.CompletableFuture<>();
        budget.within("100", null, MemoryBudget.JSON_FACTOR, () -> new byte[100], bytes -> answer);
        assertEquals(600, budget.used());
        answer.complete("done");
        assertEquals(0, budget.used());
        // chunked: what it turned out to be
        java.util.concurrent.CompletableFuture<String> chunked = new java.util.concurrent.CompletableFuture<>();
        budget.within(null, null, MemoryBudget.BINARY_FACTOR, () -> new byte[50], bytes -> chunked);
        assertEquals(150, budget.used());
        chunked.complete("done");
        assertThrows(java.io.IOException.class, () -> budget.within("100", null, MemoryBudget.JSON_FACTOR, () -> {
            throw new java.io.IOException("client went away");
        }, bytes -> answer));
        assertEquals(0, budget.used());
    }
}
