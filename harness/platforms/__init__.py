"""Platforms run pods: `local` (this machine, the default) and `kubernetes`."""

from __future__ import annotations

from harness.errors import ScenarioError


def make_platform(name: str, **options):
    if name == "local":
        from harness.platforms.local import LocalPlatform

        return LocalPlatform(**options)
    if name == "kubernetes":
        from harness.platforms.kubernetes import KubernetesPlatform, options_from_env

        return KubernetesPlatform(**{**options_from_env(), **options})
    raise ScenarioError(f"unknown platform {name!r}: use local or kubernetes")
