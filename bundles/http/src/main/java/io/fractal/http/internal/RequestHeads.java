package io.fractal.http.internal;

import java.nio.charset.StandardCharsets;

/**
 * Checks the head of an HTTP/1.x request (request line and header fields) before Grizzly parses it, so that what it
 * would answer with an empty 500 or 505, pass on to an application that fails on it, or wait for until a timeout
 * (a request line without spaces) is answered at once with a 400 that names the problem. HTTP/1.2 to 1.9 are
 * served as HTTP/1.1, as RFC 9112 asks; other versions are answered 505. Works on what has arrived
 * so far: an incomplete head is judged on its complete lines and on the start of its last one.
 *
 * <p>What it refuses: a method that is not a token; a request target with a character RFC 3986 does not allow
 * (space, control characters, bytes over 0x7F, {@code "<>\^`{|}#}), a malformed percent-escape, or a path that,
 * decoded, holds a control character, is not UTF-8, or has a {@code .} or {@code ..} segment; a version that is not
 * {@code HTTP/d.d} (505 when it is, but not HTTP/1.x); CONNECT and PRI (405: no proxy, no HTTP/2); header lines without a name and a colon, names that are not
 * tokens, values with control characters, obsolete line folding; a Host that is not a host and port, or more than
 * one Host; an Expect other than 100-continue (417); a Content-Length that is not one number, a Transfer-Encoding
 * other than chunked, both at once, and a body on TRACE.
 */
final class RequestHeads {

    /** Why a head is refused: the status to answer and what to say. */
    record Problem(int status, String message) {
    }

    /** Random access to the bytes that have arrived. */
    @FunctionalInterface
    interface Bytes {
        byte at(int index);
    }

    private static final boolean[] TCHAR = new boolean[128];
    /** Characters a request target may hold as they are (besides '%', which starts an escape). */
    private static final boolean[] TARGET = new boolean[128];
    /** Characters of a host name or IPv4 address (RFC 3986 reg-name, besides '%'). */
    private static final boolean[] REG_NAME = new boolean[128];

