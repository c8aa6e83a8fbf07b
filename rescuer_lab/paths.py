"""Where the lab keeps its state: one directory, ``$RESCUER_LAB_DIR``."""

import os
import pathlib


def lab_dir():
    default = pathlib.Path.home() / '.rescuer-lab'
    return pathlib.Path(os.environ.get('RESCUER_LAB_DIR', default))


def source_dir():
    """The Rescuer checkout this lab command comes from."""
    here = pathlib.Path(__file__).resolve().parent.parent
    if not (here / 'setup.cfg').exists():
        raise RuntimeError(
            'rescuer-lab runs from a Rescuer source checkout '
            '(setup.cfg not found in %s)' % here)
    return here


def venv_dir():
    return lab_dir() / 'venv'


def venv_bin(name):
    return venv_dir() / 'bin' / name


def lab_bin():
    """Helper commands the lab puts first on its services' PATH."""
    return lab_dir() / 'bin'


def backups_dir():
    """Cinder backups (posix driver): readable by both sites."""
    return lab_dir() / 'backups'


def volumes_dir(site):
    return site_dir(site) / 'volumes'


def site_dir(site):
    return lab_dir() / site.name


def etc_dir(site, service):
    return site_dir(site) / 'etc' / service


def log_dir(site):
    return site_dir(site) / 'log'


def run_dir(site):
    return site_dir(site) / 'run'


def secrets_file():
    return lab_dir() / 'secrets.yaml'


def clouds_file():
    """Operator credentials: ``openstack --os-cloud site-a ...``."""
    return lab_dir() / 'clouds.yaml'


def rescuer_etc():
    """Rescuer's own configuration: DR site registry and its credentials."""
    return lab_dir() / 'rescuer'


def sites_file():
    return rescuer_etc() / 'sites.yaml'


def rescuer_clouds_file():
    return rescuer_etc() / 'clouds.yaml'
