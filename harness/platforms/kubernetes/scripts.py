"""The shell scripts the Kubernetes pods run, shipped in the `redis-scripts` ConfigMap.

Plain POSIX sh over redis-cli, so the tests can run them here against real local pods: every
address they talk to comes from an environment variable (`SENTINEL_HOSTS`, `CLUSTER_HOSTS`,
`MY_HOST`, ...) that defaults to the StatefulSet's DNS names inside a cluster.

Each script sources `common.sh` from its own folder. Run a script with `decide` (redis-start.sh)
or `conf` to print what it would do without starting a server; the tests use both.
"""

from __future__ import annotations

from harness.platforms.kubernetes.prestop import REDIS_PRESTOP

COMMON = r"""# Shared by every redis-harness pod script: settings, bounded redis-cli calls, DNS names.
: "${REDIS_PORT:=6379}"
: "${SENTINEL_PORT:=26379}"
: "${MASTER_NAME:=mymaster}"
: "${HEADLESS_SERVICE:=redis-headless}"
: "${SENTINEL_HEADLESS_SERVICE:=sentinel-headless}"
: "${SENTINEL_COUNT:=3}"
: "${CLUSTER_DOMAIN:=cluster.local}"
: "${POD_NAMESPACE:=default}"
: "${POD_NAME:=$(hostname)}"
: "${POD_IP:=}"
: "${INITIAL_PRIMARY:=redis-0}"
: "${CONFIG_DIR:=/etc/redis}"
: "${RUN_DIR:=/run/redis}"
: "${DATA_DIR:=/data}"
: "${REDIS_PASSWORD:=}"
: "${REDIS_TLS:=no}"
: "${TLS_DIR:=/tls}"
: "${CLI_TIMEOUT_S:=3}"
: "${LOCAL_HOST:=127.0.0.1}"  # how a pod reaches its own server

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) [$(basename "$0")] $*" >&2; }

# pod_host POD SERVICE: the stable DNS name of a StatefulSet pod behind its headless Service
pod_host() { printf '%s.%s.%s.svc.%s\n' "$1" "$2" "$POD_NAMESPACE" "$CLUSTER_DOMAIN"; }

: "${MY_HOST:=$(pod_host "$POD_NAME" "$HEADLESS_SERVICE")}"
: "${INITIAL_PRIMARY_HOST:=$(pod_host "$INITIAL_PRIMARY" "$HEADLESS_SERVICE")}"

tls_args() {
  if [ "$REDIS_TLS" = yes ]; then
    printf -- '--tls --cacert %s/ca.crt --cert %s/tls.crt --key %s/tls.key' "$TLS_DIR" "$TLS_DIR" "$TLS_DIR"
  fi
}

# cli HOST PORT ARGS...: one redis-cli command, bounded in time; the password travels in REDISCLI_AUTH,
# never on a command line (where ps shows it)
cli() {
  _h=$1; _p=$2; shift 2
  if [ -n "$REDIS_PASSWORD" ]; then
    REDISCLI_AUTH=$REDIS_PASSWORD timeout "$CLI_TIMEOUT_S" redis-cli -h "$_h" -p "$_p" $(tls_args) --raw "$@"
  else
    timeout "$CLI_TIMEOUT_S" redis-cli -h "$_h" -p "$_p" $(tls_args) --raw "$@"
  fi
}

# rcli HOST PORT ARGS...: one command to a Redis server
rcli() { cli "$@"; }

# scli HOST ARGS...: one command to a sentinel (which asks for the same password as the servers)
scli() { _h=$1; shift; cli "$_h" "$SENTINEL_PORT" "$@"; }

# require_auth: with REQUIRE_AUTH=yes (the shipped manifests) a pod without a password refuses to start
require_auth() {
  if [ "${REQUIRE_AUTH:-no}" = yes ] && [ -z "$REDIS_PASSWORD" ]; then
    log "no password: the Secret redis-auth (key password) is missing or empty; create it first:"
    log "  kubectl create secret generic redis-auth --from-literal=password=\"\$(openssl rand -hex 24)\""
    exit 1
  fi
}

# field TEXT NAME: the value of NAME:value in INFO output
field() { printf '%s\n' "$1" | tr -d '\r' | sed -n "s/^$2://p" | head -n 1; }

# resolve HOST: an IPv4 address for HOST (CLUSTER MEET wants an address, not a name)
resolve() {
  case "$1" in
    *[!0-9.]*) getent hosts "$1" | awk '{print $1; exit}' ;;
    *) echo "$1" ;;
  esac
}

sentinel_hosts() {
  if [ -n "${SENTINEL_HOSTS:-}" ]; then echo "$SENTINEL_HOSTS"; return; fi
  _i=0; _out=
  while [ "$_i" -lt "$SENTINEL_COUNT" ]; do
    _out="$_out $(pod_host "sentinel-$_i" "$SENTINEL_HEADLESS_SERVICE")"
    _i=$((_i + 1))
  done
  echo $_out
}

# sentinel_primary [SKIP_HOST]: "host port" of the primary as most answering sentinels name it;
# nothing when no sentinel answers (a fresh deployment)
sentinel_primary() {
  _answers=
  for _s in $(sentinel_hosts); do
    [ "$_s" = "${1:-}" ] && continue
    _a=$(scli "$_s" SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | tr -d '\r')
    _host=$(printf '%s\n' "$_a" | sed -n 1p)
    _port=$(printf '%s\n' "$_a" | sed -n 2p)
    case "$_port" in ''|*[!0-9]*) continue ;; esac
    _answers="$_answers$_host $_port
"
  done
  [ -n "$_answers" ] || return 0
  printf '%s' "$_answers" | sort | uniq -c | sort -k1,1nr -k2 | head -n 1 | awk '{print $2, $3}'
}
"""

