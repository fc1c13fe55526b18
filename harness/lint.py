"""Configs linted by the real servers: load a redis.conf / sentinel.conf into each server version the
project can run and report the first directive it rejects, with the server's own words.

Why real servers and not a table of directives: every version has its own config table, aliases
(`hash-max-ziplist-*` still works on 7.0 as an alias of `*-listpack-*`) and arity rules; the
server is the only authority that never goes stale. A server stops at the first bad line and
prints `*** FATAL CONFIG FILE ERROR ***` with the line number and its message, which is exactly
what a team needs to see before a pod crash-loops on it.

How a load is kept harmless:
- the config is copied into a temporary directory, its `dir` lines rewritten to point there (a
  pod's `/data` does not exist here; the server chdirs while reading the file), line numbers kept;
- the server runs in a fresh network namespace (`unshare --net`: only a down loopback, so an
  accepted config reaches nothing and no name is looked up on the network) with `--port 0`, a unix
  socket in the temporary directory, `--daemonize no` and `--logfile ""` appended after the file
  (the file's own lines are parsed first, so its errors come first and keep their line numbers);
- an accepted config is seen by a PING on the unix socket, then the server is terminated and
  waited for (killed if it does not stop); nothing outlives the call.
Hostnames are therefore unresolvable during a lint: Redis 7.0 and Valkey accept an unresolvable
`sentinel monitor` host and retry, Redis 6.2 rejects it (`Can't resolve instance hostname.`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import redis
import yaml

from harness.binaries import ServerBinary, resolve_server
from harness.errors import CapabilityError, HarnessError
from harness.poll import PollTimeout, wait_until

Kind = Literal["redis", "sentinel"]
SERVERS: tuple[str, ...] = ("system", "redis-6.2", "valkey-9.1")  # the versions the project can run
START_TIMEOUT_S = 20.0

FATAL = re.compile(
    r"\*\*\* FATAL CONFIG FILE ERROR \((?P<version>[^)]*)\) \*\*\*\s*\n"
    r"Reading the configuration file, at line (?P<line>\d+)\s*\n"
    r">>> '(?P<directive>.*)'\s*\n"
    r"(?P<message>[^\n]*)"
)


class LintInputError(HarnessError):
    """A file that cannot be linted (missing, unreadable, a YAML without a config in it)."""

    exit_code = 2


@dataclass(frozen=True)
class LintResult:
    """One server version's verdict on one config.

    `line` is the line in the config text the server named; `file_line` the same line in the file
    the user gave (differs for a ConfigMap, where the config starts inside the YAML; equal for a
    plain config and for text given to lint_config).
    `accepted` is None when the server is not installed (`message` says how to install it).
    """

    source: str  # "blog.yaml: redis.conf", or the file name of a plain config
    kind: Kind
    server: str  # the spec: system, redis-6.2, valkey-9.1 or a path
    version: str  # "Redis 7.0.15", "Valkey 9.1.2"; the spec when not installed
    accepted: bool | None
    line: int | None = None
    file_line: int | None = None
    directive: str | None = None  # the line as the server quoted it
    message: str | None = None  # the server's own message

    @property
    def rejected(self) -> bool:
        return self.accepted is False


@dataclass(frozen=True)
class ConfigSource:
    """One config found in a file: a plain .conf, or one `*.conf` key of a ConfigMap."""

    label: str
    kind: Kind
    text: str
    first_line: int = 1  # the file line holding the config's line 1


# ----------------------------------------------------------------------------- reading inputs


def guess_kind(name: str, text: str) -> Kind:
    """sentinel when the name says so or the text monitors a primary; redis otherwise."""
    if "sentinel" in Path(name).name.lower() or re.search(r"(?m)^\s*sentinel\s+monitor\s", text):
        return "sentinel"
    return "redis"


def read_sources(path: Path, kind: Kind | None = None) -> list[ConfigSource]:
    """The configs in `path`: a YAML file's ConfigMaps (every `data` key ending in `.conf`), or the file
    itself as one config. Raises LintInputError naming the file and the problem."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise LintInputError(f"{path}: cannot read: {exc}") from None
    if path.suffix.lower() not in (".yaml", ".yml"):
        if not text.strip():
            raise LintInputError(f"{path}: empty file, no config to lint")
        return [ConfigSource(path.name, kind or guess_kind(path.name, text), text)]
    sources = _configmap_sources(path, text, kind)
    if not sources:
        raise LintInputError(f"{path}: no ConfigMap with a data key ending in .conf (redis.conf, sentinel.conf)")
    return sources


