package io.fractal.inferrer.internal;

import io.fractal.api.inference.ClientText;
import io.fractal.api.inference.InvalidInputException;

/** A model as a request names it: {@code iris} (the default version) or {@code iris:3}. */
record ModelRef(String name, Integer version) {

    static ModelRef parse(String text) {
        int colon = text.lastIndexOf(':');
        if (colon < 0) {
            return new ModelRef(text, null);
        }
        return new ModelRef(text.substring(0, colon), version(text.substring(colon + 1)));
    }

    static Integer version(String text) {
        if (text == null) {
            return null;
        }
        try {
            int v = Integer.parseInt(text);
            if (v < 1) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new InvalidInputException("invalid model version '" + ClientText.quote(text)
                    + "': versions are positive integers");
        }
    }
}
