"""The lab's file-backed block storage, on real (small, sparse) files."""

import json
import os

import pytest

from rescuer_lab import filestore


def _allocated(path):
    return os.stat(path).st_blocks * 512


def test_sparse_copy_keeps_bytes_and_holes(tmp_path):
    size = 64 * 1024 * 1024
    source = tmp_path / 'volume-a'
    with open(source, 'wb') as f:
        f.truncate(size)
        f.seek(123456)
        f.write(b'head')
        f.seek(size - 4)
        f.write(b'tail')
    copy = tmp_path / 'copy'
    filestore.sparse_copy(source, copy)

    assert os.path.getsize(copy) == size
    assert copy.read_bytes() == source.read_bytes()
    assert _allocated(copy) < 1024 * 1024  # still sparse
    assert not (tmp_path / 'copy.partial').exists()


def test_sparse_copy_makes_holes_of_written_zeros(tmp_path):
    # A restored volume: every byte written, zeros too.
    size = 8 * 1024 * 1024
    source = tmp_path / 'volume-restored'
    data = bytearray(size)
    data[3 * 1024 * 1024 + 5:3 * 1024 * 1024 + 9] = b'data'
    data[-1:] = b'!'
    source.write_bytes(bytes(data))
    assert _allocated(source) >= size
    copy = tmp_path / 'copy'
    filestore.sparse_copy(source, copy)

    assert copy.read_bytes() == bytes(data)
    assert _allocated(copy) <= 256 * 1024  # two 64 KiB blocks of data


def test_remove_partials_removes_only_unfinished_copies(tmp_path):
    filestore.create_sparse(filestore.volume_file(tmp_path, 'kept'), 1)
    (tmp_path / 'volume-clone.partial').write_bytes(b'half')
    replicas = tmp_path / 'from-site-b'
    replicas.mkdir()
    # A peer site's replica in progress is not this backend's to remove.
    (replicas / 'volume-peer.partial').write_bytes(b'peer')

    assert filestore.remove_partials(tmp_path) == ['volume-clone.partial']
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'from-site-b', 'volume-kept']
    assert (replicas / 'volume-peer.partial').exists()


def test_replicate_copies_only_replicated_volumes(tmp_path):
    volumes, target = tmp_path / 'site-a', tmp_path / 'site-b' / 'from-site-a'
    volumes.mkdir()
    for volume_id in ('rep', 'plain'):
        filestore.create_sparse(filestore.volume_file(volumes, volume_id), 1)
    filestore.mark_replicated(volumes, 'rep', 1, target)

    copied = filestore.replicate(volumes)

    assert [c['volume_id'] for c in copied] == ['rep']
    assert filestore.replica_file(target, 'rep').exists()
    assert not filestore.replica_file(target, 'plain').exists()
    record = json.loads((target / 'volume-rep.json').read_text())
    assert record['replicated_at'] == copied[0]['replicated_at']

    filestore.unmark_replicated(volumes, 'rep')
    assert filestore.replicate(volumes) == []


def test_replica_holds_exactly_the_replication_point(tmp_path):
    volumes, target = tmp_path / 'a', tmp_path / 'b'
    volumes.mkdir()
    path = filestore.volume_file(volumes, 'v')
    filestore.create_sparse(path, 1)
    filestore.mark_replicated(volumes, 'v', 1, target)

    filestore.write_pattern(path, 'before')
    filestore.replicate(volumes)
    filestore.write_pattern(path, 'after')

    assert [r['tag'] for r in filestore.read_patterns(path)] == [
        'before', 'after']
    assert [r['tag'] for r in filestore.read_patterns(
        filestore.replica_file(target, 'v'))] == ['before']


def test_damaged_pattern_record_is_reported(tmp_path):
    path = tmp_path / 'volume-v'
    filestore.create_sparse(path, 1)
    filestore.write_pattern(path, 'one')
    with open(path, 'r+b') as f:
        f.seek(filestore.PATTERN_BASE + 2000)
        f.write(b'XXXX')
    [record] = filestore.read_patterns(path)
    assert record['tag'] == 'one'
    assert record['error'] == 'record damaged'


def test_pattern_tag_too_long_is_refused(tmp_path):
    path = tmp_path / 'volume-v'
    filestore.create_sparse(path, 1)
    with pytest.raises(ValueError):
        filestore.write_pattern(path, 'x' * 5000)
