#!/usr/bin/env bash
# The Kubernetes end-to-end tests on the fixture cluster (tests/k8s/cluster): up, `pytest -m kubernetes`,
# down (also when the tests fail), then a check that the machine is as it was before `up`.
# Exit: pytest's status; 1 when the cluster does not come up or the machine was left changed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d)
T0=$(date +%s)
took() { echo "k8s-e2e: $1 took $(( $(date +%s) - $2 )) s"; }

# `cluster up` prints the kubeconfig path on stdout and nothing else; it is always this file
KUBECONFIG_FILE=${K8S_FIXTURE_STATE:-/var/lib/redis-harness-k8s}/kubeconfig

python3 "$HERE/machine_state.py" snapshot > "$WORK/before.json"
t=$(date +%s)
if ! "$HERE/cluster" up > "$WORK/up.stdout"; then
  echo "k8s-e2e: the fixture cluster did not come up" >&2
  "$HERE/cluster" down
  rm -rf "$WORK"; exit 1
fi
if [[ "$(cat "$WORK/up.stdout")" != "$KUBECONFIG_FILE" || ! -s $KUBECONFIG_FILE ]]; then
  echo "k8s-e2e: 'cluster up' should print only $KUBECONFIG_FILE (an existing file) on stdout; it printed:" >&2
  head -c 2000 "$WORK/up.stdout" >&2
  "$HERE/cluster" down
  rm -rf "$WORK"; exit 1
fi
took "cluster up (with build when not cached)" "$t"

trap '"$HERE/cluster" down; rm -rf "$WORK"; exit 130' INT TERM
export KUBECONFIG=$KUBECONFIG_FILE
# tests marked `kubernetes` fail here when no cluster answers; they never skip (tests/conftest.py)
export REDIS_HARNESS_K8S_REQUIRED=1
export REDIS_HARNESS_K8S_ACCESS=pod-ip REDIS_HARNESS_K8S_FAULT_SIDECAR=1
export REDIS_HARNESS_K8S_SIDECAR_IMAGE=${K8S_FIXTURE_SIDECAR_IMAGE:-redis-harness/netfault:1}
export REDIS_HARNESS_K8S_LOCUST_IMAGE=${K8S_FIXTURE_LOCUST_IMAGE:-redis-harness/locust:1}  # the fixture's load image
# the fixture's Redis 6.2 image (tests/k8s/cluster REDIS62_IMAGE): no test may make the cluster pull from a registry
export REDIS_HARNESS_K8S_SERVER_IMAGES=${K8S_FIXTURE_SERVER_IMAGES:-redis-6.2=redis-harness/redis:6.2.5-wheel}
t=$(date +%s)
# a basetemp of its own: pytest runs beside it (other checkouts) rotate the shared /tmp/pytest-of-$USER
(cd "$REPO" && python3 -m pytest -q -rfEs --durations=20 -m kubernetes -p no:cacheprovider --basetemp "$WORK/pytest" "${@:-tests/}")
status=$?
took "pytest -m kubernetes" "$t"

t=$(date +%s)
trap - INT TERM
"$HERE/cluster" down
took "cluster down" "$t"
python3 "$HERE/machine_state.py" snapshot > "$WORK/after.json"
if ! python3 "$HERE/machine_state.py" compare "$WORK/before.json" "$WORK/after.json"; then
  echo "k8s-e2e: the fixture left the machine changed (above)" >&2
  status=1
fi
rm -rf "$WORK"
took "the whole Kubernetes e2e run" "$T0"
exit "$status"