REDIS_START = r"""#!/bin/sh
# Start redis-server for the standalone, sentinel or cluster topology (TOPOLOGY).
#
# sentinel: ask the sentinels for the current primary first. A pod that comes back after a
# failover starts as a replica of the new primary, never as a second primary. A pod the
# sentinels still name as primary but that lost its data (emptyDir) waits for the failover
# instead of starting empty: its replicas would otherwise copy the empty data set.
# cluster: a pod that kept nodes.conf gets its new pod address written into it; a fresh pod
# (no nodes.conf) joins the running cluster as a replica and makes the cluster forget its old id.
#
# Usage: redis-start.sh [run|decide|conf]
set -eu
. "${SCRIPTS_DIR:-$(dirname "$0")}/common.sh"
: "${TOPOLOGY:=standalone}"
: "${PRIMARY_WAIT_S:=120}"
: "${JOIN_WAIT_S:=120}"
: "${CLUSTER_HOSTS:=}"
: "${CLUSTER_ANNOUNCE_HOSTNAME:=no}"
: "${PERSISTENCE:=}"  # aof | rdb: the persistent-volumes component turns persistence on to match the volume

has_data() {
  [ -s "$DATA_DIR/dump.rdb" ] || [ -d "$DATA_DIR/appendonlydir" ] || [ -s "$DATA_DIR/appendonly.aof" ]
}

# A replica the sentinels know that has replicated before: a failover can promote it.
promotable_replica_exists() {
  for _s in $(sentinel_hosts); do
    _pairs=$(scli "$_s" SENTINEL replicas "$MASTER_NAME" 2>/dev/null | tr -d '\r' |
      awk 'prev=="ip"{ip=$0} prev=="port"{print ip, $0} {prev=$0}') || continue
    printf '%s\n' "$_pairs" | while read -r _h _p; do
      [ -n "$_h" ] || continue
      _info=$(rcli "$_h" "$_p" INFO replication 2>/dev/null) || continue
      _off=$(field "$_info" slave_repl_offset)
      if [ "$(field "$_info" role)" = slave ] && [ "${_off:-0}" -gt 0 ]; then echo yes; break; fi
    done | grep -q yes && return 0
  done
  return 1
}

# decide_role: "primary", "replica HOST PORT", or "wait" (the sentinels have not failed over yet)
decide_role() {
  _primary=$(sentinel_primary)
  if [ -z "$_primary" ]; then
    if [ "$POD_NAME" = "$INITIAL_PRIMARY" ]; then
      echo primary
    else
      echo "replica $INITIAL_PRIMARY_HOST $REDIS_PORT"
    fi
    return
  fi
  set -- $_primary
  if [ "$1" = "$MY_HOST" ] || [ "$1" = "$POD_IP" ]; then
    if has_data || ! promotable_replica_exists; then echo primary; else echo wait; fi
  else
    echo "replica $1 $2"
  fi
}

wait_for_role() {
  _deadline=$(( $(date +%s) + PRIMARY_WAIT_S ))
  while :; do
    _role=$(decide_role)
    [ "$_role" != wait ] && { echo "$_role"; return 0; }
    if [ "$(date +%s)" -ge "$_deadline" ]; then
      log "the sentinels still name this empty pod as primary after ${PRIMARY_WAIT_S}s; not starting empty"
      return 1
    fi
    log "the sentinels name this pod as primary but it has no data: waiting for their failover"
    sleep 1
  done
}

# update_nodes_conf FILE IP: a restarted pod has a new address; nodes.conf still has the old one
update_nodes_conf() {
  [ -f "$1" ] && [ -n "$2" ] || return 0
  sed -i "/myself/ s/ [0-9.]*:\([0-9]*@[0-9]*\)/ $2:\1/" "$1"
}

write_conf() {
  mkdir -p "$RUN_DIR"
  _conf="$RUN_DIR/redis.conf"
  (umask 077 && cp "$CONFIG_DIR/redis.conf" "$_conf")
  {
    echo "# added by redis-start.sh"
    case "$PERSISTENCE" in
      aof) echo "appendonly yes" ;;
      rdb) echo "save 3600 1 300 100 60 10000" ;;
    esac
    if [ -n "$REDIS_PASSWORD" ]; then
      printf 'requirepass "%s"\nmasterauth "%s"\n' "$REDIS_PASSWORD" "$REDIS_PASSWORD"
    fi
    if [ "$REDIS_TLS" = yes ]; then
      printf 'tls-port %s\nport 0\n' "$REDIS_PORT"
      printf 'tls-cert-file %s/tls.crt\ntls-key-file %s/tls.key\ntls-ca-cert-file %s/ca.crt\n' "$TLS_DIR" "$TLS_DIR" "$TLS_DIR"
      # TLS 1.2 only, as on the local platform (harness/pod_config.py says why: redis-py's hiredis parser)
      printf 'tls-replication yes\ntls-cluster yes\ntls-auth-clients yes\ntls-protocols TLSv1.2\n'
    fi
    case "$TOPOLOGY" in
      sentinel)
        echo "replica-announce-ip $MY_HOST"
        case "$1" in replica*) set -- $1; echo "replicaof $2 $3" ;; esac
        ;;
      cluster)
        [ "$CLUSTER_ANNOUNCE_HOSTNAME" = yes ] && echo "cluster-announce-hostname $MY_HOST"
        ;;
    esac
  } >> "$_conf"
  echo "$_conf"
}

# ---------------------------------------------------------------- cluster: a fresh pod rejoins

cluster_nodes() { rcli "$1" "$REDIS_PORT" CLUSTER NODES 2>/dev/null | tr -d '\r'; }

# A peer that belongs to a formed cluster (knows other nodes and has slots assigned).
formed_peer() {
  for _h in $CLUSTER_HOSTS; do
    [ "$_h" = "$MY_HOST" ] && continue
    _info=$(rcli "$_h" "$REDIS_PORT" CLUSTER INFO 2>/dev/null) || continue
    _known=$(field "$_info" cluster_known_nodes)
    _slots=$(field "$_info" cluster_slots_assigned)
    if [ "${_known:-0}" -gt 1 ] && [ "${_slots:-0}" -gt 0 ]; then echo "$_h"; return 0; fi
  done
  return 1
}

# a_primary_failing PEER: a primary with slots (as PEER lists it) is flagged failing or does not answer
# PING from this pod: its failover has not happened yet. A pod deleted and recreated within
# cluster-node-timeout finds its own dead incarnation still listed as a primary, neither flagged nor
# with its bus link shown down (a pending reconnect counts as connected); replicating it would leave
# this pod a replica of a dead address for good (seen on the fixture: tests/test_k8s_cluster_rejoin.py).
a_primary_failing() {
  cluster_nodes "$1" | awk '$3 ~ /master/ && NF >= 9 { split($2, a, "[:@,]"); print a[1], a[2], $3 }' | {
    while read -r _h _p _flags; do
      case "$_flags" in *fail*) exit 0 ;; esac
      rcli "$_h" "$_p" PING </dev/null 2>/dev/null | grep -q PONG || exit 0
    done
    exit 1
  }
}

# stdin CLUSTER NODES: the healthy primary with slots that has the fewest healthy replicas
pick_primary() {
  awk '
    { ok = ($3 !~ /fail/ && $3 !~ /noaddr/ && $3 !~ /handshake/) }
    $3 ~ /master/ && NF >= 9 && ok { masters[$1] = 1; if (!($1 in n)) n[$1] = 0 }
    $3 ~ /slave/ && ok { n[$4]++ }
    END { best = ""; for (m in masters) if (best == "" || n[m] < n[best] || (n[m] == n[best] && m < best)) best = m; print best }'
}

# stdin CLUSTER NODES, $1 my id, $2 my address: earlier incarnations of this pod that hold no
# slots: same hostname, same address, or an address another node id answered on (noaddr)
stale_ids() {
  awk -v me="$1" -v host="$MY_HOST" -v addr="$2" '
    $1 == me || $3 ~ /myself/ || NF >= 9 { next }
    { split($2, a, ","); split(a[1], ip, "@") }
    a[2] == host || ip[1] == addr || ($3 ~ /noaddr/ && $3 ~ /fail/) { print $1 }'
}

cluster_join() {
  _self=$LOCAL_HOST
  _info=$(rcli "$_self" "$REDIS_PORT" CLUSTER INFO) || { log "cannot ask this pod for CLUSTER INFO"; return 1; }
  if [ "$(field "$_info" cluster_known_nodes)" -gt 1 ]; then
    log "kept nodes.conf: rejoining through gossip"
    return 0
  fi
  _peer=$(formed_peer) || { log "no formed cluster yet: the bootstrap Job creates it"; return 0; }
  _deadline=$(( $(date +%s) + JOIN_WAIT_S ))
  log "fresh pod: joining the cluster through $_peer"
  rcli "$_self" "$REDIS_PORT" CLUSTER MEET "$(resolve "$_peer")" "$REDIS_PORT" >/dev/null
  while a_primary_failing "$_peer"; do
    [ "$(date +%s)" -lt "$_deadline" ] || { log "a primary is still failing; joining anyway"; break; }
    sleep 1
  done
  _myid=$(rcli "$_self" "$REDIS_PORT" CLUSTER MYID)
  while :; do
    _primary=$(cluster_nodes "$_peer" | pick_primary)
    if [ -n "$_primary" ] && cluster_nodes "$_self" | grep -q "^$_primary " &&
       rcli "$_self" "$REDIS_PORT" CLUSTER REPLICATE "$_primary" | grep -q '^OK'; then
      log "replicating $_primary"
      break
    fi
    [ "$(date +%s)" -lt "$_deadline" ] || { log "could not become a replica in ${JOIN_WAIT_S}s"; return 1; }
    sleep 1
  done
  _addr="${POD_IP:-$(resolve "$MY_HOST")}:$REDIS_PORT"
  for _stale in $(cluster_nodes "$_peer" | stale_ids "$_myid" "$_addr"); do
    log "forgetting this pod's earlier node id $_stale"
    cluster_nodes "$_peer" | awk -v s="$_stale" '$1 != s && $3 !~ /fail/ { split($2, a, "[:@,]"); print a[1], a[2] }' |
      while read -r _h _p; do rcli "$_h" "$_p" CLUSTER FORGET "$_stale" >/dev/null 2>&1 || true; done
  done
}

run_cluster() {
  _conf=$(write_conf cluster)
  update_nodes_conf "$DATA_DIR/nodes.conf" "$POD_IP"
  server=$(command -v redis-server || command -v valkey-server)
  "$server" "$_conf" &
  _pid=$!
  trap 'kill -TERM "$_pid" 2>/dev/null' TERM INT
  _deadline=$(( $(date +%s) + 30 ))
  until rcli "$LOCAL_HOST" "$REDIS_PORT" PING 2>/dev/null | grep -q PONG; do
    kill -0 "$_pid" 2>/dev/null || break
    [ "$(date +%s)" -lt "$_deadline" ] || break
    sleep 1
  done
  cluster_join || log "join failed; the pod serves alone until it is restarted"
  while kill -0 "$_pid" 2>/dev/null; do wait "$_pid" || true; done
  wait "$_pid"
}

main() {
  _mode=${1:-run}
  require_auth
  case "$TOPOLOGY" in
    sentinel)
      _role=$(wait_for_role) || exit 1
      [ "$_mode" = decide ] && { echo "$_role"; exit 0; }
      _conf=$(write_conf "$_role")
      ;;
    cluster)
      [ "$_mode" = decide ] && { echo cluster; exit 0; }
      if [ "$_mode" = run ]; then run_cluster; exit $?; fi
      _conf=$(write_conf cluster)
      ;;
    *)
      [ "$_mode" = decide ] && { echo primary; exit 0; }
      _conf=$(write_conf primary)
      ;;
  esac
  [ "$_mode" = conf ] && { echo "$_conf"; exit 0; }
  log "starting as $TOPOLOGY ${_role:-primary}"
  exec "$(command -v redis-server || command -v valkey-server)" "$_conf"
}

[ "${REDIS_START_LIB:-}" = yes ] || main "$@"
"""

