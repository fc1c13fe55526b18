"""Capacity studies: an open-loop sweep of offered rates per variant (run.py), its answers (analysis.py:
max sustainable throughput at the SLO, knee, saturation, memory per key, CPU per op, headroom) and
the report that leads with them (report.py). Files in the run directory's capacity/ (harness/rundir/capacity.py).
"""
