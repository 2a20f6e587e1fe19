package io.fractal.cluster.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** PID {@value #PID}: the node's place in a cluster. Without {@code enabled=true} the bundle does nothing. */
@ObjectClassDefinition(name = "Fractal cluster", description = "Embedded Hazelcast cluster of Fractal nodes")
@interface ClusterConfiguration {

    String PID = "io.fractal.cluster";

    @AttributeDefinition(description = "Join a cluster. Off: the node serves alone and the bundle does nothing.")
    boolean enabled() default false;

    @AttributeDefinition(description = "Hazelcast cluster name: only nodes with the same name join each other.")
    String cluster_name() default "fractal";

    @AttributeDefinition(description = "This node's name as the other nodes show it (remote modelhosts are "
            + "'<id>@<node>'); empty: the host and HTTP port it is called on.")
    String node_name() default "";

    @AttributeDefinition(description = "TCP/IP join: addresses of some members (host or host:port), comma separated. "
            + "A node joins with any one of them alive; the others need no configuration change.")
    String[] members() default {};

    @AttributeDefinition(description = "The address the cluster port binds to and is advertised on (an interface "
            + "address, never every interface); 'kubernetes' discovery uses the pod's address when empty.")
    String bind_address() default "127.0.0.1";

    @AttributeDefinition(description = "The cluster (Hazelcast member) port.")
    int port() default 5701;

    @AttributeDefinition(description = "Try the next ports (up to 100) when the port is taken.")
    boolean port_auto_increment() default false;

    @AttributeDefinition(description = "Hazelcast hazelcast.heartbeat.interval.seconds.")
    int heartbeat_interval_seconds() default 1;

    @AttributeDefinition(description = "Hazelcast hazelcast.max.no.heartbeat.seconds: a member silent that long "
            + "(hung, SIGSTOP, cut off) is removed and its modelhosts unregistered.")
    int max_no_heartbeat_seconds() default 5;

    @AttributeDefinition(description = "Discover members through the Kubernetes API (a headless Service) instead of "
            + "the members list.")
    boolean kubernetes_enabled() default false;

    @AttributeDefinition(description = "Kubernetes discovery: namespace (empty: the pod's own).")
    String kubernetes_namespace() default "";

    @AttributeDefinition(description = "Kubernetes discovery: the (headless) Service name.")
    String kubernetes_service_name() default "";

    @AttributeDefinition(description = "Kubernetes discovery by DNS lookup of the headless Service instead of the "
            + "API (no RBAC needed), e.g. fractal.default.svc.cluster.local.")
    String kubernetes_service_dns() default "";

    @AttributeDefinition(description = "The shared secret that the HTTP calls between nodes carry; every node needs "
            + "the same one. Empty: secret.file is read.", type = org.osgi.service.metatype.annotations.AttributeType.PASSWORD)
    String secret() default "";

    @AttributeDefinition(description = "A file holding the shared secret (relative to the server's home).")
    String secret_file() default "";

    @AttributeDefinition(description = "The URL other nodes call this node's HTTP API on; empty: "
            + "http://<bind.address or member address>:<io.fractal.rest port>.")
    String advertise_url() default "";

    @AttributeDefinition(description = "The longest a call to another node may take, in ms; a request's own "
            + "deadline, when sooner, bounds it instead (the remote node bounds the call with it too).")
    long call_timeout_ms() default 30000;

    @AttributeDefinition(description = "Connect timeout of a call to another node, in ms.")
    long connect_timeout_ms() default 1000;

    @AttributeDefinition(description = "Deploy once, serve everywhere: fetch the model versions other nodes hold "
            + "(checksum verified) and follow their deletes.")
    boolean replicate_models() default true;

    @AttributeDefinition(description = "On leaving: how long to keep serving the other nodes' calls in flight after "
            + "this node's modelhosts were withdrawn, in ms.")
    long leave_drain_ms() default 2000;
}
