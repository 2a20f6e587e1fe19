package io.fractal.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class TableTest {

    @Test
    void columnsAreAlignedToTheWidestCellWithTwoSpacesBetween() {
        String text = new Table("MODEL", "DEFAULT", "STATE")
                .row("iris", 1, "READY")
                .row("digits-large", 12, "LOADING")
                .toString();
        assertEquals("""
                MODEL         DEFAULT  STATE
                iris          1        READY
                digits-large  12       LOADING
                """, text);
    }

    @Test
    void theLastColumnIsNotPadded() {
        String text = new Table("ID", "MODELS").row("mh1", "*").row("mh2", "iris*,digits").toString();
        for (String line : text.split("\n")) {
            assertEquals(line.strip(), line, "trailing spaces in '" + line + "'");
        }
    }

    @Test
    void nullCellsShowAsADash() {
        assertEquals("""
                A  B
                -  x
                """, new Table("A", "B").row(null, "x").toString());
    }

    @Test
    void aHeaderAloneIsOneLine() {
        assertEquals("ENGINE  PLATFORM\n", new Table("ENGINE", "PLATFORM").toString());
    }

    @Test
    void valuesAreShownWithToString() {
        assertEquals("""
                N     OK    RATE
                1000  true  0.5
                """, new Table("N", "OK", "RATE").row(1000L, true, 0.5).toString());
    }
}