    static {
        for (char c = '0'; c <= '9'; c++) {
            TCHAR[c] = TARGET[c] = REG_NAME[c] = true;
        }
        for (char c = 'a'; c <= 'z'; c++) {
            TCHAR[c] = TARGET[c] = REG_NAME[c] = true;
            TCHAR[Character.toUpperCase(c)] = TARGET[Character.toUpperCase(c)] = true;
            REG_NAME[Character.toUpperCase(c)] = true;
        }
        for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
            TCHAR[c] = true;
        }
        for (char c : "-._~!$&'()*+,;=:@/?".toCharArray()) {
            TARGET[c] = true;
        }
        for (char c : "-._~!$&'()*+,;=".toCharArray()) {
            REG_NAME[c] = true;
        }
    }

    private RequestHeads() {
    }

    /**
     * Checks the bytes {@code from} (the first byte of the request) to {@code to} (exclusive; what has arrived).
     *
     * @return null when they are well formed so far (complete or not), else the problem
     */
    static Problem check(Bytes b, int from, int to) {
        int lineEnd = lineEnd(b, from, to);
        Problem p = requestLine(b, from, lineEnd < 0 ? partialEnd(b, from, to) : lineEnd, lineEnd >= 0);
        if (p != null || lineEnd < 0) {
            return p;
        }
        int hosts = 0;
        int lengths = 0;
        long length = 0;
        int encodings = 0;
        int i = next(b, lineEnd, to);
        while (i < to) {
            int end = lineEnd(b, i, to);
            boolean complete = end >= 0;
            int e = complete ? end : partialEnd(b, i, to);
            if (complete && e == i) {
                // the empty line: the head is complete
                return framing(b, from, lengths, length, encodings);
            }
            if (complete && isNamed(b, i, e, "content-length:")) {
                lengths++;
                length = number(b, i + 15, e);
                if (length < 0) {
                    return bad("the Content-Length header must be a non-negative number of bytes");
                }
            }
            if (complete && isNamed(b, i, e, "transfer-encoding:")) {
                encodings++;
                if (!valueIs(b, i + 18, e, "chunked")) {
                    return bad("the Transfer-Encoding header can only be chunked");
                }
            }
            p = headerLine(b, i, e, complete);
            if (p != null) {
                return p;
            }
            if (complete && isNamed(b, i, e, "expect:")) {
                p = expect(b, i + 7, e);
                if (p != null) {
                    return p;
                }
            }
            if (complete && isHost(b, i, e)) {
                if (++hosts > 1) {
                    return bad("more than one Host header");
                }
                p = host(b, i + 5, e);
                if (p != null) {
                    return p;
                }
            }
            if (!complete) {
                return null;
            }
            i = next(b, end, to);
        }
        return null;
    }

    /** The end of the line starting at {@code i} (before its CR LF or LF), or -1 if no LF has arrived yet. */
    private static int lineEnd(Bytes b, int i, int to) {
        for (int j = i; j < to; j++) {
            if (b.at(j) == '\n') {
                return j > i && b.at(j - 1) == '\r' ? j - 1 : j;
            }
        }
        return -1;
    }

    /** The end of an incomplete line: a CR at its end may be the start of its CR LF. */
    private static int partialEnd(Bytes b, int from, int to) {
        return to > from && b.at(to - 1) == '\r' ? to - 1 : to;
    }

    /** The start of the line after the one ending at {@code end}. */
    private static int next(Bytes b, int end, int to) {
        return end < to && b.at(end) == '\r' ? end + 2 : end + 1;
    }

    // ---- the request line --------------------------------------------------------------------------------------

    private static Problem requestLine(Bytes b, int from, int to, boolean complete) {
        int i = from;
        while (i < to && b.at(i) != ' ') {
            int c = b.at(i) & 0xff;
            if (c >= 128 || !TCHAR[c]) {
                if (i == from && c == 0x16) {
                    return bad("this port speaks plain HTTP, not TLS");
                }
                return bad("the request line must be 'METHOD /path HTTP/1.1'; its method has a character (" + show(c)
                        + ") that is not allowed");
            }
            if (i - from >= 64) {
                return bad("the request's method is longer than 64 characters");
            }
            i++;
        }
        if (i == to) {
            return complete ? bad("the request line must be 'METHOD /path HTTP/1.1'" + (i == from ? "; it is empty"
                    : ": it has no request target")) : null;
        }
        if (i == from) {
            return bad("the request line must be 'METHOD /path HTTP/1.1'; it starts with a space");
        }
        if (i < to && (is(b, from, i, "CONNECT") || is(b, from, i, "PRI"))) {
            // Grizzly would wait for a tunnel or an HTTP/2 connection preface, and answer nothing
            return new Problem(405, (is(b, from, i, "PRI") ? "HTTP/2 is not supported; send HTTP/1.1"
                    : "this server is not a proxy: CONNECT is not supported"));
        }
        int targetStart = ++i;
        while (i < to && b.at(i) != ' ') {
            i++;
        }
        if (i == targetStart && (i < to || complete)) {
            return bad("the request line must be 'METHOD /path HTTP/1.1', with one space between its parts");
        }
        Problem p = target(b, targetStart, i, i < to || complete);
        if (p != null || i == to) {
            return p != null ? p : complete ? bad("the request line must be 'METHOD /path HTTP/1.1': it has no "
                    + "HTTP version") : null;
        }
        return version(b, i + 1, to, complete);
    }

    private static Problem version(Bytes b, int from, int to, boolean complete) {
        byte[] pattern = "HTTP/0.0".getBytes(StandardCharsets.US_ASCII);
        int n = to - from;
        for (int k = 0; k < Math.min(n, pattern.length + 1); k++) {
            int c = b.at(from + k) & 0xff;
            boolean ok = k < pattern.length && (pattern[k] == '0' ? c >= '0' && c <= '9' : c == pattern[k]);
            if (!ok) {
                return bad("the request line must be 'METHOD /path HTTP/1.1'; it ends with '"
                        + printable(b, from, to) + "', not an HTTP version");
            }
        }
        if (n < pattern.length) {
            return complete ? bad("the request line must be 'METHOD /path HTTP/1.1'; it ends with '"
                    + printable(b, from, to) + "', not an HTTP version") : null;
        }
        int major = b.at(from + 5) - '0';
        if (major != 1) {
            int minor = b.at(from + 7) - '0';
            return new Problem(505, "HTTP/" + major + "." + minor + " is not supported; send HTTP/1.1");
        }
        return null;
    }

    /** The request target: origin-form ({@code /path?query}), asterisk-form, or absolute-form. */
    private static Problem target(Bytes b, int from, int to, boolean complete) {
        if (to > from && b.at(from) == '*') {
            return to - from == 1 ? null : bad("the request target '*' cannot be followed by anything");
        }
        int i = from;
        if (to > from && b.at(from) != '/') {
            // absolute-form: http://host[:port][/path]
            int scheme = schemeEnd(b, from, to);
            if (scheme < 0) {
                return complete || !isPrefixOfScheme(b, from, to)
                        ? bad("the request target must start with '/' (or be an absolute http URL)") : null;
            }
            int authorityEnd = scheme;
            while (authorityEnd < to && b.at(authorityEnd) != '/' && b.at(authorityEnd) != '?') {
                authorityEnd++;
            }
            if (authorityEnd == scheme && (authorityEnd < to || complete)) {
                return bad("the absolute URL in the request line has no host");
            }
            Problem p = hostAndPort(b, scheme, authorityEnd, authorityEnd < to || complete, "the request target's");
            if (p != null || authorityEnd == to) {
                return p;
            }
            if (b.at(authorityEnd) != '/') {
                return bad("the absolute URL in the request line must have a path after its host");
            }
            i = authorityEnd;
        }
        return pathAndQuery(b, i, to, complete);
    }

    private static Problem pathAndQuery(Bytes b, int from, int to, boolean complete) {
        Utf8 utf8 = new Utf8();
        boolean query = false;
        int segmentStart = from;
        int dots = 0;
        boolean onlyDots = true;
        for (int i = from; i < to; i++) {
            int c = b.at(i) & 0xff;
            int decoded = c;
            if (c == '%') {
                if (i + 2 >= to) {
                    if (complete || i + 2 < to) {
                        return bad("the request target ends with an incomplete percent-escape");
                    }
                    return null;
                }
                int h = hex(b.at(i + 1));
                int l = hex(b.at(i + 2));
                if (h < 0 || l < 0) {
                    return bad("the request target has a malformed percent-escape '%" + printable(b, i + 1, i + 3)
                            + "': '%' must be followed by two hex digits");
                }
                decoded = h << 4 | l;
                i += 2;
            } else if (c >= 128 || !TARGET[c]) {
                if (c == '#') {
                    return bad("the request target must not hold a fragment ('#')");
                }
                return bad("the request target has a character (" + show(c) + ") that is not allowed; "
                        + "percent-encode it (as UTF-8)");
            }
            if (query) {
                continue;
            }
            if (c == '?' || c == '/') {
                // '/' and '?' as they are (not escaped) end a path segment
                if (onlyDots && (dots == 1 || dots == 2) && i > segmentStart) {
                    return bad("the request path must not hold '.' or '..' segments");
                }
                if (!utf8.complete()) {
                    return bad("the request path is not UTF-8 once percent-decoded");
                }
                query = c == '?';
                segmentStart = i + 1;
                dots = 0;
                onlyDots = true;
                continue;
            }
            if (decoded < 0x20 || decoded == 0x7f) {
                return bad("the request path holds a control character (" + show(decoded) + ") once "
                        + "percent-decoded");
            }
            if (!utf8.accept(decoded)) {
                return bad("the request path is not UTF-8 once percent-decoded");
            }
            if (c == ';') {
                // matrix parameters: JAX-RS drops them from path parameters, so /models/iris;x would act on iris
                return bad("the request path must not hold ';' (no call takes matrix parameters)");
            }
            if (decoded == '.') {
                dots++;
            } else {
                onlyDots = false;
            }
        }
        if (complete && !query) {
            if (onlyDots && (dots == 1 || dots == 2)) {
                return bad("the request path must not hold '.' or '..' segments");
            }
            if (!utf8.complete()) {
                return bad("the request path is not UTF-8 once percent-decoded");
            }
        }
        return null;
    }

    /** After "http://" or "https://" (any case): the index after it, else -1. */
    private static int schemeEnd(Bytes b, int from, int to) {
        for (String scheme : new String[] {"http://", "https://"}) {
            if (to - from >= scheme.length() && matchesIgnoreCase(b, from, scheme)) {
                return from + scheme.length();
            }
        }
        return -1;
    }

    private static boolean isPrefixOfScheme(Bytes b, int from, int to) {
        return isPrefixOf(b, from, to, "http://") || isPrefixOf(b, from, to, "https://");
    }

    private static boolean isPrefixOf(Bytes b, int from, int to, String s) {
        if (to - from > s.length()) {
            return false;
        }
        for (int k = 0; k < to - from; k++) {
            if (Character.toLowerCase((char) (b.at(from + k) & 0xff)) != s.charAt(k)) {
                return false;
            }
        }
        return true;
    }

    private static boolean is(Bytes b, int from, int to, String s) {
        if (to - from != s.length()) {
            return false;
        }
        for (int k = 0; k < s.length(); k++) {
            if (b.at(from + k) != s.charAt(k)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Where the minor version digit of a complete, well-formed request line is when it is HTTP/1.2 to HTTP/1.9
     * (RFC 9112 2.3: a higher minor version is served as the highest one the server has, 1.1), else -1.
     */
    static int laterMinorVersion(Bytes b, int from, int to) {
        int lineEnd = lineEnd(b, from, to);
        if (lineEnd < 0 || lineEnd - from < 10) {
            return -1;
        }
        int minor = lineEnd - 1;
        return b.at(minor) > '1' && b.at(minor) <= '9' && is(b, minor - 8, minor, " HTTP/1.") ? minor : -1;
    }

    private static boolean matchesIgnoreCase(Bytes b, int from, String s) {
        for (int k = 0; k < s.length(); k++) {
            if (Character.toLowerCase((char) (b.at(from + k) & 0xff)) != s.charAt(k)) {
                return false;
            }
        }
        return true;
    }

    // ---- header fields -----------------------------------------------------------------------------------------

    private static Problem headerLine(Bytes b, int from, int to, boolean complete) {
        int c0 = b.at(from) & 0xff;
        if (c0 == ' ' || c0 == '\t') {
            return bad("header lines must not be folded (a line starting with a space or tab)");
        }
        int i = from;
        while (i < to && b.at(i) != ':') {
            int c = b.at(i) & 0xff;
            if (c >= 128 || !TCHAR[c]) {
                return bad("header name '" + printable(b, from, i) + "' is followed by a character (" + show(c)
                        + ") that is not allowed in a header name; each header line is 'Name: value'");
            }
            if (i - from >= 256) {
                return bad("a header name is longer than 256 characters");
            }
            i++;
        }
        if (i == to) {
            return complete ? bad("header line '" + printable(b, from, to) + "' has no ':'") : null;
        }
        if (i == from) {
            return bad("a header line has no name before its ':'");
        }
        for (int j = i + 1; j < to; j++) {
            int c = b.at(j) & 0xff;
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return bad("header '" + printable(b, from, i) + "' has a control character (" + show(c)
                        + ") in its value");
            }
        }
        return null;
    }

    private static boolean isHost(Bytes b, int from, int to) {
        return isNamed(b, from, to, "host:");
    }

    private static boolean isNamed(Bytes b, int from, int to, String nameAndColon) {
        return to - from >= nameAndColon.length() && matchesIgnoreCase(b, from, nameAndColon);
    }

    /**
     * How the body is delimited, once the whole head is known: one Content-Length or chunked, not both (a request
     * smuggling vector), and no body on TRACE (Grizzly would read one as the next request).
     */
    private static Problem framing(Bytes b, int from, int lengths, long length, int encodings) {
        if (lengths > 1) {
            return bad("the request has more than one Content-Length header");
        }
        if (encodings > 1) {
            return bad("the request has more than one Transfer-Encoding header");
        }
        if (lengths > 0 && encodings > 0) {
            return bad("the request has both Content-Length and Transfer-Encoding; send one");
        }
        if ((encodings > 0 || length > 0) && is(b, from, from + 6, "TRACE ")) {
            return bad("TRACE requests take no body");
        }
        return null;
    }

    /** Where a header value (after the colon) starts: past its leading spaces and tabs. */
    private static int valueStart(Bytes b, int from, int to) {
        int s = from;
        while (s < to && (b.at(s) == ' ' || b.at(s) == '\t')) {
            s++;
        }
        return s;
    }

    /** Where a header value that starts at {@code from} ends: before its trailing spaces and tabs. */
    private static int valueEnd(Bytes b, int from, int to) {
        int e = to;
        while (e > from && (b.at(e - 1) == ' ' || b.at(e - 1) == '\t')) {
            e--;
        }
        return e;
    }

    /** A header value (after the colon) as a decimal number of at most 18 digits, else -1. */
    private static long number(Bytes b, int from, int to) {
        int s = valueStart(b, from, to);
        int e = valueEnd(b, s, to);
        if (e == s || e - s > 18) {
            return -1;
        }
        long n = 0;
        for (int k = s; k < e; k++) {
            int c = b.at(k);
            if (c < '0' || c > '9') {
                return -1;
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }

    /** Whether a header value (after the colon), without surrounding whitespace, is {@code value} in any case. */
    private static boolean valueIs(Bytes b, int from, int to, String value) {
        int s = valueStart(b, from, to);
        int e = valueEnd(b, s, to);
        return e - s == value.length() && matchesIgnoreCase(b, s, value);
    }

    /** Expect: the one expectation a server can meet is 100-continue (RFC 9110 10.1.1); others are a 417. */
    private static Problem expect(Bytes b, int from, int to) {
        return valueIs(b, from, to, "100-continue") ? null
                : new Problem(417, "the Expect header can only be 100-continue");
    }

    /** The value of a Host header, from just after its colon: optional whitespace, host[:port], whitespace. */
    private static Problem host(Bytes b, int from, int to) {
        int s = valueStart(b, from, to);
        int e = valueEnd(b, s, to);
        return s == e ? null : hostAndPort(b, s, e, true, "the Host header's");
    }

    private static Problem hostAndPort(Bytes b, int from, int to, boolean complete, String what) {
        if (from == to) {
            return null;
        }
        int i = from;
        if (b.at(i) == '[') {
            i++;
            while (i < to && b.at(i) != ']') {
                int c = b.at(i) & 0xff;
                if (!(hex((byte) c) >= 0 || c == ':' || c == '.')) {
                    return bad(what + " IPv6 address has a character (" + show(c) + ") that is not allowed");
                }
                i++;
            }
            if (i == to) {
                return complete ? bad(what + " IPv6 address has no closing ']'") : null;
            }
            i++;
        } else {
            while (i < to && b.at(i) != ':') {
                int c = b.at(i) & 0xff;
                if (c == '%') {
                    if (i + 2 >= to && !complete) {
                        return null;
                    }
                    if (i + 2 >= to || hex(b.at(i + 1)) < 0 || hex(b.at(i + 2)) < 0) {
                        return bad(what + " host has a malformed percent-escape");
                    }
                    i += 3;
                    continue;
                }
                if (c >= 128 || !REG_NAME[c]) {
                    return bad(what + " host has a character (" + show(c) + ") that is not allowed in a host name");
                }
                i++;
            }
        }
        if (i == to) {
            return null;
        }
        if (b.at(i) != ':') {
            return bad(what + " host is followed by '" + show(b.at(i) & 0xff) + "'; expected ':' and a port");
        }
        long port = 0;
        for (int j = i + 1; j < to; j++) {
            int c = b.at(j);
            if (c < '0' || c > '9' || j - i > 5) {
                return bad(what + " port must be a number from 0 to 65535");
            }
            port = port * 10 + (c - '0');
        }
        return port > 65535 ? bad(what + " port must be a number from 0 to 65535") : null;
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private static Problem bad(String message) {
        return new Problem(400, message);
    }

    private static int hex(byte c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    /** A byte as the message shows it: the character when printable ASCII, else its code. */
    private static String show(int c) {
        return c > 0x20 && c < 0x7f ? "'" + (char) c + "'" : String.format("0x%02X", c);
    }

    /** Up to 40 bytes as printable ASCII (others as '?'), for messages. */
    private static String printable(Bytes b, int from, int to) {
        StringBuilder s = new StringBuilder();
        for (int i = from; i < Math.min(to, from + 40); i++) {
            int c = b.at(i) & 0xff;
            s.append(c >= 0x20 && c < 0x7f ? (char) c : '?');
        }
        return to - from > 40 ? s + "..." : s.toString();
    }

    /** A UTF-8 validator fed one byte at a time: rejects overlong forms, surrogates and code points over U+10FFFF. */
    private static final class Utf8 {
        private int needed;
        private int lower = 0x80;
        private int upper = 0xbf;

        boolean accept(int c) {
            if (needed == 0) {
                if (c < 0x80) {
                    return true;
                }
                if (c >= 0xc2 && c <= 0xdf) {
                    needed = 1;
                } else if (c >= 0xe0 && c <= 0xef) {
                    needed = 2;
                    lower = c == 0xe0 ? 0xa0 : 0x80;
                    upper = c == 0xed ? 0x9f : 0xbf;
                } else if (c >= 0xf0 && c <= 0xf4) {
                    needed = 3;
                    lower = c == 0xf0 ? 0x90 : 0x80;
                    upper = c == 0xf4 ? 0x8f : 0xbf;
                } else {
                    return false;
                }
                return true;
            }
            if (c < lower || c > upper) {
                return false;
            }
            lower = 0x80;
            upper = 0xbf;
            needed--;
            return true;
        }

        boolean complete() {
            return needed == 0;
        }
    }
}
