"""Authenticated sessions to a site, from the registry or a caller's token.

Two ways in:
- :func:`site_session` - the site's own credentials from the registry's
  clouds file, through that site's own Keystone;
- :func:`token_session` - a caller's token (e.g. Mistral's action
  context), used when the caller authenticated against the same Keystone,
  so the caller's own roles and project scoping apply.
"""

import hashlib
import json
import threading
import urllib.parse

import openstack.config
from openstack import exceptions as sdk_exc
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from rescuer import exceptions


# keystoneauth errors that mean "the site does not answer".
UNREACHABLE = (ks_exc.ConnectFailure, ks_exc.ConnectTimeout,
               ks_exc.DiscoveryFailure, ks_exc.ServiceUnavailable,
               ks_exc.BadGateway, ks_exc.GatewayTimeout)


def short_reason(exc):
    """The first clause of a keystoneauth error, without urllib3's story."""
    return str(exc).split(': HTTPConnectionPool')[0]


def unreachable(site, exc):
    return exceptions.SiteUnreachable('site %s does not answer: %s'
                                      % (site.name, short_reason(exc)))


def _cloud(site):
    """The site's cloud from the registry's clouds file."""
    config = openstack.config.OpenStackConfig(
        config_files=[str(site.clouds_file)], load_envvars=False)
    try:
        return config.get_one(cloud=site.cloud, region_name=site.region)
    except sdk_exc.ConfigException as exc:
        raise exceptions.RegistryError(
            'site %s: cloud %r not usable from %s: %s'
            % (site.name, site.cloud, site.clouds_file, exc))


# One session per site credential and process, so one token, which
# keystoneauth renews as it nears expiry (or after a 401).  A session per
# call cost a password authentication at the site's Keystone for every
# Mistral action and every attribute read.
_site_sessions = {}
_site_sessions_lock = threading.Lock()


def _credential_key(site, cloud):
    """What names one credential: the site's entry and a digest of its
    auth settings (a rotated secret gets a new session; the secret itself
    is not kept in the key)."""
    auth = json.dumps(cloud.config.get('auth') or {}, sort_keys=True,
                      default=str)
    return (str(site.clouds_file), site.cloud, site.region,
            hashlib.sha256(auth.encode()).hexdigest())


def site_session(site):
    """A keystoneauth session for ``site`` (a :class:`rescuer.sites.Site`),
    shared by the process's callers with the same credential."""
    cloud = _cloud(site)
    key = _credential_key(site, cloud)
    with _site_sessions_lock:
        session = _site_sessions.get(key)
        if session is None:
            session = _site_sessions[key] = cloud.get_session()
    return session


def project_of(session, site):
    """The id of the project ``session`` (Rescuer's credential at
    ``site``) is scoped to."""
    try:
        return session.get_project_id()
    except ks_exc.ConnectFailure as exc:
        raise exceptions.SiteUnreachable(
            'site %s: Keystone does not answer: %s' % (site.name, exc))


def token_session(auth_url, token, project_id, trust_id=None):
    if trust_id:
        auth = v3.Token(auth_url=auth_url, token=token, trust_id=trust_id)
    else:
        auth = v3.Token(auth_url=auth_url, token=token,
                        project_id=project_id)
    return ks_session.Session(auth=auth)


def auth_url_of(site):
    """The Keystone URL the site's clouds-file entry authenticates against."""
    return _cloud(site).config['auth']['auth_url']


def same_keystone(url_a, url_b):
    """True when two Keystone URLs name the same endpoint (path-insensitive
    to a trailing ``/v3``)."""
    def norm(url):
        parts = urllib.parse.urlsplit(url or '')
        path = parts.path.rstrip('/')
        if path.endswith('/v3'):
            path = path[:-3]
        return (parts.scheme, parts.hostname,
                parts.port or {'http': 80, 'https': 443}.get(parts.scheme),
                path)
    return bool(url_a and url_b) and norm(url_a) == norm(url_b)


def site_of_keystone(registry, auth_url, region=None):
    """The registry's site behind Keystone ``auth_url`` (and ``region``,
    when several sites share one Keystone)."""
    matches = [site for site in registry
               if same_keystone(auth_url_of(site), auth_url)]
    if len(matches) > 1 and region:
        matches = [site for site in matches if site.region == region]
    if len(matches) != 1:
        raise exceptions.RegistryError(
            'the DR site registry has %s site for Keystone %s%s' % (
                'no' if not matches else 'more than one', auth_url,
                ' region %s' % region if region else ''))
    return matches[0]
