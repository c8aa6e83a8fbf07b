#!/usr/bin/env bash
# Set everything up on a fresh machine and run every test:
# style, unit tests, the docs build, then the functional tests on the
# two-site lab (which `tox -e functional` brings up first).
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
exec .venv/bin/tox -e pep8,py3,docs,functional "$@"