REDIS_PROBE = r"""#!/bin/sh
# Probes for Redis pods. `live`: the server answers at all (LOADING / MASTERDOWN count as alive).
# `ready`: the pod serves its role correctly, so a Service never routes clients to a stale
# primary: in a sentinel topology a primary is ready only while the sentinels name it, a replica
# only while its link to that primary is up; in a cluster only while cluster_state is ok.
. "${SCRIPTS_DIR:-$(dirname "$0")}/common.sh"
: "${TOPOLOGY:=standalone}"
: "${PROBE_HOST:=$LOCAL_HOST}"

live() {
  _r=$(rcli "$PROBE_HOST" "$REDIS_PORT" PING 2>&1) || return 1
  case "$_r" in PONG*|LOADING*|MASTERDOWN*|BUSY*) return 0 ;; esac
  echo "PING answered: $_r" >&2
  return 1
}

ready() {
  _info=$(rcli "$PROBE_HOST" "$REDIS_PORT" INFO replication) || return 1
  _role=$(field "$_info" role)
  case "$TOPOLOGY" in
    cluster)
      [ "$(field "$(rcli "$PROBE_HOST" "$REDIS_PORT" CLUSTER INFO)" cluster_state)" = ok ] ;;
    sentinel)
      _primary=$(sentinel_primary)
      [ -n "$_primary" ] || { echo "no sentinel answers" >&2; return 1; }
      set -- $_primary
      if [ "$_role" = master ]; then
        [ "$1" = "$MY_HOST" ] || [ "$1" = "$POD_IP" ] || { echo "stale primary: the sentinels name $1" >&2; return 1; }
      else
        [ "$(field "$_info" master_link_status)" = up ] || { echo "replication link down" >&2; return 1; }
        [ "$(field "$_info" master_host)" = "$1" ] || { echo "replicating $(field "$_info" master_host), not $1" >&2; return 1; }
      fi ;;
    *)
      [ "$_role" = master ] ;;
  esac
}

case "${1:-ready}" in
  live) live ;;
  ready) ready ;;
  *) echo "usage: $0 live|ready" >&2; exit 2 ;;
esac
"""

