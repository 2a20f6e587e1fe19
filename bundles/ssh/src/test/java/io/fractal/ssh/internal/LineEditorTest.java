package io.fractal.ssh.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** What a user types on a raw terminal, and what the editor echoes. */
class LineEditorTest {

    private final ByteArrayOutputStream echo = new ByteArrayOutputStream();

    private LineEditor typed(String keys) {
        return new LineEditor(new ByteArrayInputStream(keys.getBytes(StandardCharsets.UTF_8)), echo);
    }

    private String echoed() {
        return echo.toString(StandardCharsets.UTF_8);
    }

    @Test
    void enterEndsALineAndTheTextIsEchoed() throws Exception {
        LineEditor editor = typed("lb\rfractal:models\r\nx\n");
        assertEquals("lb", editor.readLine("> "));
        assertEquals("fractal:models", editor.readLine("> "), "CR LF is one line end");
        assertEquals("x", editor.readLine("> "));
        assertNull(editor.readLine("> "), "end of input");
        assertEquals("> lb\r\n> fractal:models\r\n> x\r\n> ", echoed());
    }

    @Test
    void backspaceCtrlWAndCtrlUErase() throws Exception {
        LineEditor editor = typed("lbb\u007f\r" + "fractal:model iris\u0017\u0017fractal:models\r" + "junk\u0015lb\r" + "é\u0008\r");
        assertEquals("lb", editor.readLine(""));
        assertEquals("fractal:models", editor.readLine(""));
        assertEquals("lb", editor.readLine(""));
        assertEquals("", editor.readLine(""), "a non-ASCII character erased whole");
    }

    @Test
    void ctrlCDropsTheLineAndCtrlDOnAnEmptyLineLeaves() throws Exception {
        LineEditor editor = typed("half\u0003ab\u0004c\r\u0004");
        assertEquals("", editor.readLine("> "));
        assertEquals("abc", editor.readLine("> "), "Ctrl-D within a line does nothing");
        assertNull(editor.readLine("> "));
        assertEquals("> half^C\r\n> abc\r\n> \r\n", echoed());
    }

    @Test
    void upAndDownBrowseTheHistoryOtherSequencesAreIgnored() throws Exception {
        LineEditor editor = typed("one\rtwo\r\u001b[A\u001b[A\r" + "\u001b[A\u001b[B\u001b[Bnew\u001b[C\u001b[3~\r");
        assertEquals("one", editor.readLine(""));
        assertEquals("two", editor.readLine(""));
        assertEquals("one", editor.readLine(""), "up twice: the line before the last");
        assertEquals("new", editor.readLine(""), "down past the history: the line being typed");
    }
}
