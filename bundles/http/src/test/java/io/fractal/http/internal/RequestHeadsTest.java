package io.fractal.http.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The request head check on complete heads, and on every prefix of them (what arrives a byte at a time). */
class RequestHeadsTest {

    private static RequestHeads.Problem check(byte[] b) {
        return RequestHeads.check(i -> b[i], 0, b.length);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** A well-formed head passes, complete and at every prefix. */
    private static void ok(String head) {
        byte[] b = bytes(head);
        for (int n = 0; n <= b.length; n++) {
            byte[] prefix = java.util.Arrays.copyOf(b, n);
            assertNull(check(prefix), () -> "prefix " + prefix.length + " of " + head.replace("\r\n", "|"));
        }
    }

    /** A malformed head is refused once complete, and no prefix of it is refused for a different reason. */
    private static RequestHeads.Problem bad(String head, int status, String words) {
        RequestHeads.Problem p = check(bytes(head));
        assertNotNull(p, () -> head.replace("\r\n", "|") + " passed");
        assertEquals(status, p.status(), p::message);
        assertTrue(p.message().contains(words), () -> p.message() + " should say " + words);
        return p;
    }

    @Test
    void wellFormedHeadsPass() {
        ok("GET / HTTP/1.1\r\nHost: localhost:8001\r\n\r\n");
        ok("POST /v2/models/iris/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: 10\r\nX-Empty:\r\nX-Tab:\ta\tb\r\n\r\n");
        ok("GET /api/v1/models/iris:2?file_name=a%20b.pt&x=%00;=!$&'()*+,:@/? HTTP/1.0\r\n\r\n");
        ok("GET /api/v1/models/caf%C3%A9 HTTP/1.1\nHost: [::1]:80\n\n");
        ok("GET http://localhost:8001/help HTTP/1.1\r\nHost: localhost\r\n\r\n");
        ok("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
        ok("BREW /pot HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nHTTP2-Settings: AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA\r\n"
                + "X-Obs-Text: caf\u00e9\r\n\r\n");
        ok("GET /a/.b/..c/...?q=../.. HTTP/1.1\r\nHost: x\r\n\r\n");
        ok("POST / HTTP/1.1\r\nHost: x\r\nExpect:  100-Continue \r\nContent-Length: 1\r\n\r\n");
        ok("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  Chunked\r\n\r\n");
        ok("TRACE / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    }

    @Test
    void malformedRequestLines() {
        bad("GARBAGE\r\n\r\n", 400, "no request target");
        bad("GET\r\n\r\n", 400, "no request target");
        bad("GET /\r\n\r\n", 400, "no HTTP version");
        bad("GET  / HTTP/1.1\r\n\r\n", 400, "one space");
        bad("GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400, "not an HTTP version");
        bad("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400, "not an HTTP version");
        bad("GET / FOO/1.1\r\nHost: x\r\n\r\n", 400, "not an HTTP version");
        bad("GET / HTTP/1\r\nHost: x\r\n\r\n", 400, "not an HTTP version");
        bad("G\u0000T / HTTP/1.1\r\n\r\n", 400, "method");
        bad("GE(T / HTTP/1.1\r\n\r\n", 400, "method");
        bad(" GET / HTTP/1.1\r\n\r\n", 400, "starts with a space");
        bad("\u0016\u0003\u0001\u0000", 400, "TLS");
        bad("GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505, "HTTP/9.9");
        bad("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0");
        bad("GET / HTTP/0.9\r\n\r\n", 505, "HTTP/0.9");
        bad("CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n", 405, "not a proxy");
        bad("CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", 405, "not a proxy");
        bad("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 405, "HTTP/2");
        bad("GET " + "M".repeat(70) + " / HTTP/1.1\r\n\r\n", 400, "must start with '/'");
        bad("M".repeat(70) + " / HTTP/1.1\r\n\r\n", 400, "longer than 64");
    }

    @Test
    void malformedTargets() {
        bad("GET /\u0000 HTTP/1.1\r\n\r\n", 400, "0x00");
        bad("GET /a\rb HTTP/1.1\r\n\r\n", 400, "0x0D");
        bad("GET /\u00ff\u00fe HTTP/1.1\r\n\r\n", 400, "0xFF");
        bad("GET /${jndi:ldap://x/a} HTTP/1.1\r\n\r\n", 400, "'{'");
        bad("GET /a\\b HTTP/1.1\r\n\r\n", 400, "'\\'");
        bad("GET /a#b HTTP/1.1\r\n\r\n", 400, "fragment");
        bad("GET /% HTTP/1.1\r\n\r\n", 400, "incomplete percent-escape");
        bad("GET /%4 HTTP/1.1\r\n\r\n", 400, "incomplete percent-escape");
        bad("GET /%zz HTTP/1.1\r\n\r\n", 400, "'%zz'");
        bad("GET /?x=% HTTP/1.1\r\n\r\n", 400, "incomplete percent-escape");
        bad("GET /%00 HTTP/1.1\r\n\r\n", 400, "control character (0x00)");
        bad("GET /a%0Ab HTTP/1.1\r\n\r\n", 400, "control character (0x0A)");
        bad("GET /%ff HTTP/1.1\r\n\r\n", 400, "not UTF-8");
        bad("GET /%e2%82 HTTP/1.1\r\n\r\n", 400, "not UTF-8");
        bad("GET /%e2%82/x HTTP/1.1\r\n\r\n", 400, "not UTF-8");
        bad("GET /%c0%ae%c0%ae/ HTTP/1.1\r\n\r\n", 400, "not UTF-8");
        bad("GET /%ed%a0%80 HTTP/1.1\r\n\r\n", 400, "not UTF-8");
        bad("GET /../etc/passwd HTTP/1.1\r\n\r\n", 400, "'..'");
        bad("GET /api/v1/models/%2e%2e HTTP/1.1\r\n\r\n", 400, "'..'");
        bad("GET /api/v1/models/%2E%2e/x HTTP/1.1\r\n\r\n", 400, "'..'");
        bad("GET /api/./v1 HTTP/1.1\r\n\r\n", 400, "'.'");
        bad("GET /api/v1/models/. HTTP/1.1\r\n\r\n", 400, "'.'");
        bad("GET /api/v1/models/..?x HTTP/1.1\r\n\r\n", 400, "'..'");
        bad("GET api/v1 HTTP/1.1\r\n\r\n", 400, "must start with '/'");
        bad("GET http:// HTTP/1.1\r\n\r\n", 400, "no host");
        bad("GET http://a b/ HTTP/1.1\r\n\r\n", 400, "not an HTTP version");
        bad("GET http://a{b/ HTTP/1.1\r\n\r\n", 400, "not allowed in a host name");
        bad("GET http://a?x HTTP/1.1\r\n\r\n", 400, "path after its host");
        bad("GET *x HTTP/1.1\r\n\r\n", 400, "'*'");
        bad("DELETE /api/v1/models/iris;x HTTP/1.1\r\n\r\n", 400, "';'");
    }

    @Test
    void malformedHeaders() {
        bad("GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, "not allowed in a header name");
        bad("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400, "has no ':'");
        bad("GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", 400, "no name");
        bad("GET / HTTP/1.1\r\nHost: x\r\nX\u0000: v\r\n\r\n", 400, "0x00");
        bad("GET / HTTP/1.1\r\nHost: x\r\nX: \u0000\u0001\r\n\r\n", 400, "control character (0x00)");
        bad("GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400, "control character (0x0D)");
        bad("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n", 400, "folded");
        bad("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n", 400, "host name");
        bad("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "host name");
        bad("GET / HTTP/1.1\r\nHost: \u00ff\r\n\r\n", 400, "host name");
        bad("GET / HTTP/1.1\r\nHost: x:99999\r\n\r\n", 400, "port");
        bad("GET / HTTP/1.1\r\nHost: x:abc\r\n\r\n", 400, "port");
        bad("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "']'");
        bad("GET / HTTP/1.1\r\nHost: x%zz\r\n\r\n", 400, "percent-escape");
        bad("GET / HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n", 400, "more than one Host");
        bad("GET / HTTP/1.1\r\nHost: x\r\nExpect: garbage\r\n\r\n", 417, "100-continue");
        bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "non-negative number");
        bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "non-negative number");
        bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, "non-negative");
        bad("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400, "more than one");
        bad("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "only be chunked");
        bad("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400, "only be chunked");
        bad("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, "both");
        bad("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n", 400,
                "more than one Transfer-Encoding");
        bad("TRACE / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 400, "TRACE");
        bad("GET / HTTP/1.1\r\nHost: x\r\nexpect: 100-continue, x\r\n\r\n", 417, "100-continue");
    }

    /** A refused head is refused as soon as its bad part has arrived, before the rest of the head. */
    @Test
    void refusesEarly() {
        assertNotNull(check(bytes("\u0016\u0003")));
        assertNotNull(check(bytes("GET /\u0000")));
        assertNotNull(check(bytes("GET / HTTP/1.1\r\nX\u0001")));
        assertNull(check(bytes("GET /%2")));
        assertNull(check(bytes("GET / HTTP/1.1\r\nHost: x\r\nX-Partial: abc")));
    }

    /** HTTP/1.2 to 1.9 are served as HTTP/1.1 (RFC 9112 2.3): where the minor digit is, to rewrite it. */
    @Test
    void laterMinorVersionsAreFound() {
        byte[] b = bytes("GET / HTTP/1.2\r\nHost: x\r\n\r\n");
        assertNull(check(b));
        assertEquals(13, RequestHeads.laterMinorVersion(i -> b[i], 0, b.length));
        byte[] lf = bytes("GET /a HTTP/1.9\n\n");
        assertEquals(14, RequestHeads.laterMinorVersion(i -> lf[i], 0, lf.length));
        for (String s : new String[] {"GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.0\r\n", "GET / HTTP/1.2", "GET /1.2\r\n"}) {
            byte[] o = bytes(s);
            assertEquals(-1, RequestHeads.laterMinorVersion(i -> o[i], 0, o.length), s);
        }
    }

    /** The body after the head is not looked at. */
    @Test
    void ignoresTheBody() {
        assertNull(check(bytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n\u0000\u0001{}")));
    }
}
