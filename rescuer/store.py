"""Where captures are kept: at the DR site, readable with the primary gone.

A directory owned by the DR site's Rescuer (the Mistral executor there):
one sub-directory per group, one file per capture, named so that names
sort by time.  Chosen over Swift because the lab's DR site - like many
NFV DR sites - runs no object store, and a capture must be readable by
the very executor that fails over; a Swift-backed store can implement the
same three methods.

- ``save`` writes a ``.partial`` file of its own, fsyncs, and renames: a
  capture appears whole or not at all, however many write at once; it
  is verified (checksum) before it is kept, so a partial or corrupt
  capture never replaces the last good one.
- ``latest`` returns the newest capture that passes its checksum,
  skipping (and reporting) corrupt ones.
- the last ``keep`` captures of a group are kept.

Beside the captures, a group's directory holds its definition
(``group.json``, written when the group is registered), the project that
owns it (``owner.json``) and the record of
its last completed sync (``sync.json``) and, while the group is failed
over, its fence record (``fence.json``, read, enforced and saved or
lifted by one action at a time: ``fence_locked``); for groups with
backup-protected volumes, the records of their backup chains
(``backups.json``, see :mod:`rescuer.backups`), which one sync at a time
reads and rewrites (``backups_locked``).  Run reports are kept under
``.reports/``.

What the store holds is for Rescuer alone: its directories are made
0700 and its files 0600 (records, captures, reports, the ``.partial``
files they are written through, lock files), whatever the umask.  A store
made looser before is tightened: its root when opened, a directory and
its files when written to.
"""

import contextlib
import fcntl
import json
import os
import pathlib
import shutil
import stat
import tempfile
import time

from rescuer import capture as capture_mod
from rescuer import exceptions
from rescuer import groups

DEFINITION = 'group.json'
LAST_SYNC = 'sync.json'
FENCE = 'fence.json'
BACKUPS = 'backups.json'
BACKUPS_LOCK = 'backups.lock'
FENCE_LOCK = 'fence.lock'
OWNER = 'owner.json'
# A .partial this old is a dead writer's, removed at the next capture.
STALE_PARTIAL_SECONDS = 3600
# Run reports, beside the groups (a group name never starts with a dot).
REPORTS = '.reports'
# The store's modes: for Rescuer (the DR site's Mistral executor) alone.
DIR_MODE = 0o700
FILE_MODE = 0o600


