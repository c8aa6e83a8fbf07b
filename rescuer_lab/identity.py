"""Keystone content of a lab site: service users, endpoints, the NFV tenant.

Everything here looks before it creates, so it runs on every ``up``.

Per site:
- project ``service`` with users ``heat`` (and ``mistral`` where Mistral
  runs), admin there, as Heat and Mistral expect;
- domain ``heat`` with ``heat_domain_admin`` for Heat's stack users;
- project ``nfv`` (the tenant whose VNFs are protected) with the operator
  ``nfv-operator`` and Rescuer's own user ``rescuer``, whose password is
  the credential Rescuer uses to reach this site through its own Keystone
  (roles ``member``, ``heat_stack_owner`` and ``rescuer`` - no admin - and
  ``rescuer_operator`` at the DR site);
- project ``tenant-b`` with ``tenant-b-operator``: another tenant, whose
  user must reach none of ``nfv``'s protection groups.

Why a password and not an application credential: Heat creates a trust
when it creates a stack, and Keystone refuses trusts to tokens of
application credentials ("Delegated tokens cannot manage trusts") unless
``[security_compliance] allow_insecure_application_credential_trust_
escalation`` is set.  Rescuer creates stacks at the DR site (standby
stacks) and at the primary (failback), so its credential must be able to.
"""

import datetime

import openstack
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

NFV_PROJECT = 'nfv'
OPERATOR = 'nfv-operator'
RESCUER_USER = 'rescuer'
# Rescuer's role in the protected project (policy files grant it the
# admin APIs it needs; rescuer_lab/etc/*-policy.yaml.j2).
RESCUER_ROLE = 'rescuer'
# Another tenant, whose user must not reach the nfv project's groups.
OTHER_PROJECT = 'tenant-b'
OTHER_OPERATOR = 'tenant-b-operator'


def admin_auth(site, secrets):
    return dict(auth_url=site.keystone_url, username='admin',
                password=secrets.get('%s/admin' % site.name),
                project_name='admin', user_domain_name='Default',
                project_domain_name='Default')


def admin_connection(site, secrets):
    return openstack.connect(region_name=site.region,
                             **admin_auth(site, secrets))


def _ensure_role(conn, name):
    return conn.identity.find_role(name) or conn.identity.create_role(
        name=name)


def _ensure_project(conn, name, domain_id='default', description=''):
    return (conn.identity.find_project(name, domain_id=domain_id) or
            conn.identity.create_project(name=name, domain_id=domain_id,
                                         description=description))


def _ensure_user(conn, site, name, password, domain_id='default',
                 project=None):
    user = conn.identity.find_user(name, domain_id=domain_id)
    if user is None:
        kwargs = dict(name=name, password=password, domain_id=domain_id)
        if project is not None:
            kwargs['default_project_id'] = project.id
        return conn.identity.create_user(**kwargs)
    if password_works(site, name, password, domain_id):
        return user
    return conn.identity.update_user(user, password=password)


def password_works(site, name, password, domain_id='default'):
    """True when ``name`` authenticates at ``site`` with ``password``.

    Keystone revokes every token of a user whose password is set, even to
    the same value - the tokens running services and clients hold too
    (a protection group created right after a second ``up`` failed with
    "Failed to validate token" at the DR site's Mistral) - so ``up`` sets
    a password only when it does not work."""
    auth = v3.Password(auth_url=site.keystone_url, username=name,
                       password=password, user_domain_id=domain_id)
    try:
        ks_session.Session(auth=auth, timeout=10).get_token()
    except ks_exc.Unauthorized:
        return False
    return True


def _revoke(conn, user, role, project):
    """Take ``role`` in ``project`` away from ``user`` if it holds it."""
    if conn.identity.validate_user_has_project_role(project, user, role):
        conn.identity.unassign_project_role_from_user(project, user, role)


def _grant(conn, user, role, project=None, domain=None):
    if project is not None:
        conn.identity.assign_project_role_to_user(project, user, role)
    else:
        conn.identity.assign_domain_role_to_user(domain, user, role)


def _ensure_endpoints(conn, site, service_type, name, url):
    service = conn.identity.find_service(name) or \
        conn.identity.create_service(name=name, type=service_type)
    existing = {ep.interface: ep for ep in conn.identity.endpoints(
        service_id=service.id, region_id=site.region)}
    for interface in ('public', 'internal', 'admin'):
        endpoint = existing.get(interface)
        if endpoint is None:
            conn.identity.create_endpoint(service_id=service.id,
                                          interface=interface, url=url,
                                          region_id=site.region)
        elif endpoint.url != url:
            conn.identity.update_endpoint(endpoint, url=url)


