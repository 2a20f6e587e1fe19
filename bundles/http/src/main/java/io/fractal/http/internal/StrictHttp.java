package io.fractal.http.internal;

import java.io.IOException;
import org.glassfish.grizzly.filterchain.BaseFilter;
import org.glassfish.grizzly.filterchain.FilterChainBuilder;
import org.glassfish.grizzly.filterchain.FilterChainContext;
import org.glassfish.grizzly.filterchain.NextAction;
import org.glassfish.grizzly.http.HttpBrokenContent;
import org.glassfish.grizzly.http.HttpServerFilter;
import org.glassfish.grizzly.http.server.AddOn;
import org.glassfish.grizzly.http.server.NetworkListener;

/**
 * Puts {@link StrictHttpCodec} in place of the HTTP codec Grizzly's server built for a listener, with the same
 * settings: requests with a malformed head are answered 400 (505 for an unsupported version) in JSON, and the
 * codec's own error answers carry a JSON body. Right after the codec it drops a body the codec found broken (a
 * malformed chunk), which it has answered already: passed on, Grizzly's server filter rethrows the parse error and
 * its filter chain logs it as a warning with a stack trace, one per hostile request.
 */
final class StrictHttp extends BaseFilter implements AddOn {

    @Override
    public void setup(NetworkListener listener, FilterChainBuilder builder) {
        int index = builder.indexOfType(HttpServerFilter.class);
        if (index < 0 || builder.get(index) instanceof StrictHttpCodec) {
            return;
        }
        HttpServerFilter built = (HttpServerFilter) builder.get(index);
        int maxHeaderSize = listener.getMaxHttpHeaderSize() == -1 ? HttpServerFilter.DEFAULT_MAX_HTTP_PACKET_HEADER_SIZE
                : listener.getMaxHttpHeaderSize();
        StrictHttpCodec codec = new StrictHttpCodec(listener.isChunkingEnabled(), maxHeaderSize,
                listener.getKeepAlive(), listener.getMaxRequestHeaders(), listener.getMaxResponseHeaders());
        for (var encoding : built.getContentEncodings()) {
            codec.addContentEncoding(encoding);
        }
        codec.setAllowPayloadForUndefinedHttpMethods(built.isAllowPayloadForUndefinedHttpMethods());
        codec.setMaxPayloadRemainderToSkip(built.getMaxPayloadRemainderToSkip());
        codec.getMonitoringConfig().addProbes(built.getMonitoringConfig().getProbes());
        builder.set(index, codec);
        builder.add(index + 1, this);
    }

    @Override
    public NextAction handleRead(FilterChainContext ctx) throws IOException {
        if (ctx.getMessage() instanceof HttpBrokenContent) {
            ctx.getConnection().closeSilently();
            return ctx.getStopAction();
        }
        return ctx.getInvokeAction();
    }
}
