"""Exceptions that carry their CLI exit code, so every entry point maps failures the same way."""


class HarnessError(Exception):
    """A failure the user should read; `exit_code` is what the CLI returns."""

    exit_code = 3


class ScenarioError(HarnessError):
    """Bad input: a scenario file or CLI argument that cannot be run. Nothing was deployed."""

    exit_code = 2


class PlatformError(HarnessError):
    """The platform could not deploy, reach or heal something."""

    exit_code = 3


class CapabilityError(HarnessError):
    """A fault or feature that this platform cannot make here (no root, no module, ...)."""

    exit_code = 2


class StoreError(HarnessError, ValueError):
    """Bad input to the results store: a file that is not a store, a run that is not a run, a bad filter."""

    exit_code = 2
