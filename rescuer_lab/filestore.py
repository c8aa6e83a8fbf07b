"""The lab's block storage, as plain files: one sparse file per volume.

Shared by the lab's Cinder driver (inside cinder-volume) and by the
``rescuer-lab`` command (replication on demand, data patterns), so it
imports nothing from Cinder.

Layout of a backend directory::

    volume-<id>              the volume's bytes (sparse)
    volume-<id>.replicated   present while the volume is replicated: JSON
                             {volume_id, size_gb, target_dir}
    snapshot-<id>            a snapshot's bytes (sparse copy)
    from-<site>/             replicas a peer site writes here: storage this
                             backend owns and can take over (manage-existing)
"""

import datetime
import json
import os
import pathlib
import time

GiB = 1024 ** 3
# sparse_copy leaves a hole for each all-zero block of this size.
_ZERO_BLOCK = 64 * 1024
_ZEROS = bytes(_ZERO_BLOCK)


def volume_file(directory, volume_id):
    return pathlib.Path(directory) / ('volume-%s' % volume_id)


def snapshot_file(directory, snapshot_id):
    return pathlib.Path(directory) / ('snapshot-%s' % snapshot_id)


def create_sparse(path, size_gb):
    with open(path, 'xb') as f:
        f.truncate(size_gb * GiB)


def resize(path, size_gb):
    with open(path, 'r+b') as f:
        f.truncate(size_gb * GiB)


def size_gb(path):
    """The size in GiB, rounded up (as Cinder counts)."""
    return -(-os.path.getsize(path) // GiB)


def _data_extents(fd, size):
    """(start, end) of the data regions of a sparse file."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError:  # ENXIO: no data past offset
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, end
        offset = end


def sparse_copy(source, destination):
    """Copy ``source`` to ``destination`` atomically, keeping holes and
    making holes of all-zero blocks.

    A restore writes a volume whole, zeros too, so a restored volume is
    1 GiB of data to the file system; each backup of it while in use
    clones it first.  Skipping its zeros made that clone a few MiB to
    write and fsync instead of 1 GiB.
    """
    destination = pathlib.Path(destination)
    partial = destination.with_name(destination.name + '.partial')
    with open(source, 'rb') as src, open(partial, 'wb') as dst:
        size = os.fstat(src.fileno()).st_size
        for start, end in _data_extents(src.fileno(), size):
            src.seek(start)
            offset = start
            while offset < end:
                chunk = src.read(min(_ZERO_BLOCK, end - offset))
                if not chunk:
                    break
                if chunk != _ZEROS[:len(chunk)]:
                    dst.seek(offset)
                    dst.write(chunk)
                offset += len(chunk)
        dst.truncate(size)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(partial, destination)


def remove_partials(directory):
    """Remove the ``.partial`` copies a killed process left in a backend
    directory (a site failed while cinder-volume cloned a volume); only
    that backend's own process writes there.  Returns their names."""
    removed = []
    for partial in sorted(pathlib.Path(directory).glob('*.partial')):
        partial.unlink(missing_ok=True)
        removed.append(partial.name)
    return removed


# ---------------------------------------------------------------- replication

def _marker(directory, volume_id):
    return pathlib.Path(directory) / ('volume-%s.replicated' % volume_id)


def mark_replicated(directory, volume_id, size, target_dir):
    _marker(directory, volume_id).write_text(json.dumps(
        {'volume_id': volume_id, 'size_gb': size,
         'target_dir': str(target_dir)}))


def unmark_replicated(directory, volume_id):
    _marker(directory, volume_id).unlink(missing_ok=True)


def is_replicated(directory, volume_id):
    return _marker(directory, volume_id).exists()


def replica_file(target_dir, volume_id):
    return volume_file(target_dir, volume_id)


def replicate(directory, volume_ids=None):
    """Copy replicated volumes to their targets now; returns what it copied.

    Each replica is written beside the target as ``.partial`` and renamed
    into place, so a replica is always a whole point-in-time copy; its
    ``.json`` records when that point was.
    """
    directory = pathlib.Path(directory)
    copied = []
    for marker in sorted(directory.glob('volume-*.replicated')):
        info = json.loads(marker.read_text())
        if volume_ids is not None and info['volume_id'] not in volume_ids:
            continue
        source = volume_file(directory, info['volume_id'])
        if not source.exists():
            continue
        target_dir = pathlib.Path(info['target_dir'])
        target_dir.mkdir(parents=True, exist_ok=True)
        point = time.time()
        target = replica_file(target_dir, info['volume_id'])
        sparse_copy(source, target)
        target.with_name(target.name + '.json').write_text(json.dumps(
            {'volume_id': info['volume_id'], 'replicated_at': point,
             'source': str(source)}))
        copied.append({'volume_id': info['volume_id'],
                       'replica': str(target), 'replicated_at': point})
    return copied


def replicated_at(replica):
    """When ``replica`` was copied (ISO 8601, UTC), from its ``.json``;
    None when that is not known."""
    try:
        point = json.loads(pathlib.Path(str(replica) + '.json').read_text())[
            'replicated_at']
    except (OSError, ValueError, KeyError):
        return None
    return datetime.datetime.fromtimestamp(
        point, datetime.timezone.utc).isoformat()


# --------------------------------------------------------------- data patterns
#
# Tests (and the drill) write tagged records into a volume and read back which
# survived a failover.  Record k lives in the 4 KiB block at 1 MiB + k * 4 KiB.

PATTERN_BASE = 1024 * 1024
PATTERN_BLOCK = 4096
PATTERN_SLOTS = 256
_MAGIC = b'RESCUER-PATTERN\0'


def _record(tag, slot):
    body = json.dumps({'tag': tag, 'slot': slot,
                       'written_at': time.time()}).encode()
    block = _MAGIC + len(body).to_bytes(4, 'big') + body
    if len(block) > PATTERN_BLOCK:
        raise ValueError('pattern tag too long')
    # Fill the rest of the block with a tag-derived pattern, so a partial
    # or misplaced copy shows up as a bad record rather than a good one.
    filler = (tag.encode() * PATTERN_BLOCK)[:PATTERN_BLOCK - len(block)]
    return block + filler


def _parse(block):
    if not block.startswith(_MAGIC):
        return None
    length = int.from_bytes(block[len(_MAGIC):len(_MAGIC) + 4], 'big')
    start = len(_MAGIC) + 4
    try:
        record = json.loads(block[start:start + length])
    except ValueError:
        return {'error': 'unreadable record'}
    filler = (record['tag'].encode() * PATTERN_BLOCK)[
        :PATTERN_BLOCK - start - length]
    if block[start + length:] != filler:
        record['error'] = 'record damaged'
    return record


def read_patterns(path):
    """Records in a volume file, in slot order."""
    records = []
    with open(path, 'rb') as f:
        for slot in range(PATTERN_SLOTS):
            f.seek(PATTERN_BASE + slot * PATTERN_BLOCK)
            record = _parse(f.read(PATTERN_BLOCK))
            if record is None:
                break
            records.append(record)
    return records


def write_pattern(path, tag):
    """Append a tagged record to a volume file; returns the record."""
    slot = len(read_patterns(path))
    if slot >= PATTERN_SLOTS:
        raise ValueError('the volume holds %d records already' % slot)
    with open(path, 'r+b') as f:
        f.seek(PATTERN_BASE + slot * PATTERN_BLOCK)
        f.write(_record(tag, slot))
        f.flush()
        os.fsync(f.fileno())
    return read_patterns(path)[slot]
