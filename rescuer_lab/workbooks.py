"""Load this checkout's Mistral workbooks into the lab's Mistral.

They are created (or updated) as Rescuer's own user in the ``nfv`` project
- the project whose groups the lab protects, so the NFV operator runs the
same workflows that the protection groups' cron triggers run.
"""

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from rescuer_lab import identity
from rescuer_lab import paths


class WorkbookError(Exception):
    pass


def workbook_files():
    return sorted((paths.source_dir() / 'workbooks').glob('*.yaml'))


def load(site, secrets):
    """Create or update every workbook at ``site``; returns their names."""
    # Validating rescuer_dr takes Mistral most of a minute on an idle lab
    # and over 60 s beside 50 syncing groups: wait for its answer.
    # As the site's admin: a public workbook is an admin's right, and
    # Rescuer's own credential holds no admin role.
    session = ks_session.Session(auth=v3.Password(**identity.admin_auth(
        site, secrets)), timeout=300)
    endpoint = {'service_type': 'workflowv2', 'interface': 'public',
                'region_name': site.region}
    loaded = []
    for path in workbook_files():
        text = path.read_text()
        current = session.get('/workbooks/%s' % path.stem,
                              endpoint_filter=endpoint, raise_exc=False)
        exists = current.status_code == 200
        if exists and _unchanged(current.json(), text):
            # Mistral validates a workbook for most of a minute on the
            # lab (its API answers nothing else meanwhile): not twice.
            loaded.append(path.stem)
            continue
        # Public: every tenant project may run them; the DR store keeps
        # each project's groups to that project (rescuer.store).
        response = session.request(
            '/workbooks?scope=public', 'PUT' if exists else 'POST', data=text,
            headers={'Content-Type': 'text/plain'},
            endpoint_filter=endpoint, raise_exc=False)
        if response.status_code not in (200, 201):
            raise WorkbookError('loading %s into %s Mistral failed (HTTP %d):'
                                ' %s' % (path.name, site.name,
                                         response.status_code,
                                         response.text[:500]))
        loaded.append(path.stem)
    return loaded


def _unchanged(workbook, text):
    """Mistral holds ``text`` already, public."""
    return workbook.get('definition') == text and \
        workbook.get('scope') == 'public'