def _configmap_sources(path: Path, text: str, kind: Kind | None) -> list[ConfigSource]:
    try:
        documents = list(yaml.compose_all(text))
    except yaml.YAMLError as exc:
        raise LintInputError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from None
    found = []
    for doc in documents:
        if not isinstance(doc, yaml.MappingNode) or _scalar(doc, "kind") != "ConfigMap":
            continue
        data = _child(doc, "data")
        if not isinstance(data, yaml.MappingNode):
            continue
        for key, value in data.value:
            if not (isinstance(key, yaml.ScalarNode) and key.value.endswith(".conf")):
                continue
            if not isinstance(value, yaml.ScalarNode):
                raise LintInputError(f"{path}: data.{key.value} (line {key.start_mark.line + 1}) is not a string")
            # a literal block (`|`) keeps the lines as written: its content starts on the next line
            first = value.start_mark.line + 2 if value.style == "|" else value.start_mark.line + 1
            found.append(ConfigSource(f"{path.name}: {key.value}", kind or guess_kind(key.value, value.value),
                                      value.value, first))
    return found


def _child(node: yaml.MappingNode, name: str) -> yaml.Node | None:
    return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == name), None)


def _scalar(node: yaml.MappingNode, name: str) -> str | None:
    child = _child(node, name)
    return child.value if isinstance(child, yaml.ScalarNode) else None


# ----------------------------------------------------------------------------- loading into a server


@functools.cache
def _isolation() -> tuple[str, ...]:
    """The command prefix that gives the server a network namespace of its own, tried once."""
    unshare = shutil.which("unshare")
    if unshare:
        for prefix in ((unshare, "--net"), (unshare, "--user", "--map-root-user", "--net")):
            try:
                if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
                    return prefix
            except (OSError, subprocess.TimeoutExpired):
                continue
    raise CapabilityError("lint needs `unshare --net` (util-linux; root or unprivileged user namespaces) so the "
                          "servers it starts reach no network")


def _copy_for_load(text: str, work: Path) -> str:
    """The config with its `dir` lines pointing into `work`, one line for one line."""
    lines = [f"dir {work}" if re.match(r"\s*dir\s", line, re.IGNORECASE) else line for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def load_once(binary: ServerBinary, text: str, kind: Kind, source: str = "config") -> LintResult:
    """Start `binary` on a copy of `text` and return its verdict; the server never outlives this call."""
    version = f"{binary.product.capitalize()} {binary.version_str}"
    with tempfile.TemporaryDirectory(prefix="rh-lint-") as tmp:
        work = Path(tmp)
        conf = work / ("sentinel.conf" if kind == "sentinel" else "redis.conf")
        conf.write_text(_copy_for_load(text, work))
        sock = work / "lint.sock"
        argv = [*_isolation(), *(binary.sentinel_argv(str(conf)) if kind == "sentinel" else binary.server_argv(str(conf))),
                "--port", "0", "--unixsocket", str(sock), "--daemonize", "no", "--logfile", ""]
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}  # `supervised systemd` notifies nobody
        output = work / "output.txt"
        with output.open("w") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=work, env=env)
        try:
            started = _wait_started(proc, sock)
        finally:
            _stop(proc)
        said = output.read_text(errors="replace")
    if started:
        return LintResult(source, kind, binary.spec, version, True)
    fatal = FATAL.search(said)
    if fatal:
        line = int(fatal["line"])  # the text's line; lint_sources moves file_line for a ConfigMap
        return LintResult(source, kind, binary.spec, version, False, line, line, fatal["directive"],
                          fatal["message"].strip())
    tail = " | ".join(line.strip() for line in said.strip().splitlines()[-3:]) or f"exit code {proc.returncode}"
    return LintResult(source, kind, binary.spec, version, False, message=f"the server did not start: {tail}")


