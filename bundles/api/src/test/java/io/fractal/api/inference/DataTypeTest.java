package io.fractal.api.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DataTypeTest {

    @ParameterizedTest
    @CsvSource({
        "FP32, FP32", "fp32, FP32", "' Fp64 ', FP64", "float32, FP32", "float, FP32", "FLOAT64, FP64",
        "double, FP64", "float16, FP16", "half, FP16", "int, INT32", "long, INT64", "boolean, BOOL",
        "string, BYTES", "uint8, UINT8", "INT8, INT8", "int16, INT16", "INT32, INT32", "int64, INT64",
        "bool, BOOL", "bytes, BYTES", "uint16, UINT16", "UINT32, UINT32", "uint64, UINT64", "bf16, BF16",
        "bfloat16, BF16"
    })
    void parsesNamesAndAliasesCaseInsensitively(String text, DataType expected) {
        assertEquals(expected, DataType.parse(text));
    }

    @Test
    void anUnknownTypeNamesTheAcceptedOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DataType.parse("complex64"));
        assertEquals("unknown datatype 'complex64', expected one of "
                + "[BOOL, UINT8, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES, UINT16, UINT32, UINT64, BF16]",
                e.getMessage());
    }

    @Test
    void aMissingTypeSaysSo() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DataType.parse(null));
        assertEquals("datatype is missing", e.getMessage());
    }

    @Test
    void floatingPointTypes() {
        assertTrue(DataType.FP16.isFloatingPoint());
        assertTrue(DataType.FP32.isFloatingPoint());
        assertTrue(DataType.FP64.isFloatingPoint());
        assertFalse(DataType.INT32.isFloatingPoint());
        assertFalse(DataType.BOOL.isFloatingPoint());
    }
}
