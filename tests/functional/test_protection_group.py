"""OS::Rescuer::ProtectionGroup on the lab: a protected VNF, and bad
protection settings refused by `stack create --dry-run`, naming the
property."""

from tests.functional import base

TEMPLATE = str(base.REPO / 'examples' / 'protected-vnf.yaml')


def test_protected_vnf_stack_creates_updates_and_deletes():
    name = base.unique('pvnf')
    created = base.cli_json('site-a', 'stack', 'create', '--wait', '-t',
                            TEMPLATE, name)
    assert created['stack_status'] == 'CREATE_COMPLETE', created
    try:
        resources = {r['resource_name']: r['physical_resource_id'] for r in
                     base.cli_json('site-a', 'stack', 'resource', 'list',
                                   name)}
        out = base.stack_outputs('site-a', name)
        assert out['protection_status'] == 'defined'
        assert out['sync_interval'] == 150  # half the RPO
        for member in ('net', 'subnet', 'port', 'vnf', 'data'):
            assert out['members'][member] == resources[member]
        updated = base.cli_json('site-a', 'stack', 'update', '--wait',
                                '--existing', '--parameter',
                                'allowed_countries=FR', name)
        assert updated['stack_status'] == 'UPDATE_COMPLETE', updated
    finally:
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name)
    assert base.cli('site-a', 'stack', 'show', name,
                    check=False).returncode != 0


def _dry_run(template_path, *parameters):
    args = []
    for parameter in parameters:
        args += ['--parameter', parameter]
    result = base.cli('site-a', 'stack', 'create', '--dry-run', '-t',
                      template_path, *args, base.unique('bad'), check=False)
    assert result.returncode != 0
    return result.stderr


def test_bad_protection_settings_are_refused(template):
    image_id = base.cli('site-a', 'image', 'show', 'lab-image', '-f',
                        'value', '-c', 'id').stdout.strip()
    assert ('resources.group.properties.placement_rules: : site site-b is '
            'in FR, and the group allows only DE') in _dry_run(
                TEMPLATE, 'allowed_countries=DE')
    unmapped = _dry_run(TEMPLATE, 'image=%s' % image_id)
    assert 'resources.group.properties.mappings' in unmapped
    assert 'no mapping at site site-b for images %s' % image_id in unmapped

    text = open(TEMPLATE).read()
    members = template(text.replace(
        'members: [net, subnet, port, vnf, data, data_attachment]',
        'members: [net, nope, vnf]'), name='members.yaml')
    assert ('resources.group.properties.members: : not resources of this '
            'stack: nope') in _dry_run(members)
    slow = template(text.replace('rpo: 300', 'rpo: 300\n      '
                                 'sync_interval: 400'), name='slow.yaml')
    assert ('resources.group.properties.sync_interval: : a sync every '
            '400 s cannot meet an RPO of 300 s') in _dry_run(slow)
    tier = template(text.replace('tier: 1', 'tier: 11'), name='tier.yaml')
    assert ('resources.group.properties.tier: : 11 is out of range '
            '(min: 1, max: 10)') in _dry_run(tier)
