#!/usr/bin/env bash
# Set everything up on a fresh machine and run every test:
# style, unit tests, the docs build, then the functional tests on the
# two-site lab (which `tox -e functional` brings up first, afresh).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
# The functional tests start from an empty lab. Whatever an earlier run, a
# benchmark or the drill left behind - stacks, protection groups whose
# cron triggers keep syncing - would load the DR site and change what the
# tests see (a CI run on a lab a load benchmark had left with 50 groups
# timed out throughout). The lab's virtualenv stays: `up` reinstalls
# nothing.
.venv/bin/rescuer-lab down --purge
exec .venv/bin/tox -e pep8,py3,docs,functional "$@"
