"""The errors the writer side raises for requests it refuses.

``AdminError``: an administrator's request that cannot be carried out (a bad domain, an unknown
key, a password too short); the message says why and is shown as it is, by the CLI on stderr
and by the admin pages beside the form.
"""

from __future__ import annotations


class AdminError(ValueError):
    """A request from an administrator that cannot be carried out; the message says why."""
