"""Pre-drawn commands, keys and values for the load generators (Locust users and the open-loop generator).

Drawing in batches with numpy keeps a request's cost to a few `next` calls; the spec is any model
with `mix`, `keyspace`, `key_distribution`, `zipf_skew` and `value_size` (LocustLoad, OpenLoopLoad).
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any, Callable, Iterator

import numpy as np

BATCH = 4096


@lru_cache(maxsize=4)
def zipf_cdf(keyspace: int, skew: float) -> np.ndarray:
    """P(rank <= k) for ranks 1..keyspace with weight 1/rank**skew (key 0 is the hottest)."""
    weights = 1.0 / np.arange(1, keyspace + 1, dtype=np.float64) ** skew
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def _stream(batch: Callable[[], list]) -> Iterator:
    while True:
        yield from batch()


class Draws:
    """Pre-drawn batches of commands, keys and value sizes: a request costs a few `next` calls."""

    def __init__(self, spec: Any, rng: np.random.Generator):
        mix = {name: weight for name, weight in spec.mix.items() if weight > 0}
        names = list(mix)
        p = np.array(list(mix.values()), dtype=np.float64)
        p /= p.sum()
        self.commands = _stream(lambda: [names[i] for i in rng.choice(len(names), BATCH, p=p).tolist()])
        if spec.key_distribution == "zipfian":
            cdf = zipf_cdf(spec.keyspace, spec.zipf_skew)
            last = spec.keyspace - 1
            self.keys = _stream(lambda: np.minimum(np.searchsorted(cdf, rng.random(BATCH), side="right"),
                                                   last).tolist())
        else:
            self.keys = _stream(lambda: rng.integers(0, spec.keyspace, BATCH).tolist())
        lo, hi = (spec.value_size, spec.value_size) if isinstance(spec.value_size, int) else spec.value_size
        payload = rng.bytes(hi)
        if lo == hi:
            self.values: Iterator[bytes] = itertools.repeat(payload)
        else:
            self.values = _stream(lambda: [payload[:n] for n in rng.integers(lo, hi + 1, BATCH).tolist()])
