"""A periodic Linux timerfd for the asyncio loop: the generator's ticks, at microsecond precision.

asyncio's own timers go through epoll_wait, whose timeout is whole milliseconds rounded up, so a
request due in 0.3 ms would be sent up to 1 ms late and that lateness would land in every
latency measured from the schedule. A timerfd becomes readable at its own nanosecond deadline;
epoll wakes for it like for a socket. Python gains os.timerfd_create only in 3.13, hence ctypes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = 0o4000
TFD_CLOEXEC = 0o2000000


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _timespec(ns: int) -> _Timespec:
    return _Timespec(ns // 1_000_000_000, ns % 1_000_000_000)


class PeriodicTimer:
    """Readable every `interval_ns`; `expirations()` says how many ticks passed since the last read
    (more than 1 means the loop was late: the generator's own lag, which it reports)."""

    def __init__(self, interval_ns: int):
        self.fd = _libc.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        spec = _Itimerspec(_timespec(interval_ns), _timespec(interval_ns))
        if _libc.timerfd_settime(self.fd, 0, ctypes.byref(spec), None) != 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(err, "timerfd_settime failed")

    def expirations(self) -> int:
        try:
            return struct.unpack("Q", os.read(self.fd, 8))[0]
        except BlockingIOError:
            return 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
