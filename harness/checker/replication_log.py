"""What a replica's own log says about its last sync: full or partial resync, or a version it cannot load.

Pure text functions, used by the drill while it runs (to stop waiting for a replica that can never
sync) and by anyone reading a pod's log afterwards. Redis says "master", Valkey 8+ says "primary".
"""

from __future__ import annotations

import re

FULL = re.compile(r"Full resync from (master|primary)", re.I)
PARTIAL = re.compile(r"(Master|Primary) accepted a Partial Resynchronization|Successful partial resynchronization",
                     re.I)
# An older server fed a newer RDB fails after the whole transfer (redis#994); the first line is the cause.
INCOMPATIBLE = (
    re.compile(r"Can't handle RDB format version \d+"),
    re.compile(r"Unknown RDB (encoding|type|opcode)|Bad file format reading the append only file", re.I),
    re.compile(r"Failed trying to load the (MASTER|PRIMARY) synchronization DB", re.I),
)


def resync_kind(log_text: str) -> str | None:
    """`full` or `partial`: the last resync the log records; None when it records none."""
    last, kind = -1, None
    for name, pattern in (("full", FULL), ("partial", PARTIAL)):
        for match in pattern.finditer(log_text):
            if match.start() > last:
                last, kind = match.start(), name
    return kind


SYNCED = re.compile(r"sync: Finished with success|Successful partial resynchronization|"
                    r"accepted a Partial Resynchronization", re.I)


def incompatibility(log_text: str) -> str | None:
    """The log line that says this server cannot load what its primary sent (or its own RDB at start-up),
    or None; also None when a successful sync came after it (it was fed by another primary since). Of
    several such lines the most specific is quoted (the RDB version before "Failed trying to load")."""
    synced = max((m.start() for m in SYNCED.finditer(log_text)), default=-1)
    for pattern in INCOMPATIBLE:
        found = [m for m in pattern.finditer(log_text) if m.start() > synced]
        if found:
            start = log_text.rfind("\n", 0, found[-1].start()) + 1
            end = log_text.find("\n", found[-1].end())
            return log_text[start:end if end >= 0 else None].strip()
    return None
