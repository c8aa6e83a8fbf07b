#!/usr/bin/env bash
# The main job: set everything up on a fresh machine, bring the two-site lab
# up and show that both sites are healthy.
# (The full DR drill - deploy, protect, fail, fail over, fail back, report -
# is built on top of this by the workflow and drill issues.)
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
.venv/bin/rescuer-lab up
eval "$(.venv/bin/rescuer-lab env)"
echo
echo "Both sites answer. Stacks visible to the NFV operator:"
for site in site-a site-b; do
    printf '%s: ' "$site"
    .venv/bin/openstack --os-cloud "$site" stack list -f value -c 'Stack Name' | wc -l
done
echo
echo "Use the lab:  eval \"\$(.venv/bin/rescuer-lab env)\""
echo "              .venv/bin/openstack --os-cloud site-a stack list"
