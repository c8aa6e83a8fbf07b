#!/usr/bin/env bash
# The main job: set everything up on a fresh machine, bring the two-site
# lab up and run a full DR exercise on it (tools/drill.py): protected VNFs
# in two tiers, a scheduled sync, a drill, a real loss of site-a, failover,
# recovery of site-a, failback - every stage checked - and the reports.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
.venv/bin/rescuer-lab up
exec .venv/bin/python tools/drill.py "$@"
