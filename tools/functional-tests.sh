#!/usr/bin/env bash
# The functional tests (run by `tox -e functional` once the lab is up), in
# two phases: the tests that share the lab run two at a time (most of
# their time is spent waiting on the services and on scheduled syncs);
# the tests marked `exclusive` - they stop a site or its services, or
# compare a site's whole inventory - then run one by one, alone.
# Arguments select tests as pytest's do (default: tests/functional); a
# selection holding no test of one phase is not an error.
set -uo pipefail
selected=1
if [ $# -eq 0 ]; then
    set -- tests/functional
    selected=0
fi
status=0
phase() {
    pytest -q -p no:cacheprovider --durations=15 "$@"
    local rc=$?
    if [ $rc -eq 5 ] && [ $selected -eq 1 ]; then
        rc=0    # nothing of this phase in the selection
    fi
    if [ $rc -ne 0 ]; then
        status=$rc
    fi
}
phase -n 2 --dist loadgroup -m 'not exclusive' "$@"
phase -m exclusive "$@"
exit $status
