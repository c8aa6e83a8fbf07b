#!/usr/bin/env bash
# Set up everything Rescuer needs on a fresh Debian 12 machine, idempotently:
#  - Debian packages: Python 3.11 with venv and headers, a C compiler (uwsgi
#    builds from source), MariaDB and RabbitMQ where missing;
#  - .venv/ in the checkout: Rescuer (editable), the openstack CLI with the
#    heat and mistral plugins, pytest and tox.  OpenStack *services* are not
#    installed here: `rescuer-lab up` puts them in the lab's own virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

need_apt=()
find_python() {
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys, venv, ensurepip; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    return 1
}

PYTHON=$(find_python || true)
[ -n "$PYTHON" ] || need_apt+=(python3.11 python3.11-venv python3.11-dev)
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
command -v git >/dev/null 2>&1 || need_apt+=(git)
[ -x /usr/sbin/mariadbd ] || need_apt+=(mariadb-server mariadb-client)
command -v rabbitmq-server >/dev/null 2>&1 || need_apt+=(rabbitmq-server)
command -v qemu-img >/dev/null 2>&1 || need_apt+=(qemu-utils)

if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing Debian packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need_apt[@]}"
    PYTHON=$(find_python)
fi

if [ ! -x .venv/bin/python ]; then
    log "creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.rescuer-setup
want=$(cat upper-constraints.txt requirements.txt test-requirements.txt setup.cfg | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing Rescuer and its client tools into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        -c upper-constraints.txt -e . -r test-requirements.txt 'tox>=4.11'
    echo "$want" > "$stamp"
fi
log "ready: .venv/bin/rescuer-lab, .venv/bin/openstack"