SENTINEL_START = r"""#!/bin/sh
# Start a sentinel that monitors the primary the other sentinels know now, not the primary the
# deployment started with: a sentinel restarted after a failover must not resurrect the old one.
# Usage: sentinel-start.sh [run|decide|conf]
set -eu
. "${SCRIPTS_DIR:-$(dirname "$0")}/common.sh"
: "${MY_SENTINEL_HOST:=$(pod_host "$POD_NAME" "$SENTINEL_HEADLESS_SERVICE")}"
: "${RESOLVE_WAIT_S:=120}"

decide_primary() {
  _primary=$(sentinel_primary "$MY_SENTINEL_HOST")
  if [ -n "$_primary" ]; then echo "$_primary"; else echo "$INITIAL_PRIMARY_HOST $REDIS_PORT"; fi
}

write_conf() {
  mkdir -p "$RUN_DIR"
  _conf="$RUN_DIR/sentinel.conf"
  set -- $1
  (umask 077 && awk -v m="$MASTER_NAME" -v h="$1" -v p="$2" \
    '$1 == "sentinel" && $2 == "monitor" && $3 == m { $4 = h; $5 = p } { print }' \
    "$CONFIG_DIR/sentinel.conf" > "$_conf")
  {
    echo "# added by sentinel-start.sh"
    case "$MY_SENTINEL_HOST" in *[!0-9.]*) echo "sentinel announce-ip $MY_SENTINEL_HOST" ;; esac
    if [ -n "$REDIS_PASSWORD" ]; then
      printf 'sentinel auth-pass %s "%s"\n' "$MASTER_NAME" "$REDIS_PASSWORD"
      printf 'requirepass "%s"\nsentinel sentinel-pass "%s"\n' "$REDIS_PASSWORD" "$REDIS_PASSWORD"
    fi
    if [ "$REDIS_TLS" = yes ]; then
      printf 'tls-port %s\nport 0\ntls-replication yes\ntls-auth-clients yes\ntls-protocols TLSv1.2\n' "$SENTINEL_PORT"
      printf 'tls-cert-file %s/tls.crt\ntls-key-file %s/tls.key\ntls-ca-cert-file %s/ca.crt\n' "$TLS_DIR" "$TLS_DIR" "$TLS_DIR"
    fi
  } >> "$_conf"
  echo "$_conf"
}

main() {
  _mode=${1:-run}
  require_auth
  _primary=$(decide_primary)
  [ "$_mode" = decide ] && { echo "$_primary"; exit 0; }
  _conf=$(write_conf "$_primary")
  [ "$_mode" = conf ] && { echo "$_conf"; exit 0; }
  set -- $_primary
  _deadline=$(( $(date +%s) + RESOLVE_WAIT_S ))
  until [ -n "$(resolve "$1")" ]; do
    [ "$(date +%s)" -lt "$_deadline" ] || { log "cannot resolve $1"; exit 1; }
    sleep 1
  done
  log "monitoring $MASTER_NAME at $1:$2"
  exec "$(command -v redis-server || command -v valkey-server)" "$_conf" --sentinel
}

[ "${REDIS_START_LIB:-}" = yes ] || main "$@"
"""

