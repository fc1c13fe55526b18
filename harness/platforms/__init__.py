"""Platforms run pods: `local/` (this machine, the default) and `kubernetes/`, each a sub-package;
`protocol.py` is what both provide (the Platform protocol)."""

from __future__ import annotations

from typing import Any

from harness.errors import ScenarioError
from harness.platforms.protocol import Platform


def make_platform(name: str, **options: Any) -> Platform:
    """The platform a scenario names; each is imported only when asked for (the Kubernetes client is slow)."""
    if name == "local":
        from harness.platforms.local.platform import LocalPlatform

        return LocalPlatform(**options)
    if name == "kubernetes":
        from harness.platforms.kubernetes.platform import KubernetesPlatform, options_from_env

        return KubernetesPlatform(**{**options_from_env(), **options})
    raise ScenarioError(f"unknown platform {name!r}: use local or kubernetes")
