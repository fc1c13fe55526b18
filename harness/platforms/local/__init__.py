"""The local platform: each pod a real server process in a network namespace of its own on this
machine (`platform.py`; the namespaces, veths and bridge in `netns.py`; the naive topology's
kube-proxy-style Service in `service.py`).

The package exports nothing: import from the module that holds a name.
"""
