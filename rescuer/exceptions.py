"""Errors the core raises; each message says what is wrong and where."""


class RescuerError(Exception):
    """Base class of every Rescuer error."""


class RegistryError(RescuerError):
    """The DR site registry is missing, malformed or incomplete."""


class UnknownSite(RescuerError):
    def __init__(self, name, known):
        self.name = name
        self.known = sorted(known)
        super().__init__('unknown site: %s; the DR site registry knows: %s'
                         % (name, ', '.join(self.known) or 'no sites'))


class SiteUnreachable(RescuerError):
    """A site's Keystone or service endpoint does not answer."""


class NotFound(RescuerError):
    """A remote object does not exist (any more)."""


class RemoteError(RescuerError):
    """A site's API refused a request; the message is the API's own."""

    def __init__(self, site, method, path, status, message):
        self.status = status
        super().__init__('site %s refused %s %s (HTTP %d): %s'
                         % (site, method, path, status, message))


class InvalidTemplate(RescuerError):
    """A template Rescuer is given cannot serve its purpose."""


class InvalidReplication(RescuerError):
    """A replication method cannot protect a volume as asked."""


class InvalidCapture(RescuerError):
    """A capture document is incomplete, corrupt or of another version."""


class Unmapped(RescuerError):
    """Names used at the primary have no mapping at the recovery site."""


class WorkflowFailed(RescuerError):
    """A Rescuer workflow at the DR site ended in error."""


class InvalidGroup(RescuerError):
    """A protection group's definition is incomplete or inconsistent."""


class StackFailed(RescuerError):
    """A stack at a site ended in a FAILED state."""


class NotOwned(RescuerError):
    """An id a step was given is not one of the group's, by Rescuer's own
    records: Rescuer's credential does not act on it."""
