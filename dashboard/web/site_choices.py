"""Sites picked with checkboxes (``_site_choices.html``), one field per site, ``site:<domain>``:
forms arrive as one value per name, and a name per site also keeps the labels unique."""

from __future__ import annotations

from collections.abc import Mapping

PREFIX = "site:"


def checked_sites(form: Mapping[str, str]) -> list[str]:
    """The domains ticked in the form, in the order the form listed them."""
    return [name.removeprefix(PREFIX) for name in form if name.startswith(PREFIX)]
