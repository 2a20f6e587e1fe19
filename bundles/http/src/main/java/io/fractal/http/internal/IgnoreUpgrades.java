package io.fractal.http.internal;

import java.io.IOException;
import org.glassfish.grizzly.filterchain.BaseFilter;
import org.glassfish.grizzly.filterchain.FilterChainBuilder;
import org.glassfish.grizzly.filterchain.FilterChainContext;
import org.glassfish.grizzly.filterchain.FilterChainEvent;
import org.glassfish.grizzly.filterchain.NextAction;
import org.glassfish.grizzly.http.HttpEvents;
import org.glassfish.grizzly.http.HttpHeader;
import org.glassfish.grizzly.http.HttpServerFilter;
import org.glassfish.grizzly.http.server.AddOn;
import org.glassfish.grizzly.http.server.NetworkListener;

/**
 * Answers requests that offer a protocol upgrade (such as {@code Upgrade: h2c}, which Java's HttpClient and
 * {@code curl --http2} send by default) as plain HTTP/1.1 requests, which RFC 7230 allows: the API upgrades to
 * nothing. Without it Grizzly, which has no HTTP/2 or WebSocket here, treats the rest of the connection as upgraded
 * and the request hangs until a timeout. The codec announces the upgrade before it checks the request, so clearing
 * it here is in time.
 */
final class IgnoreUpgrades extends BaseFilter implements AddOn {

    @Override
    public void setup(NetworkListener listener, FilterChainBuilder builder) {
        int codec = builder.indexOfType(HttpServerFilter.class);
        builder.add(codec + 1, this);
    }

    @Override
    public NextAction handleEvent(FilterChainContext ctx, FilterChainEvent event) throws IOException {
        if (event.type() == HttpEvents.IncomingHttpUpgradeEvent.TYPE) {
            HttpHeader header = ((HttpEvents.IncomingHttpUpgradeEvent) event).getHttpHeader();
            header.getUpgradeDC().recycle();
            header.getHeaders().removeHeader("Upgrade");
            header.getHeaders().removeHeader("HTTP2-Settings");
            header.setIgnoreContentModifiers(false);
        }
        return ctx.getInvokeAction();
    }
}
