#!/usr/bin/env python3
"""The user-space half of the latency fault: hold each queued packet for delay ± jitter, then let it go.

This kernel has no netem. An iptables NFQUEUE rule in the pod's network namespace hands every
packet the pod sends to this process (through the maintained `fnfqueue` binding), which
accepts each one once its delay has passed. Packets leave in the order they came (a packet
whose jitter would overtake its predecessor waits for it), so TCP sees delay, not reordering.

Run inside the pod's network: `python -m harness.nemesis.delayer --queue=N --delay-ms=100`.
It binds the queue, then detaches and prints its pid, so the caller knows the fault is live
when the command returns. It exits by itself after --lifetime-s, and on SIGTERM it first
releases every packet it holds. It lives in the pod's namespace, so a teardown kills it too.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import sys
import threading
import time



def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.check:
        return _check(args.queue)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child:
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            word = pipe.read()
        if word == "ready":
            print(child, flush=True)
            return 0
        print(word or "the delayer exited before binding its queue", file=sys.stderr)
        return 1
    os.close(read_end)
    os._exit(_serve_detached(args, write_end))


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness.nemesis.delayer", description=__doc__.splitlines()[0])
    parser.add_argument("--queue", type=int, required=True, help="NFQUEUE number")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lifetime-s", type=float, default=3600.0, help="exit by itself after this long")
    parser.add_argument("--check", action="store_true", help="bind and unbind the queue, then exit: 0 if possible")
    return parser.parse_args(argv)


def _check(queue: int) -> int:
    try:
        conn, _ = _bind(queue)
    except Exception as exc:  # noqa: BLE001 - whatever stops the bind is the answer the caller wants
        print(f"cannot bind NFQUEUE {queue}: {exc}", file=sys.stderr)
        return 1
    conn.close()
    return 0


def _bind(queue: int):
    try:
        import fnfqueue
    except ImportError:
        raise RuntimeError("the latency fault needs the PyPI package fnfqueue (pip install fnfqueue)") from None

    conn = fnfqueue.Connection(packet_size=4096)  # metadata only: no payload is copied
    try:
        q = conn.bind(queue)
        q.set_mode(0, fnfqueue.COPY_META)
        q.set_maxlen(20000)
        q.fail_open = True  # a full queue lets packets through rather than dropping them
        q.gso = True  # take GSO packets whole: nothing is modified
    except BaseException:
        conn.close()
        raise
    return conn, fnfqueue


def _serve_detached(args: argparse.Namespace, ready_fd: int) -> int:
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)  # the caller's pipes must see EOF once it is told "ready"
    try:
        conn, fnfqueue = _bind(args.queue)
    except Exception as exc:  # noqa: BLE001
        os.write(ready_fd, f"cannot bind NFQUEUE {args.queue}: {exc}".encode())
        return 1
    delayer = Delayer(conn, fnfqueue, args.delay_ms / 1000, args.jitter_ms / 1000, random.Random(args.seed))
    signal.signal(signal.SIGTERM, lambda *_: delayer.request_stop())
    signal.signal(signal.SIGINT, lambda *_: delayer.request_stop())
    os.write(ready_fd, b"ready")
    os.close(ready_fd)
    delayer.run(deadline=time.monotonic() + args.lifetime_s)
    return 0


class Delayer:
    """Packets in arrival order with their release times; the main thread accepts each when due."""

    def __init__(self, conn, fnfqueue, delay_s: float, jitter_s: float, rng: random.Random):
        self.conn, self.fnfqueue = conn, fnfqueue
        self.delay_s, self.jitter_s, self.rng = delay_s, jitter_s, rng
        self.held: collections.deque = collections.deque()
        self.cond = threading.Condition()
        self.stopping = False  # set from a signal handler: a plain flag, no lock

    def request_stop(self) -> None:
        self.stopping = True

    def _release_time(self, last: float) -> float:
        delay = max(0.0, self.delay_s + self.rng.uniform(-self.jitter_s, self.jitter_s))
        return max(time.monotonic() + delay, last)

    def _read(self) -> None:
        last = 0.0
        while not self.stopping:
            try:
                for packet in self.conn:
                    last = self._release_time(last)
                    with self.cond:
                        self.held.append((last, packet))
                        self.cond.notify()
                return  # the connection was closed
            except self.fnfqueue.BufferOverflowException:
                self.conn.reset()  # the kernel dropped some queue messages; fail_open let packets pass

    def run(self, deadline: float) -> None:
        threading.Thread(target=self._read, name="nfqueue-reader", daemon=True).start()
        while not self.stopping and time.monotonic() < deadline:
            with self.cond:
                if not self.held:
                    self.cond.wait(0.1)
                    continue
                due, packet = self.held[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self.cond.wait(min(wait, 0.1))
                    continue
                self.held.popleft()
            packet.accept()
        self._release_all()

    def _release_all(self) -> None:
        with self.cond:
            remaining = [packet for _, packet in self.held]
            self.held.clear()
        for packet in remaining:
            packet.accept()
        self.conn.close()


if __name__ == "__main__":
    sys.exit(main())
