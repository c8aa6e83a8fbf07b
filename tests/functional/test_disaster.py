"""`rescuer-lab fail` is a real site loss; `recover` brings it back."""

import socket

import pytest

from tests.functional import base

RANDOM_STRING = '''
heat_template_version: 2021-04-16
resources:
  rs: {type: OS::Heat::RandomString}
'''
SITE_A_PORTS = (25000, 28004)  # Keystone, Heat API


def _answers(port):
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(('127.0.0.1', port)) == 0


@pytest.fixture
def stack_at_site_a(template):
    name = base.unique('survivor')
    base.cli('site-a', 'stack', 'create', '--wait', '-t',
             template(RANDOM_STRING), name)
    yield name
    base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name)


def test_site_a_loss_leaves_site_b_and_mistral_working(stack_at_site_a,
                                                       template):
    before = base.cli_json('site-a', 'stack', 'show', stack_at_site_a)
    base.ensure_workbook(base.REPO / 'workbooks' / 'rescuer_sites.yaml')
    try:
        base.rescuer_lab('fail', 'site-a')

        for port in SITE_A_PORTS:
            assert not _answers(port), port
        status = base.rescuer_lab('status', check=False)
        assert status.returncode == 1
        assert ('down: site-a keystone, site-a heat-api, site-a heat-engine'
                in status.stderr)
        assert 'site-b mistral      up' in status.stdout

        # site-b keeps working: Heat and Mistral.
        name = base.unique('during-disaster')
        created = base.cli_json('site-b', 'stack', 'create', '--wait', '-t',
                                template(RANDOM_STRING), name)
        assert created['stack_status'] == 'CREATE_COMPLETE'
        base.cli('site-b', 'stack', 'delete', '--yes', '--wait', name)
        only_b = base.wait_execution(base.start_execution(
            'rescuer_sites.check_v1', {'sites': ['site-b']}))
        assert only_b['state'] == 'SUCCESS'
        both = base.wait_execution(base.start_execution(
            'rescuer_sites.check_v1'))
        assert both['state'] == 'ERROR'
        assert both['output']['error'].startswith(
            'ListStacksAction: site site-a does not answer')
    finally:
        base.rescuer_lab('recover', 'site-a')

    assert base.rescuer_lab('status', check=False).returncode == 0
    after = base.cli_json('site-a', 'stack', 'show', stack_at_site_a)
    assert after['id'] == before['id']
    assert after['stack_status'] == 'CREATE_COMPLETE'
