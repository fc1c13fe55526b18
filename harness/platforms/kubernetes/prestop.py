"""The Redis pods' preStop hook: a primary that is asked to stop hands its role over first.

Without it every planned deletion of a primary pod (a rolling update, a node drain, `kubectl delete
pod`) costs clients a full detection time (`down-after-milliseconds` or `cluster-node-timeout`) plus
the failover. With it the pod, still serving, makes the failover happen before SIGTERM:

- sentinel topology: pause writes (CLIENT PAUSE WRITE, so nothing is acknowledged that the new
  primary will lack: the write loss of bitnami/charts#12598), wait until a replica has every
  acknowledged write, ask a sentinel for SENTINEL FAILOVER, wait until the sentinels name another
  primary, then turn this server into its replica and drop clients so they fail fast and ask the
  sentinels again instead of waiting on a paused connection.
- cluster topology: a replica of this primary runs CLUSTER FAILOVER (the coordinated, lossless
  kind: the primary pauses its clients and the replica waits for its offset), and the hook waits
  until this server is a replica.

Everything is bounded by PRESTOP_BUDGET_S, which the renderer keeps inside the pod's
terminationGracePeriodSeconds. A server that is not a primary, or a topology without replicas,
stops at once. The hook is only rendered when the topology's `prestop_failover` switch is on, so
chaos scenarios can still measure the unassisted failover.
"""

from __future__ import annotations

