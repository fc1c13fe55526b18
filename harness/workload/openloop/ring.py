"""The requests a generator process sends: drawn once, before the step, and sent in a cycle.

Drawing and encoding a request costs a few microseconds of Python; at tens of thousands of
requests a second that is the generator's whole budget. So each process draws `size` requests
up front (command from the mix, key from the distribution, value of the configured size) and
cycles through them: the keys follow the configured distribution over a sample of `size` draws.
The ring holds at least every key of the keyspace once in expectation where memory allows
(RING_BYTES), and each entry keeps its key's cluster slot so routing is one list lookup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.workload.draws import Draws
from harness.workload.openloop import resp
from harness.workload.openloop.spec import OpenLoopLoad

RING_BYTES = 64 * 1024 * 1024
MIN_SIZE, MAX_SIZE = 4096, 1 << 18
_WITH_VALUE = ("set", "hset", "lpush")


@dataclass
class RequestRing:
    data: list[bytes]  # RESP bytes of each request
    slots: list[int]  # each request's key slot (Redis Cluster)

    @property
    def size(self) -> int:
        return len(self.data)


def ring_size(spec: OpenLoopLoad) -> int:
    per_request = 48 + spec.max_value_size
    return int(min(MAX_SIZE, max(MIN_SIZE, min(2 * spec.keyspace, RING_BYTES // per_request))))


def build_ring(spec: OpenLoopLoad, seed: int) -> RequestRing:
    draws = Draws(spec, np.random.default_rng(seed))
    data, slots = [], []
    for _ in range(ring_size(spec)):
        command = next(draws.commands)
        key = resp.key_of(command, next(draws.keys))
        data.append(resp.request(command, key, next(draws.values) if command in _WITH_VALUE else b""))
        slots.append(resp.key_slot(key))
    return RequestRing(data, slots)
