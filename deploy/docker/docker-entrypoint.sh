#!/usr/bin/env bash
# Fractal ML Server container entry point: writes the node's configuration from the environment into
# $FRACTAL_HOME/deploy/*.cfg (FileInstall applies them at start), then runs the server in the foreground
# (bin/fractal run: SIGTERM drains, withdraws the node from the cluster, then leaves).
#
# Environment (all optional):
#   FRACTAL_HTTP_PORT          the HTTP API port (8001), on every interface of the container
#   FRACTAL_METRICS_PORT       the Prometheus listener (8002), on every interface of the container
#   FRACTAL_SSH_PORT           the SSH console (0: off)
#   FRACTAL_CLUSTER_ENABLED    true to join a cluster (default false)
#   FRACTAL_CLUSTER_NAME       the Hazelcast cluster name (fractal)
#   FRACTAL_NODE_NAME          this node's name (the host name)
#   FRACTAL_CLUSTER_MEMBERS    TCP/IP join: some members, comma separated (e.g. fractal-1,fractal-2,fractal-3)
#   FRACTAL_CLUSTER_BIND       the address the cluster binds to (the container's first address)
#   FRACTAL_CLUSTER_PORT       the cluster port (5701)
#   FRACTAL_CLUSTER_SECRET     the shared secret of the HTTP calls between nodes, or
#   FRACTAL_CLUSTER_SECRET_FILE a file holding it (e.g. /run/secrets/cluster_secret); one of the two is required
#                              when the cluster is enabled
#   FRACTAL_KUBERNETES_SERVICE_DNS  Kubernetes discovery by DNS of a headless Service (no RBAC needed), or
#   FRACTAL_KUBERNETES_SERVICE_NAME (+ FRACTAL_KUBERNETES_NAMESPACE) discovery through the Kubernetes API
#   FRACTAL_ENTRYPOINT_DRY_RUN=1  write the configuration and print it, do not start (for tests)
set -euo pipefail

FRACTAL_HOME="${FRACTAL_HOME:-/opt/fractal}"
DEPLOY="$FRACTAL_HOME/deploy"
mkdir -p "$DEPLOY"

die() { echo "docker-entrypoint: $*" >&2; exit 1; }

number() { [[ "$2" =~ ^[0-9]+$ ]] || die "$1 must be a number, not '$2'"; echo "$2"; }

http_port="$(number FRACTAL_HTTP_PORT "${FRACTAL_HTTP_PORT:-8001}")"
metrics_port="$(number FRACTAL_METRICS_PORT "${FRACTAL_METRICS_PORT:-8002}")"
ssh_port="$(number FRACTAL_SSH_PORT "${FRACTAL_SSH_PORT:-0}")"

# The HTTP API and the metrics listen on every interface of the container: the container is the boundary
# (publish only what should be reached). Keys and values as FileInstall reads them.
printf 'host=0.0.0.0\nport=%s\n' "$http_port" >"$DEPLOY/io.fractal.rest.cfg"
printf 'host=0.0.0.0\nport=%s\n' "$metrics_port" >"$DEPLOY/io.fractal.metrics.cfg"
printf 'host=0.0.0.0\nport=%s\n' "$ssh_port" >"$DEPLOY/io.fractal.ssh.cfg"

cluster="$DEPLOY/io.fractal.cluster.cfg"
case "${FRACTAL_CLUSTER_ENABLED:-false}" in
  true|TRUE|1|yes)
    bind="${FRACTAL_CLUSTER_BIND:-$(hostname -i 2>/dev/null | awk '{print $1}')}"
    [ -n "$bind" ] || die "cannot tell the container's address: set FRACTAL_CLUSTER_BIND"
    [[ "$bind" != "0.0.0.0" ]] || die "FRACTAL_CLUSTER_BIND must be one address, not 0.0.0.0"
    cport="$(number FRACTAL_CLUSTER_PORT "${FRACTAL_CLUSTER_PORT:-5701}")"
    secret_line=""
    if [ -n "${FRACTAL_CLUSTER_SECRET:-}" ]; then
      secret_line="secret=${FRACTAL_CLUSTER_SECRET}"
    elif [ -n "${FRACTAL_CLUSTER_SECRET_FILE:-}" ]; then
      [ -r "$FRACTAL_CLUSTER_SECRET_FILE" ] || die "FRACTAL_CLUSTER_SECRET_FILE $FRACTAL_CLUSTER_SECRET_FILE is not readable"
      secret_line="secret.file=${FRACTAL_CLUSTER_SECRET_FILE}"
    else
      die "the cluster needs a shared secret: set FRACTAL_CLUSTER_SECRET or FRACTAL_CLUSTER_SECRET_FILE"
    fi
    {
      echo "enabled=true"
      echo "cluster.name=${FRACTAL_CLUSTER_NAME:-fractal}"
      echo "node.name=${FRACTAL_NODE_NAME:-$(hostname)}"
      echo "bind.address=$bind"
      echo "port=$cport"
      echo "advertise.url=http://$bind:$http_port/"
      echo "$secret_line"
      if [ -n "${FRACTAL_KUBERNETES_SERVICE_DNS:-}" ]; then
        echo "kubernetes.enabled=true"
        echo "kubernetes.service.dns=$FRACTAL_KUBERNETES_SERVICE_DNS"
      elif [ -n "${FRACTAL_KUBERNETES_SERVICE_NAME:-}" ]; then
        echo "kubernetes.enabled=true"
        echo "kubernetes.service.name=$FRACTAL_KUBERNETES_SERVICE_NAME"
        [ -z "${FRACTAL_KUBERNETES_NAMESPACE:-}" ] || echo "kubernetes.namespace=$FRACTAL_KUBERNETES_NAMESPACE"
      else
        [ -n "${FRACTAL_CLUSTER_MEMBERS:-}" ] || die "set FRACTAL_CLUSTER_MEMBERS (TCP/IP join) or Kubernetes discovery"
        echo "members=$FRACTAL_CLUSTER_MEMBERS"
      fi
    } >"$cluster"
    chmod 600 "$cluster"
    ;;
  false|FALSE|0|no|"")
    rm -f "$cluster"
    ;;
  *) die "FRACTAL_CLUSTER_ENABLED must be true or false, not '$FRACTAL_CLUSTER_ENABLED'" ;;
esac

if [ "${FRACTAL_ENTRYPOINT_DRY_RUN:-0}" = 1 ]; then
  for f in "$DEPLOY"/io.fractal.{rest,metrics,ssh,cluster}.cfg; do
    [ -f "$f" ] && { echo "# $(basename "$f")"; sed 's/^secret=.*/secret=<set>/' "$f"; }
  done
  exit 0
fi
exec "$FRACTAL_HOME/bin/fractal" run
