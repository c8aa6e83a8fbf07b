"""Where captures are kept: at the DR site, readable with the primary gone.

A directory owned by the DR site's Rescuer (the Mistral executor there):
one sub-directory per group, one file per capture, named so that names
sort by time.  Chosen over Swift because the lab's DR site - like many
NFV DR sites - runs no object store, and a capture must be readable by
the very executor that fails over; a Swift-backed store can implement the
same three methods.

- ``save`` writes ``.partial``, fsyncs, and renames: a capture appears
  whole or not at all; it is verified (checksum) before it is kept, so a
  partial or corrupt capture never replaces the last good one.
- ``latest`` returns the newest capture that passes its checksum,
  skipping (and reporting) corrupt ones.
- the last ``keep`` captures of a group are kept.
"""

import json
import os
import pathlib

from rescuer import capture as capture_mod
from rescuer import exceptions


class DirectoryStore:

    def __init__(self, path, keep=10):
        if keep < 1:
            raise ValueError('keep at least one capture')
        self.root = pathlib.Path(path)
        self.keep = keep

    def _group_dir(self, group):
        if not group or '/' in group or group.startswith('.'):
            raise exceptions.InvalidCapture('bad group name %r' % group)
        return self.root / group

    def save(self, document):
        capture_mod.verify(document)
        directory = self._group_dir(document['group'])
        directory.mkdir(parents=True, exist_ok=True)
        name = '%s-%s.json' % (
            document['captured_at'].replace(':', '').replace('+', 'p'),
            document['capture_id'])
        partial = directory / (name + '.partial')
        with open(partial, 'w') as f:
            json.dump(document, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, directory / name)
        self._prune(directory)
        return directory / name

    def _files(self, directory):
        return sorted(directory.glob('*.json'))

    def _prune(self, directory):
        for old in self._files(directory)[:-self.keep]:
            old.unlink()

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
