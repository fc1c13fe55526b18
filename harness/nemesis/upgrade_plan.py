"""Rolling-upgrade strategies as data: the phases each runs, per shard, in order.

A phase names *which* pods it acts on by their role when it starts (roles move during a drill: the
primary of phase 1 is a replica by phase 3), never by pod name:

- `each-replica`: every replica of the shard's current primary, one step per replica, each waiting
  for the link up and the offset caught up before the next;
- `switch-over`: one controlled failover to an upgraded replica that waits for the replica to catch
  up before roles change (Sentinel: SENTINEL FAILOVER with writes paused; Cluster: CLUSTER FAILOVER);
- `old-primary`: the pod that was primary when the shard's phases began (a replica by now);
- `primary`: the shard's current primary, restarted in place with no failover;
- `everything`: every Redis pod of every shard in one step, all stopped together.

`rollback` is `replicas-first` to the new version and then `replicas-first` back to the version
each pod started with: the second half is the question "can we go back?".
"""

from __future__ import annotations

from dataclasses import dataclass

REPLICAS_FIRST = ("each-replica", "switch-over", "old-primary")


@dataclass(frozen=True)
class Leg:
    """Phases run shard by shard towards one target: `to` is a server spec, or None for "back to each
    pod's original server"."""

    phases: tuple[str, ...]
    to: str | None
    per_shard: bool = True


STRATEGIES: dict[str, tuple[tuple[str, ...], ...]] = {
    "replicas-first": (REPLICAS_FIRST,),
    "naive/all-at-once": (("everything",),),
    "naive/primary-first": (("primary", "each-replica"),),
    "rollback": (REPLICAS_FIRST, REPLICAS_FIRST),
}


def legs(strategy: str, naive_order: str, to: str) -> list[Leg]:
    """The legs a drill runs: one, or two for rollback (there and back)."""
    key = f"naive/{naive_order}" if strategy == "naive" else strategy
    phases = STRATEGIES[key]
    return [Leg(p, to if i == 0 else None, per_shard="everything" not in p) for i, p in enumerate(phases)]
