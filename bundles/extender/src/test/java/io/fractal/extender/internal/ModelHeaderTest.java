package io.fractal.extender.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fractal.extender.internal.ModelHeader.Clause;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ModelHeaderTest {

    private final List<String> problems = new ArrayList<>();

    private List<Clause> parse(String header) {
        return ModelHeader.parse(header, problems::add);
    }

    @Test
    void folderAndFileClauses() {
        assertEquals(List.of(new Clause("iris", "models/iris"), new Clause("adder", "models/adder.pt")),
                parse("iris;path=models/iris, adder;path=models/adder.pt"));
        assertEquals(List.of(), problems);
    }

    @Test
    void noHeaderNoModels() {
        assertEquals(List.of(), parse(null));
        assertEquals(List.of(), parse(""));
        assertEquals(List.of(), problems);
    }

    @Test
    void whitespaceQuotesTypedAttributeAndSlashesAreTolerated() {
        assertEquals(List.of(new Clause("iris-v2.1_a", "models/iris folder"), new Clause("b", "x/b.onnx"),
                        new Clause("c", "c.pt")),
                parse("  iris-v2.1_a ; path = \"/models/iris folder/\" ,\n b;path:String=x/b.onnx, c;path=c.pt,"));
        assertEquals(List.of(), problems);
    }

    @Test
    void commasAndSemicolonsInsideQuotesDoNotSplit() {
        assertEquals(List.of(new Clause("a", "odd,name;here.pt"), new Clause("b", "say \"hi\".pt")),
                parse("a;path=\"odd,name;here.pt\",b;path=\"say \\\"hi\\\".pt\""));
        assertEquals(List.of(), problems);
    }

    @Test
    void directivesAreIgnoredUnknownAttributesReported() {
        assertEquals(List.of(new Clause("a", "a.pt")), parse("a;path=a.pt;future:=yes;engine=PyTorch"));
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("'engine'") && problems.get(0).contains("a;path=a.pt"), problems.get(0));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "iris",                              // no path
        "iris;pth=models/iris",              // no path (typo)
        "path=models/iris",                  // no model name
        ";path=models/iris",                 // empty model name
        "-iris;path=models/iris",            // name starts with '-'
        "ir is;path=models/iris",            // space in the name
        "a..b;path=models/iris",             // '..' in the name
        "iris;adder;path=models/iris",       // two names
        "iris;path=",                        // empty path
        "iris;path=/",                       // only the root
        "iris;path=../outside.pt",           // leaves the bundle
        "iris;path=models/../../x.pt",       // leaves the bundle
        "iris;path=models//iris",            // empty segment
        "iris;path=models\\iris",            // backslash
        "iris;path=a.pt;path=b.pt",          // path twice
    })
    void badClauseIsSkippedAndNamedTheOthersStay(String bad) {
        List<Clause> clauses = parse("first;path=first.pt, " + bad + ", last;path=last.pt");

        assertEquals(List.of(new Clause("first", "first.pt"), new Clause("last", "last.pt")), clauses);
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains(bad.trim()), problems.get(0));
        assertTrue(problems.get(0).contains("skipped"), problems.get(0));
    }

    @Test
    void aModelNamedTwiceKeepsTheFirst() {
        assertEquals(List.of(new Clause("iris", "one")), parse("iris;path=one, iris;path=two"));
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("iris;path=two") && problems.get(0).contains("twice"), problems.get(0));
    }

    @Test
    void unterminatedQuoteSkipsOnlyTheLastClause() {
        assertEquals(List.of(new Clause("a", "a.pt")), parse("a;path=a.pt, b;path=\"b.pt"));
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("unterminated quote") && problems.get(0).contains("b;path=\"b.pt"),
                problems.get(0));
    }
}
