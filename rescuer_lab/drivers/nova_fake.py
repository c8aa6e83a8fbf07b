"""The lab's Nova compute driver: Nova's fake driver, whose guests outlive
a restart of nova-compute, as a real hypervisor's do.

Runs inside nova-compute (it imports nova).  Nova's ``FakeDriver`` keeps
its guests in memory only: after ``rescuer-lab down`` and ``up`` (or a
``recover``) every server Nova still listed ACTIVE was unknown to the new
compute process, so stopping it failed with InstanceNotFound, and a
failback's drain of the DR site waited for a stop that never came.  This
driver writes its guests (name and power state) to
``<instances_path>/lab-guests.json`` whenever one is made, changes power
state or is destroyed, and reads them back when it starts.  A site killed
by ``rescuer-lab fail`` gets its guests back as they were (servers that
ran run again), like hosts that restart their VMs.
"""

import json
import os

from nova import conf
from nova.virt import fake

CONF = conf.CONF
GUESTS_FILE = 'lab-guests.json'


class Guest(fake.FakeInstance):
    """A fake guest that has its book saved when its state changes."""

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        book = self.__dict__.get('_book')
        if name == 'state' and book is not None:
            book.save()


class GuestBook(dict):
    """``{uuid: guest}``, written to ``path`` on every change, with what
    each guest claimed of the host (``claims``: vcpus, memory MB, disk
    GB)."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.claims = {}
        for uuid, guest in read(path).items():
            self._keep(uuid, fake.FakeInstance(guest['name'],
                                               guest['state'], uuid))
            if guest.get('claim'):
                self.claims[uuid] = guest['claim']

    def claimed(self, uuid, claim):
        self.claims[uuid] = list(claim)
        self.save()

    def _keep(self, uuid, guest):
        guest.__class__ = Guest
        guest.__dict__['_book'] = self
        super().__setitem__(uuid, guest)

    def __setitem__(self, uuid, guest):
        self._keep(uuid, guest)
        self.save()

    def __delitem__(self, uuid):
        super().__delitem__(uuid)
        self.claims.pop(uuid, None)
        self.save()

    def save(self):
        """Write the guests whole (a half-written file is never read)."""
        partial = self.path + '.partial'
        with open(partial, 'w') as out:
            json.dump({uuid: {'name': g.name, 'state': g.state,
                              'claim': self.claims.get(uuid)}
                       for uuid, g in self.items()}, out)
        os.replace(partial, self.path)


def read(path):
    """The guests a book at ``path`` holds (none when there is none)."""
    try:
        with open(path) as kept:
            return json.load(kept)
    except FileNotFoundError:
        return {}


class LabDriver(fake.FakeDriverWithoutFakeNodes):
    """``FakeDriverWithoutFakeNodes`` with its guests kept on disk."""

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi, read_only)
        os.makedirs(CONF.instances_path, exist_ok=True)
        self.instances = GuestBook(os.path.join(CONF.instances_path,
                                                GUESTS_FILE))
        for claim in self.instances.claims.values():
            self.resources.claim(*claim)

    def spawn(self, context, instance, *args, **kwargs):
        super().spawn(context, instance, *args, **kwargs)
        flavor = instance.flavor
        self.instances.claimed(instance.uuid, (
            flavor.vcpus, flavor.memory_mb, flavor.root_gb))