def _wait_started(proc: subprocess.Popen, sock: Path) -> bool:
    """True once the server answers PING on its socket; False when it exits (or never answers)."""

    def answered() -> bool | str:
        if proc.poll() is not None:
            return "exited"
        if not sock.exists():
            return False
        with redis.Redis(unix_socket_path=str(sock), socket_timeout=2, socket_connect_timeout=2) as client:
            try:
                return bool(client.ping())
            except redis.AuthenticationError:
                return True  # requirepass: the config was loaded
            except redis.ResponseError as exc:
                return "NOAUTH" in str(exc) or "LOADING" in str(exc)

    try:
        return wait_until(answered, timeout=START_TIMEOUT_S, what="the server to load its config") is True
    except PollTimeout:
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def lint_config(text: str, kind: Kind, versions: Sequence[str] = SERVERS, *, source: str = "config") -> list[LintResult]:
    """Load `text` (a redis.conf or sentinel.conf) into each server of `versions` (binaries.py specs:
    system, redis-6.2, valkey-9.1 or a path) and return one LintResult per version, in order.

    A version that is not installed gives `accepted=None` with the install hint, never an exception:
    an upgrade drill can lint against what it has."""
    results = []
    for spec in versions:
        try:
            binary = resolve_server(spec)
        except CapabilityError as exc:
            results.append(LintResult(source, kind, spec, spec, None, message=str(exc)))
            continue
        results.append(load_once(binary, text, kind, source))
    return results


def lint_file(path: Path, versions: Sequence[str] = SERVERS, kind: Kind | None = None) -> list[LintResult]:
    """Every config in `path` against every version, with file lines filled in for ConfigMaps."""
    return lint_sources(read_sources(path, kind), versions)


def lint_sources(sources: Sequence[ConfigSource], versions: Sequence[str] = SERVERS) -> list[LintResult]:
    results = []
    for src in sources:
        for result in lint_config(src.text, src.kind, versions, source=src.label):
            line = None if result.line is None else result.line + src.first_line - 1
            results.append(_with_file_line(result, line))
    return results


def _with_file_line(result: LintResult, file_line: int | None) -> LintResult:
    return dataclasses.replace(result, file_line=file_line)


# ----------------------------------------------------------------------------- the command


def describe(result: LintResult) -> str:
    """One line per verdict, as the CLI prints it."""
    head = f"{result.source} [{result.kind}] {result.version}:"
    if result.accepted is None:
        return f"{head} skipped ({result.message})"
    if result.accepted:
        return f"{head} accepted"
    if result.line is None:
        return f"{head} REJECTED: {result.message}"
    moved = result.file_line is not None and result.file_line != result.line
    where = f"line {result.line}" + (f" (file line {result.file_line})" if moved else "")
    return f"{head} REJECTED at {where}: '{result.directive}': {result.message}"


def run_lint(paths: Sequence[str], servers: Sequence[str] | None = None, kind: Kind | None = None) -> int:
    """`redis-harness lint`: 0 every config accepted by every version that ran, 1 rejected by some version,
    2 bad input (a file, or a server asked for by name that is not installed). Inputs are all read
    before any server starts."""
    if servers:
        for spec in servers:
            resolve_server(spec)  # CapabilityError (exit 2) with the install hint
    versions = list(servers or SERVERS)
    sources = {path: read_sources(Path(path), kind) for path in paths}
    _isolation()
    results = []
    for found in sources.values():
        for result in lint_sources(found, versions):
            print(describe(result), flush=True)
            results.append(result)
    if not any(r.accepted is not None for r in results):
        raise LintInputError("no server version to lint with is installed: " + "; ".join(
            sorted({r.message or "" for r in results})))
    return 1 if any(r.rejected for r in results) else 0
