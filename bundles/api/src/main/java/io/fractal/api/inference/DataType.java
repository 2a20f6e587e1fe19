package io.fractal.api.inference;

import java.util.Locale;

/**
 * Tensor element types, named as in the KServe v2 Open Inference Protocol. Each type has one Java array type
 * that holds its elements in a {@link Tensor}.
 */
public enum DataType {
    BOOL(boolean[].class), UINT8(byte[].class), INT8(byte[].class), INT16(short[].class), INT32(int[].class),
    INT64(long[].class), FP16(float[].class), FP32(float[].class), FP64(double[].class), BYTES(String[].class),
    /** Unsigned 16 bits, stored as their bit pattern in a {@code short[]} (as UINT8 in a {@code byte[]}). @since 1.1 */
    UINT16(short[].class),
    /** Unsigned 32 bits, stored as their bit pattern in an {@code int[]}. @since 1.1 */
    UINT32(int[].class),
    /** Unsigned 64 bits, stored as their bit pattern in a {@code long[]}. @since 1.1 */
    UINT64(long[].class),
    /** bfloat16, held as {@code float} values. @since 1.1 */
    BF16(float[].class);

    private final Class<?> storage;

    DataType(Class<?> storage) {
        this.storage = storage;
    }

    /** The primitive array class a {@link Tensor} of this type stores its data in. */
    public Class<?> storage() {
        return storage;
    }

    public boolean isFloatingPoint() {
        return this == FP16 || this == BF16 || this == FP32 || this == FP64;
    }

    /**
     * Parses a KServe datatype name, case-insensitively; also accepts the common aliases {@code float32},
     * {@code float}, {@code float64}, {@code double}, {@code int}, {@code long}.
     *
     * @throws IllegalArgumentException naming the accepted types
     */
    public static DataType parse(String name) {
        if (name == null) {
            throw new IllegalArgumentException("datatype is missing");
        }
        String n = name.trim().toUpperCase(Locale.ROOT);
        switch (n) {
            case "FLOAT32": case "FLOAT": return FP32;
            case "FLOAT64": case "DOUBLE": return FP64;
            case "FLOAT16": case "HALF": return FP16;
            case "BFLOAT16": return BF16;
            case "INT": return INT32;
            case "LONG": return INT64;
            case "BOOLEAN": return BOOL;
            case "STRING": return BYTES;
            default:
                try {
                    return valueOf(n);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("unknown datatype '" + name + "', expected one of "
                            + java.util.Arrays.toString(values()));
                }
        }
    }
}
