"""The lab's own virtualenv of OpenStack services, pinned by constraints.

Service packages never go into the user's environment.  The Rescuer
checkout itself is installed (editable, without dependencies) into the lab's
virtualenv so heat-engine finds its resource plugins and Mistral its
actions.
"""

import hashlib
import subprocess
import sys

from rescuer_lab import paths
from rescuer_lab import topology as topo


class InstallError(RuntimeError):
    pass


def _constraints():
    return paths.source_dir() / 'upper-constraints.txt'


def _stamp_value():
    digest = hashlib.sha256(_constraints().read_bytes())
    digest.update(' '.join(topo.SERVICE_PACKAGES).encode())
    return digest.hexdigest()


def _stamp_file():
    return paths.venv_dir() / '.rescuer-lab-packages'


def _pip(*args, log):
    argv = [str(paths.venv_bin('python')), '-m', 'pip', '--quiet',
            '--disable-pip-version-check'] + list(args)
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise InstallError('pip %s failed; see %s' % (args[0], log.name))


def _source_stamp_value():
    """This checkout's path and entry points: what the editable install
    of Rescuer in the lab's virtualenv must match."""
    source = paths.source_dir()
    digest = hashlib.sha256(str(source).encode())
    digest.update((source / 'setup.cfg').read_bytes())
    return digest.hexdigest()


def _source_stamp_file():
    return paths.venv_dir() / '.rescuer-lab-source'


def ensure_venv():
    """Create or update the lab's virtualenv; a no-op when it is current."""
    venv = paths.venv_dir()
    log_path = paths.lab_dir() / 'install.log'
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, 'a') as log:
        if not paths.venv_bin('python').exists():
            print('rescuer-lab: creating the service virtualenv %s' % venv)
            subprocess.run([sys.executable, '-m', 'venv', str(venv)],
                           check=True)
        stamp = _stamp_file()
        if not stamp.exists() or stamp.read_text() != _stamp_value():
            print('rescuer-lab: installing OpenStack services into %s '
                  '(log: %s)' % (venv, log_path))
            _pip('install', '-c', str(_constraints()),
                 *topo.SERVICE_PACKAGES, log=log)
            stamp.write_text(_stamp_value())
        source_stamp = _source_stamp_file()
        if not source_stamp.exists() or \
                source_stamp.read_text() != _source_stamp_value():
            _pip('install', '--no-deps', '-e', str(paths.source_dir()),
                 log=log)
            source_stamp.write_text(_source_stamp_value())
    ensure_nova_driver_module()


# Nova loads a compute driver only from its own package
# (``nova.virt.<compute_driver>``): the lab's driver is reached through
# this module there.
NOVA_DRIVER_MODULE = 'lab_fake.py'
NOVA_DRIVER_SOURCE = (
    '"""Written by rescuer-lab: the lab\'s compute driver, for Nova\'s '
    'loader."""\n'
    'from rescuer_lab.drivers.nova_fake import LabDriver  # noqa: F401\n')


def ensure_nova_driver_module():
    """Write ``nova/virt/lab_fake.py`` into the lab's virtualenv (once:
    then ``compute_driver = lab_fake.LabDriver`` loads the lab's
    driver); returns its path."""
    [virt] = paths.venv_dir().glob('lib/python3*/site-packages/nova/virt')
    module = virt / NOVA_DRIVER_MODULE
    if not module.exists() or module.read_text() != NOVA_DRIVER_SOURCE:
        module.write_text(NOVA_DRIVER_SOURCE)
    return module