def configure(site, secrets):
    """Create what Heat, Mistral, operators and Rescuer need at ``site``."""
    conn = admin_connection(site, secrets)
    admin = _ensure_role(conn, 'admin')
    member = _ensure_role(conn, 'member')
    _ensure_role(conn, 'reader')
    # Rescuer's operators: may run its actions directly at the DR site's
    # Mistral (its policy; nobody holds it in the lab but admins).
    operator_role = _ensure_role(conn, 'rescuer_operator')
    stack_owner = _ensure_role(conn, 'heat_stack_owner')
    _ensure_role(conn, 'heat_stack_user')

    service_project = _ensure_project(conn, 'service')
    service_role = _ensure_role(conn, 'service')
    for name in site.service_users:
        user = _ensure_user(conn, site, name,
                            secrets.get('%s/%s' % (site.name, name)),
                            project=service_project)
        _grant(conn, user, admin, project=service_project)
        _grant(conn, user, service_role, project=service_project)

    heat_domain = conn.identity.find_domain('heat') or \
        conn.identity.create_domain(name='heat',
                                    description='Heat stack users')
    domain_admin = _ensure_user(
        conn, site, 'heat_domain_admin',
        secrets.get('%s/heat_domain_admin' % site.name),
        domain_id=heat_domain.id)
    _grant(conn, domain_admin, admin, domain=heat_domain)

    for name, service_type, port, path in site.catalog:
        _ensure_endpoints(conn, site, service_type, name,
                          site.url(port, path))

    nfv = _ensure_project(conn, NFV_PROJECT,
                          description='Tenant running the protected VNFs')
    rescuer_role = _ensure_role(conn, RESCUER_ROLE)
    for name in (OPERATOR, RESCUER_USER):
        user = _ensure_user(conn, site, name,
                            secrets.get('%s/%s' % (site.name, name)),
                            project=nfv)
        _grant(conn, user, member, project=nfv)
        _grant(conn, user, stack_owner, project=nfv)
        if name == RESCUER_USER:
            # Least privilege: no admin role (a lab set up before held
            # one).  The sites' policy files make the `rescuer` role
            # Cinder's admin (manage-existing, backup import and export
            # need an admin context) and let it read Heat's engines;
            # at the DR site's Mistral it runs its own actions.
            _grant(conn, user, rescuer_role, project=nfv)
            _revoke(conn, user, admin, project=nfv)
            if site.runs_mistral:
                _grant(conn, user, operator_role, project=nfv)
    other = _ensure_project(conn, OTHER_PROJECT,
                            description='Another tenant (isolation tests)')
    user = _ensure_user(conn, site, OTHER_OPERATOR,
                        secrets.get('%s/%s' % (site.name, OTHER_OPERATOR)),
                        project=other)
    _grant(conn, user, member, project=other)
    _grant(conn, user, stack_owner, project=other)
    conn.close()


def user_auth(site, secrets, username, project=NFV_PROJECT):
    return dict(auth_url=site.keystone_url, username=username,
                password=secrets.get('%s/%s' % (site.name, username)),
                project_name=project, user_domain_name='Default',
                project_domain_name='Default')


_ADMIN_SESSIONS = {}


def admin_session(site, secrets, timeout=5):
    """A cached admin session for ``site`` (one token per process)."""
    if site.name not in _ADMIN_SESSIONS:
        _ADMIN_SESSIONS[site.name] = ks_session.Session(
            auth=v3.Password(**admin_auth(site, secrets)), timeout=timeout)
    return _ADMIN_SESSIONS[site.name]


def services_up(site, secrets, service_type, path):
    """Binaries of ``site`` that its API of ``service_type`` reports up
    (Heat's /services, Nova's and Cinder's /os-services), each with the
    time of its newest report (naive UTC; None if the API gives none);
    one call."""
    try:
        response = admin_session(site, secrets).get(
            path, endpoint_filter={'service_type': service_type,
                                   'interface': 'public',
                                   'region_name': site.region},
            raise_exc=False)
    except (ks_exc.ClientException, OSError):
        return {}
    if response.status_code != 200:
        return {}
    up = {}
    for entry in response.json().get('services', []):
        if ((entry.get('state') or entry.get('status')) != 'up' or
                (entry.get('host') or '').split('@')[0] != site.name):
            continue
        reported = _report_time(entry)
        binary = entry.get('binary')
        if binary not in up or (reported and (up[binary] is None or
                                              reported > up[binary])):
            up[binary] = reported
    return up


def _report_time(entry):
    """When a service last reported, from its record's updated_at (or
    created_at, before its first update)."""
    value = entry.get('updated_at') or entry.get('created_at')
    try:
        return datetime.datetime.fromisoformat(
            str(value).replace('Z', '')).replace(tzinfo=None)
    except ValueError:
        return None
