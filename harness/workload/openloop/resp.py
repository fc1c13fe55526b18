"""Commands as RESP bytes, built once per request without a client library's per-call overhead.

Keys: `ol:s:<n>` strings (get/set), `ol:c:<n>` counters (incr), `ol:h:<n>` hashes (hset/hget on
field f0), `ol:l:<n>` lists (lpush). The preload writes `ol:s:<n>`, so GETs on a preloaded
keyspace hit.
"""

from __future__ import annotations

from redis.crc import key_slot

PREFIX = {"get": b"ol:s:", "set": b"ol:s:", "incr": b"ol:c:", "hset": b"ol:h:", "hget": b"ol:h:", "lpush": b"ol:l:"}


def encode(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def key_of(command: str, n: int) -> bytes:
    return PREFIX[command] + b"%d" % n


def request(command: str, key: bytes, value: bytes) -> bytes:
    """One request's bytes (hand-rolled for the hot commands: ~3x faster than `encode`)."""
    k = b"$%d\r\n%s\r\n" % (len(key), key)
    if command == "get":
        return b"*2\r\n$3\r\nGET\r\n" + k
    if command == "set":
        return b"*3\r\n$3\r\nSET\r\n%s$%d\r\n%s\r\n" % (k, len(value), value)
    if command == "incr":
        return b"*2\r\n$4\r\nINCR\r\n" + k
    if command == "hset":
        return b"*4\r\n$4\r\nHSET\r\n%s$2\r\nf0\r\n$%d\r\n%s\r\n" % (k, len(value), value)
    if command == "hget":
        return b"*3\r\n$4\r\nHGET\r\n%s$2\r\nf0\r\n" % k
    if command == "lpush":
        return b"*3\r\n$5\r\nLPUSH\r\n%s$%d\r\n%s\r\n" % (k, len(value), value)
    raise ValueError(f"unknown command {command!r}")


__all__ = ["encode", "key_of", "key_slot", "request"]
