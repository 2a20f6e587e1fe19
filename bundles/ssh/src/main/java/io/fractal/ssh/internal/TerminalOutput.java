package io.fractal.ssh.internal;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * What a terminal's line discipline does to output ({@code ONLCR}): each {@code \n} goes out as {@code \r\n}. A
 * session with a pseudo-terminal gets the client's terminal in raw mode, so the server must do it.
 */
final class TerminalOutput extends FilterOutputStream {

    TerminalOutput(OutputStream out) {
        super(out);
    }

    @Override
    public void write(int b) throws IOException {
        if (b == '\n') {
            out.write('\r');
        }
        out.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        int start = off;
        int end = off + len;
        for (int i = off; i < end; i++) {
            if (b[i] == '\n') {
                out.write(b, start, i - start);
                out.write('\r');
                start = i; // the \n goes out with the next run
            }
        }
        out.write(b, start, end - start);
    }
}
