import json
import os
import threading
import time

import pytest

from rescuer import capture
from rescuer import exceptions
from rescuer import store
from tests.unit import test_groups


def _document(group='g1', at='2026-11-26T07:00:00+00:00', cid='c1',
              **extra):
    document = dict({'schema_version': 1, 'capture_id': cid, 'site':
                     'site-a', 'group': group, 'captured_at': at,
                     'servers': [{'id': 's1'}]}, **extra)
    document['checksum'] = capture.checksum(document)
    return document


def test_latest_returns_the_newest_good_capture(tmp_path):
    kept = store.DirectoryStore(tmp_path)
    kept.save(_document(cid='old', at='2026-11-26T07:00:00+00:00'))
    kept.save(_document(cid='new', at='2026-11-26T07:01:00+00:00'))
    document, skipped = kept.latest('g1')
    assert document['capture_id'] == 'new'
    assert skipped == []


def test_corrupt_capture_is_never_kept(tmp_path):
    kept = store.DirectoryStore(tmp_path)
    bad = _document(cid='bad')
    bad['servers'] = []  # changed after its checksum was made
    with pytest.raises(exceptions.InvalidCapture, match='checksum'):
        kept.save(bad)
    assert kept.history('g1') == []


def test_corrupted_file_is_skipped_for_the_last_good_one(tmp_path):
    kept = store.DirectoryStore(tmp_path)
    kept.save(_document(cid='good', at='2026-11-26T07:00:00+00:00'))
    newest = kept.save(_document(cid='later', at='2026-11-26T07:05:00+00:00'))
    newest.write_text(newest.read_text()[:-20])  # torn write / bit rot
    document, skipped = kept.latest('g1')
    assert document['capture_id'] == 'good'
    assert len(skipped) == 1 and newest.name in skipped[0]


def test_only_the_last_n_captures_are_kept(tmp_path):
    kept = store.DirectoryStore(tmp_path, keep=2)
    for minute in range(4):
        kept.save(_document(cid='c%d' % minute,
                            at='2026-11-26T07:0%d:00+00:00' % minute))
    names = [json.loads(p.read_text())['capture_id']
             for p in kept.history('g1')]
    assert names == ['c2', 'c3']


def test_no_capture_is_a_clear_error(tmp_path):
    with pytest.raises(exceptions.InvalidCapture,
                       match='no good capture of group g9'):
        store.DirectoryStore(tmp_path).latest('g9')


@pytest.mark.parametrize('document, message', [
    ([], 'a capture is a JSON object'),
    ({'schema_version': 2}, 'unsupported capture schema version 2'),
])
def test_verify_refuses_malformed_documents(document, message):
    with pytest.raises(exceptions.InvalidCapture, match=message):
        capture.verify(document)


def test_scrub_drops_secrets_at_any_depth():
    scrubbed = capture._scrub({'servers': [{'id': 's', 'adminPass': 'x',
                                            'OS-EXT-SRV-ATTR:user_data': 'y',
                                            'metadata': {'password': 'z'}}]})
    assert scrubbed == {'servers': [{'id': 's', 'metadata': {}}]}


def test_hidden_parameters_are_not_captured():
    template = {'parameters': {'db_password': {'type': 'string',
                                               'hidden': True},
                               'flavor': {'type': 'string'}}}
    assert capture._stack_parameters(template, {
        'db_password': 'secret', 'flavor': 'm1.tiny',
        'OS::stack_id': 'x'}) == {'flavor': 'm1.tiny'}


def test_a_group_is_seen_only_by_the_project_that_registered_it(tmp_path):
    mine = store.DirectoryStore(tmp_path, project_id='p-nfv')
    mine.save_definition(test_groups._definition(group='g1'))
    mine.save(_document(group='g1'))
    assert mine.definition('g1')['group'] == 'g1'
    theirs = store.DirectoryStore(tmp_path, project_id='p-other')
    for read in (theirs.definition, theirs.latest, theirs.fence,
                 theirs.backups, theirs.remove_group):
        with pytest.raises(exceptions.NotFound,
                           match='group g1 is not registered'):
            read('g1')
    # Nor can another project take the name over.
    with pytest.raises(exceptions.NotFound):
        theirs.save_definition(test_groups._definition(group='g1'))
    assert mine.definition('g1')['group'] == 'g1'
    # Rescuer itself (no project) sees every group.
    assert store.DirectoryStore(tmp_path).definition('g1')['group'] == 'g1'


def test_writers_of_one_record_at_once_never_fail_and_leave_it_whole(
        tmp_path):
    # A scheduled sync and the one re-registering a group ran at once
    # and shared one .partial: the second rename found no file.
    kept = store.DirectoryStore(tmp_path)
    errors = []

    def write(n):
        try:
            for i in range(50):
                kept.save_sync({'group': 'g1', 'writer': n, 'i': i})
        except Exception as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == []
    assert kept.last_sync('g1')['i'] == 49
    assert sorted(p.name for p in (tmp_path / 'g1').iterdir()) == [
        'sync.json']


def test_backup_records_are_changed_by_one_sync_at_a_time(tmp_path):
    kept = store.DirectoryStore(tmp_path)
    kept.save_backups('g1', {'chains': {}, 'retired': []})

    def add(n):
        for i in range(20):
            with kept.backups_locked('g1'):
                state = kept.backups('g1')
                time.sleep(0.001)   # another sync reads meanwhile
                state['retired'].append('%d-%d' % (n, i))
                kept.save_backups('g1', state)

    adders = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for adder in adders:
        adder.start()
    for adder in adders:
        adder.join()
    assert len(kept.backups('g1')['retired']) == 80


def test_a_dead_writers_partial_is_removed_at_the_next_capture(tmp_path):
    kept = store.DirectoryStore(tmp_path)
    kept.save(_document(at='2026-11-26T07:00:00+00:00', cid='c1'))
    directory = tmp_path / 'g1'
    dead = directory / 'backups.json.k1l2m3.partial'
    live = directory / 'sync.json.n4o5p6.partial'
    dead.write_text('{"cha')
    live.write_text('{"la')
    hours_ago = time.time() - store.STALE_PARTIAL_SECONDS - 60
    os.utime(dead, (hours_ago, hours_ago))
    kept.save(_document(at='2026-11-26T07:01:00+00:00', cid='c2'))
    assert not dead.exists()
    assert live.exists()    # another writer's, still being written
    assert kept.latest('g1')[0]['capture_id'] == 'c2'
