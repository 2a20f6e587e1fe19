package io.fractal.ssh.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads command lines from a client terminal in raw mode (a session with a pseudo-terminal), doing what the terminal
 * no longer does: echo, erase (Backspace, Ctrl-W, Ctrl-U), Ctrl-C (drops the line), Ctrl-D (leaves, on an empty
 * line), Ctrl-L (clears the screen), and a history on the Up and Down arrows. Other keys and escape sequences are
 * ignored; there is no cursor movement within the line, and no completion.
 */
final class LineEditor {

    private static final int HISTORY = 200;
    private static final String ERASE_LINE = "\r\033[K";

    private final Reader in;
    private final OutputStream echo;
    private final List<String> history = new ArrayList<>();
    /** A CR ended the last line: an LF right after it belongs to it. */
    private boolean afterCr;

    LineEditor(InputStream in, OutputStream echo) {
        this.in = new InputStreamReader(in, StandardCharsets.UTF_8);
        this.echo = echo;
    }

    /** The next line, after showing the prompt; null at the end of input or on Ctrl-D on an empty line. */
    String readLine(String prompt) throws IOException {
        StringBuilder line = new StringBuilder();
        int browsing = history.size();
        String edited = "";
        show(prompt);
        while (true) {
            int c = in.read();
            if (c < 0) {
                return null;
            }
            boolean lf = c == '\n';
            if (lf && afterCr) {
                afterCr = false;
                continue;
            }
            afterCr = c == '\r';
            switch (c) {
                case '\r', '\n' -> {
                    show("\r\n");
                    String result = line.toString();
                    remember(result);
                    return result;
                }
                case 3 -> { // Ctrl-C
                    show("^C\r\n");
                    return "";
                }
                case 4 -> { // Ctrl-D
                    if (line.length() == 0) {
                        show("\r\n");
                        return null;
                    }
                }
                case 8, 127 -> { // Backspace
                    if (line.length() > 0) {
                        line.setLength(line.length() - Character.charCount(line.codePointBefore(line.length())));
                        show("\b \b");
                    }
                }
                case 21 -> { // Ctrl-U
                    line.setLength(0);
                    redraw(prompt, line);
                }
                case 23 -> { // Ctrl-W: the word before the cursor
                    int end = line.length();
                    while (end > 0 && line.charAt(end - 1) == ' ') {
                        end--;
                    }
                    while (end > 0 && line.charAt(end - 1) != ' ') {
                        end--;
                    }
                    line.setLength(end);
                    redraw(prompt, line);
                }
                case 12 -> { // Ctrl-L
                    show("\033[H\033[2J");
                    redraw(prompt, line);
                }
                case 27 -> { // an escape sequence: the arrows browse the history, the rest is ignored
                    int key = escapeSequence();
                    if (key == 'A' && browsing > 0) {
                        if (browsing == history.size()) {
                            edited = line.toString();
                        }
                        browsing--;
                        line.setLength(0);
                        line.append(history.get(browsing));
                        redraw(prompt, line);
                    } else if (key == 'B' && browsing < history.size()) {
                        browsing++;
                        line.setLength(0);
                        line.append(browsing == history.size() ? edited : history.get(browsing));
                        redraw(prompt, line);
                    }
                }
                default -> {
                    if (c >= ' ' || c == '\t') {
                        char typed = c == '\t' ? ' ' : (char) c;
                        line.append(typed);
                        show(String.valueOf(typed));
                    }
                }
            }
        }
    }

    /** Reads the rest of {@code ESC [ ... final} or {@code ESC O final}; its final character, or 0. */
    private int escapeSequence() throws IOException {
        int c = in.read();
        if (c != '[' && c != 'O') {
            return 0;
        }
        while (true) {
            c = in.read();
            if (c < 0) {
                return 0;
            }
            if (c >= 0x40 && c <= 0x7e) {
                return c;
            }
        }
    }

    private void remember(String line) {
        if (!line.isBlank() && (history.isEmpty() || !history.get(history.size() - 1).equals(line))) {
            history.add(line);
            if (history.size() > HISTORY) {
                history.remove(0);
            }
        }
    }

    private void redraw(String prompt, CharSequence line) throws IOException {
        show(ERASE_LINE + prompt + line);
    }

    private void show(String text) throws IOException {
        echo.write(text.getBytes(StandardCharsets.UTF_8));
        echo.flush();
    }
}
