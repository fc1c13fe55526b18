"""The open-loop load generator: a fixed offered rate on a schedule, latency from each request's
intended send time (so a stalled server cannot stall the measurement: no coordinated omission).

spec.py the scenario section, draws.py what to send, resp.py the wire, route.py where to send it,
engine.py one process's event loop, pool.py several processes and the merged result.
"""
