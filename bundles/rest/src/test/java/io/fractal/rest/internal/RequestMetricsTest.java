package io.fractal.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.UriInfo;
import java.lang.reflect.Proxy;
import java.util.List;
import org.glassfish.jersey.server.ExtendedUriInfo;
import org.glassfish.jersey.server.model.Resource;
import org.glassfish.jersey.server.model.ResourceMethod;
import org.glassfish.jersey.uri.UriTemplate;
import org.junit.jupiter.api.Test;

/** Metric labels come from a fixed set, never straight from the request. */
class RequestMetricsTest {

    @Test
    void theMethodsHttpDefinesAreTheirOwnLabel() {
        for (String m : new String[] {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"}) {
            assertEquals(m, RequestMetrics.method(m));
        }
    }

    /** A request no resource method served (unknown path, or a method the path does not take) adds no route. */
    @Test
    void aRequestNoResourceMethodServedIsUnmatched() {
        assertEquals("unmatched", RequestMetrics.route(request(uriInfo(null, List.of(new UriTemplate("/v2"),
                new UriTemplate("models/{model}/infer"))))));
        assertEquals("unmatched", RequestMetrics.route(request(null)));
    }

    @Test
    void aServedRequestIsCountedUnderItsTemplate() {
        ResourceMethod method = Resource.builder("/v2").addMethod("POST")
                .handledBy((org.glassfish.jersey.process.Inflector<ContainerRequestContext, Object>) r -> null)
                .build();
        assertEquals("/v2/models/{model}/infer", RequestMetrics.route(request(uriInfo(method,
                List.of(new UriTemplate("models/{model}/infer"), new UriTemplate("/v2"))))));
    }

    private static ExtendedUriInfo uriInfo(ResourceMethod matched, List<UriTemplate> templates) {
        return (ExtendedUriInfo) Proxy.newProxyInstance(RequestMetricsTest.class.getClassLoader(),
                new Class<?>[] {ExtendedUriInfo.class}, (proxy, m, args) -> switch (m.getName()) {
                    case "getMatchedResourceMethod" -> matched;
                    case "getMatchedTemplates" -> templates;
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    private static ContainerRequestContext request(UriInfo info) {
        return (ContainerRequestContext) Proxy.newProxyInstance(RequestMetricsTest.class.getClassLoader(),
                new Class<?>[] {ContainerRequestContext.class}, (proxy, m, args) -> {
                    if (m.getName().equals("getUriInfo")) {
                        return info;
                    }
                    throw new UnsupportedOperationException(m.getName());
                });
    }

    @Test
    void anInventedMethodIsOther() {
        assertEquals("other", RequestMetrics.method("FOO"));
        assertEquals("other", RequestMetrics.method("get"));
        assertEquals("other", RequestMetrics.method("${jndi:ldap://x}"));
        assertEquals("other", RequestMetrics.method(null));
    }
}