class DirectoryStore:
    """The DR site's store, as seen by one project (``project_id``) or,
    with None, by Rescuer itself.

    A group belongs to the project that registered it (``owner.json``);
    seen by any other project it does not exist - that project's users
    cannot read, sync, fail over, drill or fail back another project's
    groups, nor learn that they exist.
    """

    def __init__(self, path, keep=10, project_id=None):
        if keep < 1:
            raise ValueError('keep at least one capture')
        self.root = pathlib.Path(path)
        self.keep = keep
        self.project_id = project_id
        if self.root.is_dir():
            _tighten_root(self.root)

    def _group_dir(self, group, claim=False):
        """The group's directory, if this store's project owns it (or it
        does not exist yet).  A directory without an owner (a group kept
        before owners were recorded) is no project's - but Rescuer's own
        and, with ``claim``, that of the project registering it (only
        the project Rescuer protects may register)."""
        if not isinstance(group, str) or not group or '/' in group or \
                group.startswith('.'):
            raise exceptions.InvalidCapture('bad group name %r' % (group,))
        directory = self.root / group
        if self.project_id is not None and directory.exists():
            owner = self._owner(directory)
            if owner != self.project_id and not (owner is None and claim):
                raise exceptions.NotFound(
                    'group %s is not registered at this DR site' % group)
        return directory

    @staticmethod
    def _owner(directory):
        try:
            with open(directory / OWNER) as f:
                return json.load(f)['project_id']
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def save(self, document):
        capture_mod.verify(document)
        directory = self._group_dir(document['group'])
        self._make_dir(directory)
        name = '%s-%s.json' % (
            document['captured_at'].replace(':', '').replace('+', 'p'),
            document['capture_id'])
        _write_json(directory / name, document)
        self._prune(directory)
        return directory / name

    def _files(self, directory):
        # Captures are named by time; group.json and sync.json are not.
        return sorted(directory.glob('[0-9]*.json'))

    def _prune(self, directory):
        for old in self._files(directory)[:-self.keep]:
            old.unlink()
        # What a writer killed mid-write left (any live write takes far
        # less than this).
        stale = time.time() - STALE_PARTIAL_SECONDS
        for partial in directory.glob('*.partial'):
            with contextlib.suppress(FileNotFoundError):
                if partial.stat().st_mtime < stale:
                    partial.unlink()

    def history(self, group):
        directory = self._group_dir(group)
        return self._files(directory) if directory.exists() else []

    def latest(self, group):
        """(document, skipped): the newest good capture, and the files of
        newer ones that failed verification."""
        skipped = []
        for path in reversed(self.history(group)):
            try:
                with open(path) as f:
                    return capture_mod.verify(json.load(f)), skipped
            except (ValueError, exceptions.InvalidCapture) as exc:
                skipped.append('%s: %s' % (path.name, exc))
        raise exceptions.InvalidCapture(
            'no good capture of group %s at %s%s' % (
                group, self.root,
                (' (skipped: %s)' % '; '.join(skipped)) if skipped else ''))

    def capture(self, group, capture_id):
        """The good capture ``capture_id`` of ``group`` still kept, or
        None."""
        for path in reversed(self.history(group)):
            try:
                with open(path) as f:
                    document = capture_mod.verify(json.load(f))
            except (ValueError, exceptions.InvalidCapture):
                continue
            if document['capture_id'] == capture_id:
                return document
        return None

    # ------------------------------------------- definitions and syncs

    def save_definition(self, definition):
        """Keep a group's definition; the group belongs to this store's
        project from now on."""
        groups.check(definition)
        directory = self._group_dir(definition['group'], claim=True)
        if self.project_id is not None and self._owner(directory) is None:
            self._make_dir(directory)
            _write_json(directory / OWNER, {'project_id': self.project_id})
        return self._save_record(definition['group'], DEFINITION, definition)

    def definition(self, group):
        """The registered definition of ``group``."""
        path = self._group_dir(group) / DEFINITION
        try:
            with open(path) as f:
                return groups.check(json.load(f))
        except FileNotFoundError:
            raise exceptions.NotFound(
                'group %s is not registered at this DR site (no %s)'
                % (group, path))
        except ValueError as exc:
            raise exceptions.InvalidGroup('%s: %s' % (path, exc))

    def _save_record(self, group, name, record):
        directory = self._group_dir(group)
        self._make_dir(directory)
        _write_json(directory / name, record)
        return directory / name

    def _record(self, group, name):
        try:
            with open(self._group_dir(group) / name) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return None

    def save_sync(self, record):
        self._save_record(record['group'], LAST_SYNC, record)

    def last_sync(self, group):
        """The record of the last completed sync, or None."""
        return self._record(group, LAST_SYNC)

    def save_fence(self, record):
        self._save_record(record['group'], FENCE, record)

    def fence(self, group):
        """The group's fence record (it is failed over), or None."""
        return self._record(group, FENCE)

    def clear_fence(self, group):
        (self._group_dir(group) / FENCE).unlink(missing_ok=True)

    def save_backups(self, group, state):
        self._save_record(group, BACKUPS, state)

    def backups(self, group):
        """The group's backup chains and retired backups (an empty
        state before the first backup)."""
        return self._record(group, BACKUPS) or {'chains': {}, 'retired': []}

    def backups_locked(self, group):
        """Hold the group's backup records while reading, changing and
        saving them: two syncs of a group can overlap (a scheduled one and
        the one that re-registering the group runs) and each rewrites the
        whole record, so without the lock one's chains are lost."""
        return self._locked(group, BACKUPS_LOCK)

    def fence_locked(self, group):
        """Hold the group's fence record while reading, enforcing and
        saving it: a scheduled sync that enforces the fence must not save
        it again after a failback has lifted it."""
        return self._locked(group, FENCE_LOCK)

    @contextlib.contextmanager
    def _locked(self, group, lock_name):
        directory = self._group_dir(group)
        if not (directory / DEFINITION).is_file():
            raise exceptions.NotFound(
                'group %s is not registered at this DR site' % group)
        fd = os.open(directory / lock_name,
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        os.fchmod(fd, FILE_MODE)    # whatever the umask, or its old mode
        with os.fdopen(fd, 'a') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # ------------------------------------------------------------ reports

    def save_report(self, report):
        directory = self.root / REPORTS
        self._make_dir(directory)
        path = directory / ('%s.json' % _safe(report['run_id']))
        _write_json(path, report)
        return path

    def report(self, run_id):
        path = self.root / REPORTS / ('%s.json' % _safe(run_id))
        try:
            with open(path) as f:
                return json.load(f)
        except FileNotFoundError:
            raise exceptions.NotFound('no report of run %s at %s'
                                      % (run_id, path.parent))

    def _make_dir(self, directory):
        """``directory`` (the root's child) and the root made if missing,
        both private, with the files in ``directory`` - whatever made them
        looser before."""
        if not self.root.is_dir():
            self.root.mkdir(parents=True, exist_ok=True)
            _tighten_root(self.root)
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=DIR_MODE)
        _tighten(directory)

    def remove_group(self, group):
        """Forget a group: definition, sync record and captures."""
        shutil.rmtree(self._group_dir(group), ignore_errors=True)

    def groups(self):
        """Names of the groups registered here that this store's project
        sees (all, for Rescuer itself), sorted."""
        if not self.root.is_dir():
            return []
        found = []
        for directory in sorted(self.root.iterdir()):
            if not (directory / DEFINITION).is_file():
                continue
            if self.project_id in (None, self._owner(directory)):
                found.append(directory.name)
        return found


def _safe(name):
    if not name or '/' in name or name.startswith('.'):
        raise exceptions.NotFound('bad run id %r' % name)
    return name


def _write_json(path, document):
    """Write whole or not at all: a .partial of this writer's own, fsync,
    rename (two writers of one record never share the .partial; the last
    rename wins)."""
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=path.name + '.',
                                   suffix='.partial')
    try:
        os.fchmod(fd, FILE_MODE)    # whatever the umask: the rename keeps it
        with os.fdopen(fd, 'w') as f:
            json.dump(document, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise


def _chmod(path, mode):
    """``path`` to ``mode`` unless it is so already."""
    if stat.S_IMODE(os.stat(path).st_mode) != mode:
        os.chmod(path, mode)


def _tighten_root(root):
    """The store's root private.  A root another user owns (made for
    Rescuer by an operator) keeps the mode they gave it: what is inside,
    Rescuer's own, is private still."""
    with contextlib.suppress(PermissionError):
        _chmod(root, DIR_MODE)


def _tighten(directory):
    """``directory`` private, and the files in it (symbolic links, which
    the store never makes, are left alone; another writer may remove a
    file meanwhile)."""
    _chmod(directory, DIR_MODE)
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    _chmod(entry.path, FILE_MODE)
