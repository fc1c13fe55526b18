"""The nemesis: fault kinds (faults.py), where they land (targets.py), how (network.py, latency.py,
delayer.py), which can be made here (feasibility.py) and when (schedule.py: `Nemesis`).

The package exports nothing: import from the module that holds a name (`from harness.nemesis.schedule
import Nemesis`). So `python -m harness.nemesis.delayer`, which runs inside a pod's network for the
latency fault, starts without importing the rest of the harness.
"""
