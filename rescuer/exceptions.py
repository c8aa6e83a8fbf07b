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
