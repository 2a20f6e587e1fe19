package io.fractal.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Metric labels come from a fixed set, never straight from the request. */
class RequestMetricsTest {

    @Test
    void theMethodsHttpDefinesAreTheirOwnLabel() {
        for (String m : new String[] {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"}) {
            assertEquals(m, RequestMetrics.method(m));
        }
    }

    @Test
    void anInventedMethodIsOther() {
        assertEquals("other", RequestMetrics.method("FOO"));
        assertEquals("other", RequestMetrics.method("get"));
        assertEquals("other", RequestMetrics.method("${jndi:ldap://x}"));
        assertEquals("other", RequestMetrics.method(null));
    }
}