SENTINEL_PROBE = r"""#!/bin/sh
# Sentinel probes. `live`: PING. `ready`: the sentinel knows an address for the primary.
. "${SCRIPTS_DIR:-$(dirname "$0")}/common.sh"
: "${PROBE_HOST:=$LOCAL_HOST}"
case "${1:-ready}" in
  live) scli "$PROBE_HOST" PING | grep -q PONG ;;
  ready) [ "$(scli "$PROBE_HOST" SENTINEL get-master-addr-by-name "$MASTER_NAME" | wc -l)" -ge 2 ] ;;
  *) echo "usage: $0 live|ready" >&2; exit 2 ;;
esac
"""

CLUSTER_CREATE = r"""#!/bin/sh
# Create the Redis Cluster once every pod answers: slots spread evenly over the shard primaries,
# replicas attached with CLUSTER REPLICATE, so the layout is the one the pod names promise
# (CLUSTER_HOSTS lists pods shard by shard, primary first). Does nothing when a cluster exists.
set -eu
. "${SCRIPTS_DIR:-$(dirname "$0")}/common.sh"
require_auth
: "${CLUSTER_HOSTS:?list of pod addresses, shard by shard, primary first}"
: "${REPLICAS_PER_SHARD:=0}"
: "${BOOTSTRAP_TIMEOUT_S:=300}"

deadline=$(( $(date +%s) + BOOTSTRAP_TIMEOUT_S ))
until_ok() {  # until_ok WHAT COMMAND...: retry a check until it passes or the deadline
  _what=$1; shift
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || { log "timed out waiting for $_what"; exit 1; }
    sleep 1
  done
}
answers() { rcli "$1" "$REDIS_PORT" PING 2>/dev/null | grep -q PONG; }
info() { field "$(rcli "$1" "$REDIS_PORT" CLUSTER INFO 2>/dev/null)" "$2"; }
knows_all() { [ "$(info "$1" cluster_known_nodes)" = "$count" ]; }
state_ok() { [ "$(info "$1" cluster_state)" = ok ]; }
replicates() { rcli "$1" "$REDIS_PORT" CLUSTER REPLICATE "$2" 2>/dev/null | grep -q '^OK'; }
link_up() { [ "$(field "$(rcli "$1" "$REDIS_PORT" INFO replication 2>/dev/null)" master_link_status)" = up ]; }

set -- $CLUSTER_HOSTS
count=$#
group=$((1 + REPLICAS_PER_SHARD))
shards=$((count / group))
[ $((shards * group)) -eq "$count" ] || { log "$count hosts do not split into shards of $group"; exit 2; }

for h in $CLUSTER_HOSTS; do until_ok "$h to answer PING" answers "$h"; done

for h in $CLUSTER_HOSTS; do
  if [ "$(info "$h" cluster_slots_assigned)" != 0 ] || [ "$(info "$h" cluster_known_nodes)" != 1 ]; then
    log "a cluster exists already ($h is part of it): nothing to create"
    until_ok "$h to report cluster_state:ok" state_ok "$h"
    exit 0
  fi
done

per=$((16384 / shards))
i=0
for h in $CLUSTER_HOSTS; do
  if [ $((i % group)) -eq 0 ]; then
    s=$((i / group)); first=$((s * per)); last=$(( s == shards - 1 ? 16383 : (s + 1) * per - 1 ))
    rcli "$h" "$REDIS_PORT" CLUSTER ADDSLOTS $(seq "$first" "$last") >/dev/null
    log "$h serves slots $first-$last"
  fi
  i=$((i + 1))
done

seed_ip=$(resolve "$1")
for h in $CLUSTER_HOSTS; do
  [ "$h" = "$1" ] || rcli "$h" "$REDIS_PORT" CLUSTER MEET "$seed_ip" "$REDIS_PORT" >/dev/null
done
for h in $CLUSTER_HOSTS; do until_ok "$h to know all $count nodes" knows_all "$h"; done

i=0
for h in $CLUSTER_HOSTS; do
  if [ $((i % group)) -eq 0 ]; then
    primary_id=$(rcli "$h" "$REDIS_PORT" CLUSTER MYID | tr -d '\r')
  else
    until_ok "$h to replicate $primary_id" replicates "$h" "$primary_id"
    log "$h replicates $primary_id"
  fi
  i=$((i + 1))
done
i=0
for h in $CLUSTER_HOSTS; do
  until_ok "$h to report cluster_state:ok" state_ok "$h"
  [ $((i % group)) -eq 0 ] || until_ok "$h's replication link to come up" link_up "$h"
  i=$((i + 1))
done
log "cluster created: $shards shards x $group pods"
"""

SCRIPTS: dict[str, str] = {
    "common.sh": COMMON,
    "redis-start.sh": REDIS_START,
    "redis-probe.sh": REDIS_PROBE,
    "redis-prestop.sh": REDIS_PRESTOP,
    "sentinel-start.sh": SENTINEL_START,
    "sentinel-probe.sh": SENTINEL_PROBE,
    "cluster-create.sh": CLUSTER_CREATE,
}
