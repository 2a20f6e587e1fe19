package io.fractal.it;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.options;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * Model management over the v1 API: uploads (multipart and raw body), versions and the default version,
 * descriptions, downloads of the exact bytes, deleting a version or a model, and the errors a user gets for bad
 * names, unknown models and bad uploads.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ModelManagementIT extends FractalTestSupport {

    /** A new version loads in well under a second once the engine has started; the first start extracts natives. */
    private static final Duration SWAP_TIMEOUT = Duration.ofSeconds(30);

    /** No sample models: every model of this class is uploaded by the test. */
    @Override
    @Configuration
    public Option[] config() {
        return options(distribution(), isolatedServer(), testLibraries());
    }

    @Test
    public void uploadsVersionsDefaultDescriptionDownloadAndDelete() throws Exception {
        awaitServer();
        byte[] irisPt = Files.readAllBytes(sampleFile("iris/model.pt"));
        byte[] irisJson = Files.readAllBytes(sampleFile("iris/model.json"));
        byte[] adderPt = resourceBytes("/models/adder.pt");

        // version 1: multipart, with the model.json sidecar and a description
        HttpResult first = postMultipart("/api/v1/models/iris2", fields(
                "path", FilePart.of("model.pt", irisPt),
                "metadata", FilePart.of("model.json", irisJson),
                "model_description", "first upload"));

        assertEquals(first.toString(), 201, first.status);
        assertEquals(first.toString(), 1, first.json.path("version").asInt());
        assertEquals(first.toString(), "PyTorch", first.json.path("engine").asText());
        assertEquals(first.toString(), "first upload", first.json.path("description").asText());
        assertEquals(first.toString(), sha256(irisPt), first.json.path("sha256").asText());
        assertEquals(first.toString(), irisPt.length, first.json.path("size").asLong());
        awaitReady("iris2");
        assertPredictsIris("iris2", 1, true);

        // version 2: raw body, another model file (the adder), without metadata
        HttpResult second = postBytes("/api/v1/models/iris2?file_name=model.pt&model_description=second%20upload",
                "application/octet-stream", adderPt);

        assertEquals(second.toString(), 201, second.status);
        assertEquals(second.toString(), 2, second.json.path("version").asInt());
        assertEquals(second.toString(), "second upload", second.json.path("description").asText());
        assertEquals(second.toString(), sha256(adderPt), second.json.path("sha256").asText());
        // it becomes the default once it is READY
        awaitDefaultVersion("iris2", v -> v.path("version").asInt() == 2, false, SWAP_TIMEOUT);
        for (String path : List.of("/api/v1/models/iris2", "/api/v1/models/iris2/information")) {
            HttpResult view = http().get(path);
            assertEquals(path + " -> " + view, 200, view.status);
            assertEquals(path + " -> " + view, "iris2", view.json.path("name").asText());
            assertEquals(path + " -> " + view, 2, view.json.path("default_version").asInt());
            assertEquals(path + " -> " + view, List.of(1, 2), versionNumbers(view.json));
            assertEquals(path + " -> " + view, "first upload", versionOf(view.json, 1).path("description").asText());
            assertEquals(path + " -> " + view, "second upload", versionOf(view.json, 2).path("description").asText());
            assertEquals(path + " -> " + view, "upload", versionOf(view.json, 2).path("source").asText());
        }
        assertPredictsAdder("iris2", 2);
        assertPredictsIris("iris2:1", 1, true);

        // the default back to 1
        HttpResult setDefault = http().post("/api/v1/models/iris2/default", Map.of("default", 1));

        assertEquals(setDefault.toString(), 200, setDefault.status);
        assertEquals(setDefault.toString(), 1, setDefault.json.path("default_version").asInt());
        assertEquals(1, modelView("iris2").path("default_version").asInt());
        assertPredictsIris("iris2", 1, true);
        assertPredictsAdder("iris2:2", 2);

        // the description of the default version
        HttpResult describe = http().post("/api/v1/models/iris2/information",
                Map.of("model_description", "MLP 4-16-3, described again"));

        assertEquals(describe.toString(), 200, describe.status);
        JsonNode described = modelView("iris2");
        assertEquals(described.toString(), "MLP 4-16-3, described again",
                versionOf(described, 1).path("description").asText());
        assertEquals(described.toString(), "second upload", versionOf(described, 2).path("description").asText());

        // downloads: the exact bytes
        assertDownload("/api/v1/models/iris2/download", irisPt);
        assertDownload("/api/v1/models/iris2/download?version=1", irisPt);
        assertDownload("/api/v1/models/iris2/download?version=2", adderPt);
        assertDownload("/api/v1/models/iris2:2/download", adderPt);

        // one version: the default moves to the one left
        HttpResult deleteOne = http().delete("/api/v1/models/iris2:1");

        assertEquals(deleteOne.toString(), 200, deleteOne.status);
        JsonNode left = modelView("iris2");
        assertEquals(left.toString(), List.of(2), versionNumbers(left));
        assertEquals(left.toString(), 2, left.path("default_version").asInt());
        assertPredictsAdder("iris2", 2);
        HttpResult gone = http().post("/api/v1/models/iris2:1/prediction", Map.of("values", List.of(5.1, 3.5, 1.4, 0.2)));
        assertEquals(gone.toString(), 404, gone.status);
        assertEquals(404, getBytes("/api/v1/models/iris2/download?version=1").statusCode());

        // the whole model
        HttpResult deleteAll = http().delete("/api/v1/models/iris2");

        assertEquals(deleteAll.toString(), 200, deleteAll.status);
        HttpResult afterDelete = http().get("/api/v1/models/iris2");
        assertEquals(afterDelete.toString(), 404, afterDelete.status);
        HttpResult prediction = http().post("/api/v1/models/iris2/prediction", Map.of("values", List.of(1, 2, 3, 4)));
        assertEquals(prediction.toString(), 404, prediction.status);
        HttpResult list = http().get("/api/v1/models");
        assertNull("iris2 is no longer listed: " + list, ModelsV1IT.find(list.json.path("models"), "name", "iris2"));
    }

    @Test
    public void rawBodyUploadOfANewModelPredicts() throws Exception {
        awaitServer();
        byte[] adderPt = resourceBytes("/models/adder.pt");

        HttpResult upload = postBytes("/api/v1/models/adder-raw?file_name=adder.pt", "application/octet-stream",
                adderPt);

        assertEquals(upload.toString(), 201, upload.status);
        assertEquals(upload.toString(), 1, upload.json.path("version").asInt());
        assertEquals(upload.toString(), "PyTorch", upload.json.path("engine").asText());
        awaitReady("adder-raw");
        assertPredictsAdder("adder-raw", 1);
        assertDownload("/api/v1/models/adder-raw/download", adderPt);
    }

    @Test
    public void badModelNamesAre400() {
        awaitServer();
        byte[] adderPt = resourceBytes("/models/adder.pt");
        for (String name : List.of("..%2F..%2Fetc", ".hidden", "a".repeat(200))) {
            HttpResult multipart = postMultipart("/api/v1/models/" + name,
                    fields("path", FilePart.of("model.pt", adderPt)));
            HttpResult raw = postBytes("/api/v1/models/" + name + "?file_name=model.pt", "application/octet-stream",
                    adderPt);

            for (HttpResult upload : List.of(multipart, raw)) {
                assertEquals(name + " -> " + upload, 400, upload.status);
                assertTrue(name + " -> " + upload, upload.error() != null && upload.error().contains("name"));
            }
        }
        HttpResult list = http().get("/api/v1/models");
        for (JsonNode model : list.json.path("models")) {
            String listed = model.path("name").asText();
            assertFalse("listed: " + listed, listed.contains("etc") || listed.contains("hidden") || listed.startsWith("aaa"));
        }
        assertFalse("nothing escaped the data folder", Files.exists(deployFolder().getParent().resolve("etc")));
    }

    @Test
    public void unknownModelIs404ForDownloadDefaultAndDelete() throws Exception {
        awaitServer();
        HttpResponse<byte[]> download = getBytes("/api/v1/models/nosuchmodel/download");
        HttpResult setDefault = http().post("/api/v1/models/nosuchmodel/default", Map.of("default", 1));
        HttpResult delete = http().delete("/api/v1/models/nosuchmodel");
        HttpResult deleteVersion = http().delete("/api/v1/models/nosuchmodel:1");
        HttpResult describe = http().post("/api/v1/models/nosuchmodel/information", Map.of("model_description", "x"));

        assertEquals(new String(download.body()), 404, download.statusCode());
        assertTrue(new String(download.body()), new String(download.body()).contains("nosuchmodel"));
        for (HttpResult result : List.of(setDefault, delete, deleteVersion, describe)) {
            assertEquals(result.toString(), 404, result.status);
            assertTrue(result.toString(), result.error() != null && result.error().contains("nosuchmodel"));
        }

        // and an unknown version of a known model
        postMultipart("/api/v1/models/known", fields("path", FilePart.of("model.pt", resourceBytes("/models/adder.pt"))));
        assertEquals(404, getBytes("/api/v1/models/known/download?version=9").statusCode());
        assertEquals(404, http().post("/api/v1/models/known/default", Map.of("default", 9)).status);
        assertEquals(404, http().delete("/api/v1/models/known:9").status);
        assertEquals(List.of(1), versionNumbers(modelView("known")));
        assertEquals(1, modelView("known").path("default_version").asInt());
    }

    @Test
    public void badUploadsAre400AndCreateNothing() throws Exception {
        awaitServer();
        byte[] irisPt = Files.readAllBytes(sampleFile("iris/model.pt"));

        HttpResult withoutFile = postMultipart("/api/v1/models/nofile", fields("model_description", "no file"));
        assertEquals(withoutFile.toString(), 400, withoutFile.status);
        assertTrue(withoutFile.toString(), withoutFile.error().contains("path"));

        HttpResult empty = postMultipart("/api/v1/models/empty", fields("path", FilePart.of("model.pt", new byte[0])));
        assertEquals(empty.toString(), 400, empty.status);
        assertTrue(empty.toString(), empty.error().contains("empty"));
        HttpResult emptyRaw = postBytes("/api/v1/models/empty?file_name=model.pt", "application/octet-stream", new byte[0]);
        assertEquals(emptyRaw.toString(), 400, emptyRaw.status);

        HttpResult unknownType = postMultipart("/api/v1/models/weights",
                fields("path", FilePart.of("weights.xyz", irisPt)));
        assertEquals(unknownType.toString(), 400, unknownType.status);
        assertTrue(unknownType.toString(), unknownType.error().contains("weights.xyz"));
        HttpResult unknownTypeRaw = postBytes("/api/v1/models/weights?file_name=weights.xyz", "application/octet-stream",
                irisPt);
        assertEquals(unknownTypeRaw.toString(), 400, unknownTypeRaw.status);
        HttpResult rawWithoutName = postBytes("/api/v1/models/weights", "application/octet-stream", irisPt);
        assertEquals(rawWithoutName.toString(), 400, rawWithoutName.status);
        assertTrue(rawWithoutName.toString(), rawWithoutName.error().contains("file_name"));

        HttpResult badMetadata = postMultipart("/api/v1/models/badmeta", fields(
                "path", FilePart.of("model.pt", irisPt),
                "metadata", FilePart.of("model.json", "{\"inputs\": [".getBytes(java.nio.charset.StandardCharsets.UTF_8))));
        assertEquals(badMetadata.toString(), 400, badMetadata.status);
        assertTrue(badMetadata.toString(), badMetadata.error().contains("model.json"));
        HttpResult badDatatype = postMultipart("/api/v1/models/badmeta", fields(
                "path", FilePart.of("model.pt", irisPt),
                "metadata", FilePart.of("model.json", "{\"inputs\": [{\"name\": \"input\", \"datatype\": \"FP33\"}]}"
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8))));
        assertEquals(badDatatype.toString(), 400, badDatatype.status);
        assertTrue(badDatatype.toString(), badDatatype.error().contains("model.json"));

        for (String name : List.of("nofile", "empty", "weights", "badmeta")) {
            HttpResult view = http().get("/api/v1/models/" + name);
            assertEquals(name + " was not created: " + view, 404, view.status);
        }

        // bad bodies of the other calls
        postMultipart("/api/v1/models/target", fields("path", FilePart.of("model.pt", irisPt)));
        HttpResult badDefault = http().post("/api/v1/models/target/default", Map.of("default", "one"));
        assertEquals(badDefault.toString(), 400, badDefault.status);
        assertTrue(badDefault.toString(), badDefault.error().contains("default"));
        HttpResult badDescription = http().post("/api/v1/models/target/information", Map.of("description", "x"));
        assertEquals(badDescription.toString(), 400, badDescription.status);
        assertTrue(badDescription.toString(), badDescription.error().contains("model_description"));
        HttpResponse<byte[]> badVersion = getBytes("/api/v1/models/target/download?version=zero");
        String badVersionBody = new String(badVersion.body(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(badVersionBody, 400, badVersion.statusCode());
        assertTrue(badVersionBody, badVersionBody.contains("version"));
    }

    // ------------------------------------------------------------------------------------------------

    /** Multipart fields in the order given. */
    private static Map<String, Object> fields(Object... keyValues) {
        Map<String, Object> fields = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            fields.put((String) keyValues[i], keyValues[i + 1]);
        }
        return fields;
    }

    /** The adder (2x + y) on its reference inputs. */
    private void assertPredictsAdder(String model, int version) {
        JsonNode expected = expected("adder");
        HttpResult prediction = http().post("/api/v1/models/" + model + "/prediction", Map.of("values", fields(
                // in this order: a model without metadata takes its inputs in the order the request gives them
                "x", expected.path("inputs").path("x").path("data"),
                "y", expected.path("inputs").path("y").path("data"))));

        assertEquals(prediction.toString(), 200, prediction.status);
        assertEquals(prediction.toString(), version, prediction.json.path("version").asInt());
        assertValues(model, expected.path("outputs").path("output").path("data"), prediction.json.path("values"));
    }

    private void assertDownload(String path, byte[] expected) {
        HttpResponse<byte[]> download = getBytes(path);

        assertEquals(path + " -> " + new String(download.body(), java.nio.charset.StandardCharsets.ISO_8859_1), 200,
                download.statusCode());
        assertArrayEquals(path + ": the uploaded bytes", expected, download.body());
        assertEquals(path, String.valueOf(expected.length),
                download.headers().firstValue("Content-Length").orElse(null));
    }
}