REDIS_PRESTOP = r"""#!/bin/sh
# preStop for Redis pods: a primary hands its role to a replica before the pod stops.
# Usage: redis-prestop.sh   (exit 1 when no hand-over happened: the kubelet records a
# FailedPreStopHook event with this output, and sends SIGTERM after it either way)
set -u
. "${SCRIPTS_DIR:-$(dirname "$0")}/common.sh"
: "${TOPOLOGY:=standalone}"
: "${PRESTOP_BUDGET_S:=20}"
: "${CATCH_UP_S:=3}"

# Each line also goes to the server's own log stream (PID 1's stdout): the kubelet keeps a hook's
# output only when it fails, and `kubectl logs` and the run's logs/ should show every hand-over.
log() {
  _line="$(date -u +%Y-%m-%dT%H:%M:%SZ) [redis-prestop.sh] $*"
  echo "$_line" >&2
  { echo "$_line" >> /proc/1/fd/1; } 2>/dev/null || :
}

deadline=$(( $(date +%s) + PRESTOP_BUDGET_S ))
in_time() { [ "$(date +%s)" -lt "$deadline" ]; }
me() { rcli "$LOCAL_HOST" "$REDIS_PORT" "$@"; }

# replicas_caught_up OFFSET: at least one online replica has acknowledged OFFSET
replicas_caught_up() {
  me INFO replication 2>/dev/null | tr -d '\r' |
    awk -F'[:,=]' -v want="$1" '$1 ~ /^slave[0-9]+$/ { for (i = 2; i < NF; i += 2) if ($i == "offset" && $(i+1) >= want) ok = 1 } END { exit !ok }'
}

# named_by SENTINEL: the host the sentinel names as primary now (nothing if it does not answer)
named_by() { scli "$1" SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | tr -d '\r' | sed -n 1p; }
is_me() { [ "$1" = "$MY_HOST" ] || [ "$1" = "$POD_IP" ]; }

sentinel_handover() {
  _reversed=
  for _s in $(sentinel_hosts); do _reversed="$_s $_reversed"; done
  _named=
  for _s in $_reversed; do _named=$(named_by "$_s"); [ -n "$_named" ] && break; done
  is_me "${_named:-none}" || { log "the sentinels do not name this pod as primary (${_named:-none}): nothing to hand over"; return 0; }
  _ms=$(( (deadline - $(date +%s)) * 1000 ))
  if me CLIENT PAUSE "$_ms" WRITE 2>/dev/null | grep -q '^OK'; then
    log "writes paused for at most ${_ms} ms"
  else
    log "CLIENT PAUSE WRITE refused (a server before 6.2): failing over without pausing writes"
  fi
  _offset=$(field "$(me INFO replication)" master_repl_offset)
  _until=$(( $(date +%s) + CATCH_UP_S ))
  until replicas_caught_up "${_offset:-0}"; do
    [ "$(date +%s)" -lt "$_until" ] || { log "no replica reached offset $_offset in ${CATCH_UP_S}s"; break; }
    sleep 0.05
  done
  # The sentinel that leads a failover names the new primary last (at failover-end, after it has
  # reconfigured the other replicas: about a second after its peers, which switch on the promoted
  # replica's hello). Clients ask the sentinels in their listed order, so the last one leads.
  _asked=
  for _s in $_reversed; do
    _r=$(scli "$_s" SENTINEL FAILOVER "$MASTER_NAME" 2>&1 | tr -d '\r')
    case "$_r" in OK*|*INPROG*) _asked=$_s; log "sentinel $_s: SENTINEL FAILOVER: $_r"; break ;; esac
    log "sentinel $_s refused SENTINEL FAILOVER: $_r"
  done
  [ -n "$_asked" ] || { me CLIENT UNPAUSE >/dev/null 2>&1; log "no sentinel would fail over"; return 1; }
  _new=
  while [ -z "$_new" ] && in_time; do
    for _s in $(sentinel_hosts); do
      _h=$(named_by "$_s")
      if [ -n "$_h" ] && ! is_me "$_h"; then _new=$_h; break; fi
    done
    [ -n "$_new" ] || sleep 0.05
  done
  [ -n "$_new" ] || { log "no sentinel names another primary after ${PRESTOP_BUDGET_S}s; stopping anyway"; return 1; }
  log "the sentinels name $_new as primary: following it, dropping clients"
  me REPLICAOF "$_new" "$REDIS_PORT" >/dev/null
  me CLIENT UNPAUSE >/dev/null 2>&1
  me CLIENT KILL TYPE normal >/dev/null 2>&1
  # stay up (answering READONLY, a fast error) until every sentinel names the new primary: a client
  # that asks a slower sentinel meanwhile must not find a closed port and wait out its timeouts
  while in_time; do
    _stale=
    for _s in $(sentinel_hosts); do is_me "$(named_by "$_s")" && _stale=$_s; done
    [ -z "$_stale" ] && { log "every sentinel names $_new"; return 0; }
    sleep 0.05
  done
  return 0
}

cluster_handover() {
  _nodes=$(me CLUSTER NODES | tr -d '\r')
  _myid=$(printf '%s\n' "$_nodes" | awk '$3 ~ /myself/ {print $1}')
  printf '%s\n' "$_nodes" | awk '$3 ~ /myself/ && $3 ~ /master/ && NF >= 9 {found=1} END {exit !found}' ||
    { log "not a primary with slots: nothing to hand over"; return 0; }
  # a manual failover that timed out (its election lost, or the replica slow to catch up) is asked
  # again, of each connected replica in turn, until the budget is spent
  _round=0
  while in_time; do
    _round=$((_round + 1))
    _asked=
    for _replica in $(me CLUSTER NODES | tr -d '\r' |
        awk -v me="$_myid" '$4 == me && $3 ~ /slave/ && $3 !~ /fail/ && $8 == "connected" { split($2, a, "[:@,]"); print a[1] }'); do
      in_time || break
      _r=$(rcli "$_replica" "$REDIS_PORT" CLUSTER FAILOVER 2>&1 | tr -d '\r')
      log "round $_round, replica $_replica: CLUSTER FAILOVER: $_r"
      case "$_r" in OK*) _asked=$_replica ;; *) continue ;; esac
      _until=$(( $(date +%s) + CATCH_UP_S + 5 ))
      while in_time && [ "$(date +%s)" -lt "$_until" ]; do
        if [ "$(field "$(me INFO replication)" role)" = slave ]; then log "now a replica of $_replica"; return 0; fi
        sleep 0.1
      done
      log "replica $_replica did not take over within $((CATCH_UP_S + 5))s"
    done
    [ -n "$_asked" ] || sleep 0.5  # no replica accepted: its link may be coming back
  done
  log "no replica took over in ${PRESTOP_BUDGET_S}s; stopping anyway"
  return 1
}

[ "$(field "$(me INFO replication 2>/dev/null)" role)" = master ] || { log "not a primary: nothing to hand over"; exit 0; }
case "$TOPOLOGY" in
  sentinel) sentinel_handover ;;
  cluster) cluster_handover ;;
  *) log "a standalone server has no replica to hand over to" ;;
esac
"""
