"""Small helpers shared by the unit tests."""

import pathlib
import textwrap

import yaml


def write_registry(directory, sites=None, clouds=None):
    """Write a DR site registry and its clouds file; return the registry."""
    directory = pathlib.Path(directory)
    sites = sites if sites is not None else {
        'site-a': {'cloud': 'rescuer-site-a', 'region': 'RegionA',
                   'country': 'DE', 'role': 'primary'},
        'site-b': {'cloud': 'rescuer-site-b', 'region': 'RegionB',
                   'country': 'FR', 'role': 'recovery'},
    }
    clouds = clouds if clouds is not None else {
        'rescuer-site-a': _app_cred_cloud('http://127.0.0.1:1/v3',
                                          'RegionA'),
        'rescuer-site-b': _app_cred_cloud('http://127.0.0.1:2/v3',
                                          'RegionB'),
    }
    (directory / 'clouds.yaml').write_text(
        yaml.safe_dump({'clouds': clouds}))
    registry = directory / 'sites.yaml'
    registry.write_text(yaml.safe_dump({'clouds_file': 'clouds.yaml',
                                        'sites': sites}))
    return registry


def _app_cred_cloud(auth_url, region):
    return {'auth_type': 'v3applicationcredential',
            'auth': {'auth_url': auth_url,
                     'application_credential_id': 'cred-id',
                     'application_credential_secret': 'not-a-real-secret'},
            'region_name': region, 'identity_api_version': 3}


def dedent(text):
    return textwrap.dedent(text).lstrip()
