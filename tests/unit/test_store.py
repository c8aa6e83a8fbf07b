import json
import os
import pathlib
import stat
import threading
import time

import pytest

from rescuer import capture
from rescuer import exceptions
from rescuer import store
from tests.unit import test_groups


def _document(group='g1', at='2026-11-26T07:00:00+00:00', cid='c1',
              **extra):
    """A small capture that verifies: one server, every other kind
    empty unless ``extra`` says."""
    document = dict({'schema_version': 1, 'capture_id': cid, 'site':
                     'site-a', 'group': group, 'captured_at': at},
                    **{kind: [] for kind in capture.KINDS
                       if kind not in capture.OPTIONAL_KINDS})
    document.update(servers=[{'id': 's1', 'flavor': {'id': 'f1'}}],
                    flavors=[{'id': 'f1', 'name': 'm1.small'}])
    document.update(extra)
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
    from tests.unit import test_groups
    kept = store.DirectoryStore(tmp_path)
    kept.save_definition(test_groups._definition(group='g1'))
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


# ------------------------------------------------------------ permissions

def _modes(root):
    """{path under root ('.' for root): mode} of all the store holds."""
    found = {'.': stat.S_IMODE(os.stat(root).st_mode)}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, root)] = stat.S_IMODE(
                os.lstat(path).st_mode)
    return found


def _loose(root):
    """{path: mode} of what is not private: a directory not 0700, a file
    not 0600."""
    return {path: oct(mode) for path, mode in _modes(root).items()
            if mode != (0o700 if (root / path).is_dir() else 0o600)}


def _use_everything(kept):
    """Write every kind of file the store keeps."""
    kept.save_definition(test_groups._definition(group='g1'))
    kept.save(_document(group='g1'))
    kept.save_sync({'group': 'g1', 'last_sync_time': 't'})
    kept.save_fence({'group': 'g1', 'enforced': False})
    with kept.backups_locked('g1'):
        kept.save_backups('g1', {'chains': {}, 'retired': []})
    with kept.fence_locked('g1'):
        pass
    kept.save_report({'run_id': 'run-1', 'state': 'SUCCESS'})


@pytest.fixture
def umask():
    """Set a umask for the test (the process's is restored after)."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize('mask', [0o000, 0o022, 0o077, 0o277])
def test_the_store_is_private_whatever_the_umask(tmp_path, umask, mask):
    root = tmp_path / 'store'
    umask(mask)
    kept = store.DirectoryStore(root, project_id='p1')
    _use_everything(kept)
    modes = _modes(root)
    assert {'.', 'g1', 'g1/group.json', 'g1/owner.json', 'g1/sync.json',
            'g1/fence.json', 'g1/backups.json', 'g1/backups.lock',
            'g1/fence.lock', '.reports', '.reports/run-1.json'} <= set(modes)
    assert len([p for p in modes if p.startswith('g1/2026')]) == 1
    assert _loose(root) == {}


def test_partial_files_are_private_before_they_are_renamed(
        tmp_path, umask, monkeypatch):
    umask(0)
    seen = []
    replace = os.replace

    def watching(source, target):
        seen.append((os.path.basename(target),
                     stat.S_IMODE(os.stat(source).st_mode)))
        return replace(source, target)

    monkeypatch.setattr(store.os, 'replace', watching)
    kept = store.DirectoryStore(tmp_path)
    kept.save(_document())
    kept.save_report({'run_id': 'run-1'})
    assert [mode for _, mode in seen] == [0o600, 0o600]


def test_a_looser_store_is_tightened_when_opened_and_written(tmp_path):
    root = tmp_path / 'store'
    store.DirectoryStore(root).save(_document(group='g1'))
    store.DirectoryStore(root).save_report({'run_id': 'run-1'})
    # As an older Rescuer (or an operator's cp -r) left it.
    for path in [root, root / 'g1', root / store.REPORTS]:
        os.chmod(path, 0o755)
    for path in [*(root / 'g1').iterdir(), *(root / store.REPORTS).iterdir()]:
        os.chmod(path, 0o644)
    (root / 'g1' / 'backups.lock').touch(mode=0o666)
    os.chmod(root / 'g1' / 'backups.lock', 0o666)

    kept = store.DirectoryStore(root)
    assert _loose(root) == {
        'g1': '0o755', 'g1/backups.lock': '0o666',
        'g1/2026-11-26T070000p0000-c1.json': '0o644', '.reports': '0o755',
        '.reports/run-1.json': '0o644'}
    kept.save_sync({'group': 'g1', 'last_sync_time': 't'})
    kept.save_report({'run_id': 'run-2'})
    assert _loose(root) == {}


def test_a_root_someone_else_owns_keeps_its_mode(tmp_path, monkeypatch):
    chmod = os.chmod

    def not_the_owner(path, mode):
        if pathlib.Path(path) == tmp_path:
            raise PermissionError(1, 'Operation not permitted', str(path))
        chmod(path, mode)

    os.chmod(tmp_path, 0o755)
    monkeypatch.setattr(store.os, 'chmod', not_the_owner)
    kept = store.DirectoryStore(tmp_path)
    kept.save(_document(group='g1'))
    assert _loose(tmp_path) == {'.': '0o755'}


def test_a_lock_is_taken_only_on_a_registered_group(tmp_path):
    """An unknown name leaves nothing behind (any caller could fill the
    DR site's disk with them)."""
    kept = store.DirectoryStore(tmp_path, project_id='p1')
    with pytest.raises(exceptions.NotFound):
        with kept.fence_locked('nobody'):
            pass
    assert not (tmp_path / 'nobody').exists()


def test_a_group_without_an_owner_is_no_projects(tmp_path):
    """A group kept before owners were recorded: not found by a project
    (nor listed), until the project Rescuer protects registers it again
    and so claims it."""
    from tests.unit import test_groups
    store.DirectoryStore(tmp_path).save_definition(
        test_groups._definition(group='legacy'))
    other = store.DirectoryStore(tmp_path, project_id='tenant-b')
    with pytest.raises(exceptions.NotFound):
        other.definition('legacy')
    assert other.groups() == []
    protected = store.DirectoryStore(tmp_path, project_id='nfv')
    protected.save_definition(test_groups._definition(group='legacy'))
    assert protected.groups() == ['legacy']
    with pytest.raises(exceptions.NotFound):
        other.definition('legacy')
