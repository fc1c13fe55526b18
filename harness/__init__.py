"""redis-harness: deploy Redis topologies, load them, break them, and report what clients saw."""

__version__ = "0.1.0"
