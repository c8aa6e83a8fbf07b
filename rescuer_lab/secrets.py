"""Passwords the lab generates once and keeps in a mode-0600 file."""

import os
import secrets as _secrets

import yaml

from rescuer_lab import paths


def _generate():
    return _secrets.token_urlsafe(18)


class Secrets:
    """A persistent map of name -> generated secret."""

    def __init__(self, path=None):
        self.path = path or paths.secrets_file()
        self._values = {}
        if self.path.exists():
            with open(self.path) as f:
                self._values = yaml.safe_load(f) or {}

    def get(self, name):
        if name not in self._values:
            self._values[name] = _generate()
            self._save()
        return self._values[name]

    def set(self, name, value):
        self._values[name] = value
        self._save()

    def peek(self, name):
        return self._values.get(name)

    def _save(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            yaml.safe_dump(self._values, f, default_flow_style=False)
