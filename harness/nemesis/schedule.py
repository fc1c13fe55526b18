"""The nemesis: fires a scenario's faults at their times, heals each at its end, and heals all on stop.

One scheduler thread walks the firings in time order and hands each to its own worker thread
(apply, verify, wait out the duration, heal), so faults overlap and repeat freely and a slow
heal (a pod restart) never delays the next firing. Every firing's record is registered before
it acts and applying holds the record's lock, so `heal_all` — from `stop`, a signal handler's
`finally`, or a failing run — waits for a half-made fault and then undoes exactly what it did.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from harness.errors import CapabilityError
from harness.nemesis import faults as kinds
from harness.nemesis import feasibility
from harness.nemesis.faults import ActiveFault, Context
from harness.nemesis.targets import rng_for
from harness.deployment import Deployment
from harness.platforms.protocol import Platform
from harness.rundir import EventLog, RunClock
from harness.poll import join_all
from harness.scenario import Fault, Upgrade

SOURCE = "nemesis"
VERIFY_WITHIN_S = 15.0  # a fault's verification polls at most this long (or until the firing ends)


@dataclass(order=True)
class Firing:
    start: float
    end: float
    fault_id: str = field(compare=False)
    fault: Fault = field(compare=False)


@dataclass
class _Slot:
    record: ActiveFault
    lock: threading.Lock = field(default_factory=threading.Lock)


class Nemesis:
    def __init__(self, platform: Platform, deployment: Deployment, faults: list, events: EventLog, clock: RunClock, *,
                 seed: int = 0):
        self.ctx = Context(platform, deployment, seed)
        self.faults = list(faults)
        self.events, self.clock, self.seed = events, clock, seed
        self.firings = sorted(
            Firing(start, end, f"{index}.{n}", fault)
            for index, fault in enumerate(self.faults)
            for n, (start, end) in enumerate(fault.firings())
        )
        self._slots: dict[str, _Slot] = {}
        self._registry = threading.Lock()
        self._stopping = threading.Event()
        self._scheduler: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self._drills: list = []  # upgrade drills started (harness.nemesis.upgrade.Drill)

    # ------------------------------------------------------------------ public
    def refuse_infeasible(self) -> None:
        """Raise CapabilityError listing every fault this platform cannot make, before the run starts."""
        found = feasibility.problems(self.ctx, self.faults)
        if found:
            raise CapabilityError("the nemesis cannot make these faults here:\n  " + "\n  ".join(found))

    def start(self) -> None:
        self._scheduler = threading.Thread(target=self._schedule, name="nemesis", daemon=True)
        self._scheduler.start()

    def active(self) -> list[str]:
        """Faults in effect now, e.g. `0.1 partition redis-0`."""
        with self._registry:
            slots = list(self._slots.values())
        steps = [d.current for d in self._drills if d.current]
        return [f"{s.record.fault_id} {s.record.kind} " + (",".join(s.record.pods) if s.record.started else "(starting)")
                for s in slots if not s.record.healed and (s.record.started or s.record.heal_error is None)] + steps

    def next_firing(self, now: float) -> str | None:
        """The first firing not yet begun, e.g. `pod-kill at 20s`: a progress line at a fault's start second,
        before the scheduler has taken it up, says what is about to happen rather than only "no fault active".
        (A drill begins without a slot: by its time.)"""
        with self._registry:
            begun = set(self._slots)
        upcoming = next((f for f in self.firings if f.fault_id not in begun
                         and (f.start >= now or not isinstance(f.fault, Upgrade) and not self._stopping.is_set())),
                        None)
        return f"{upcoming.fault.kind} at {upcoming.start:g}s" if upcoming else None

    def heal_all(self) -> list[str]:
        """Heal every fault still in effect (idempotent); returns what could not be healed."""
        with self._registry:
            slots = list(self._slots.values())
        errors = []
        for slot in slots:
            error = self._heal(slot)
            if error:
                errors.append(error)
        return errors

    def stop(self, timeout: float = 120.0) -> list[str]:
        """No new firing starts; every active fault is healed; worker threads are joined."""
        self._stopping.set()
        errors = self.heal_all()
        join_all([self._scheduler, *self._workers], timeout)
        return errors + [e for e in self.heal_all() if e not in errors]  # a firing that finished applying late

    def done(self) -> bool:
        """Every firing has been applied and healed (or stopped)."""
        scheduler_done = self._scheduler is not None and not self._scheduler.is_alive()
        return scheduler_done and not any(t.is_alive() for t in self._workers)

    # ------------------------------------------------------------------ threads
    def _schedule(self) -> None:
        for firing in self.firings:
            if self._stopping.wait(max(0.0, firing.start - self.clock.t())):
                return
            worker = threading.Thread(target=self._fire, args=(firing,), name=f"fault-{firing.fault_id}",
                                      daemon=True)
            self._workers.append(worker)
            worker.start()

    def _fire(self, firing: Firing) -> None:
        if isinstance(firing.fault, Upgrade):  # a drill: timed steps of its own, nothing to heal (see upgrade.py)
            from harness.nemesis.upgrade import new_drill

            drill = new_drill(self.ctx, firing.fault, firing.fault_id, self.events, self._stopping)
            self._drills.append(drill)
            drill.run()
            return
        slot = self._register(firing)
        if slot is None:
            return
        try:
            if self._apply(slot, firing):
                # A firing that started late (a slow apply) still lasts its duration: cut short, a primary
                # kill of 8 s became 1.7 s and the old primary came back mid-failover.
                end = max(firing.end, self.clock.t() + (firing.end - firing.start))
                self._verify(slot, firing)
                self._stopping.wait(max(0.0, end - self.clock.t()))
        finally:
            self._heal(slot)

    def _register(self, firing: Firing) -> _Slot | None:
        with self._registry:
            if self._stopping.is_set():
                return None
            slot = _Slot(kinds.plan(firing.fault, firing.fault_id))
            self._slots[firing.fault_id] = slot
            return slot

    def _apply(self, slot: _Slot, firing: Firing) -> bool:
        record = slot.record
        with slot.lock:
            if record.healed:
                return False
            try:
                kinds.apply(self.ctx, firing.fault, record, rng_for(self.seed, record.fault_id))
            except Exception as exc:  # noqa: BLE001 - a fault that cannot fire is reported, and the run goes on
                self._emit("fault-error", record, detail=f"could not apply: {exc}")
                return False
            self._emit("fault-start", record, target=record.target, pod=record.event_pod,
                       params={**record.params, **self._extra_params(record)})
            return True

    def _verify(self, slot: _Slot, firing: Firing) -> None:
        deadline = time.monotonic() + min(VERIFY_WITHIN_S, max(0.5, firing.end - self.clock.t() - 0.5))
        try:
            results = kinds.verify(self.ctx, firing.fault, slot.record, deadline)
        except Exception as exc:  # noqa: BLE001 - a failed check is a finding, not a crash
            results = [(False, f"verification failed: {exc}")]
        with slot.lock:
            if slot.record.healed:
                return  # healed while checking: the result says nothing about the fault
            for ok, detail in results:
                self.events.emit(SOURCE, "fault-verified", fault_id=slot.record.fault_id, ok=ok, detail=detail)

    def _heal(self, slot: _Slot) -> str | None:
        record = slot.record
        with slot.lock:
            if record.healed:
                return None
            if record.heal_error is not None:  # not again at the run's end: a heal that waited out its
                return f"{record.fault_id} {record.kind}: {record.heal_error}"  # timeout would wait it out twice more
            try:
                kinds.heal(self.ctx, record)
            except Exception as exc:  # noqa: BLE001 - reported; heal_all goes on with the others
                record.heal_error = str(exc)
                self._emit("fault-error", record, detail=f"could not heal: {exc}")
                return f"{record.fault_id} {record.kind}: {exc}"
            if record.started:
                observed = {"observed": record.observed} if record.observed else {}
                self._emit("fault-end", record, pod=record.event_pod, **observed)
            return None

    # ------------------------------------------------------------------ events
    def _emit(self, type: str, record: ActiveFault, **fields) -> None:
        self.events.emit(SOURCE, type, fault_id=record.fault_id, kind=record.kind, **fields)

    @staticmethod
    def _extra_params(record: ActiveFault) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if record.sides:
            extra["sides"] = record.sides
        if record.chain:
            extra["chain"] = record.chain
        if record.ops:
            extra["ops"] = record.ops  # a planning platform's operations, as its dry run prints them
        return extra
