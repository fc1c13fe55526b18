"""The Kubernetes platform: `platform.py` the Platform itself; `objects.py` the objects it applies
(rendered as YAML into manifests/ by `manifests.py`), `naive.py` the naive topology's Deployment
and Service, `components.py` the optional kustomize components (network-policy, metrics,
prometheus-operator), `scripts.py` the pods' start scripts, `prestop.py` the Redis pods' preStop
hand-over, `plan.py` the dry-run plan, `faults.py` faults as API operations, `logs.py` the pods'
logs, `portforward.py` reaching pods from outside the cluster, `leftovers.py` what `cleanup` sweeps.

The package exports nothing: import from the module that holds a name (the Kubernetes client is
imported only by whoever needs it).
"""
