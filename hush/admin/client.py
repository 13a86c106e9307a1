"""How ``hush sites`` and ``hush keys`` reach the database: through a running server, or directly.

DuckDB admits one process on the file. When ``hush serve`` runs, it has left its loopback
address and a token in ``server.json`` in the data dir; the CLI posts the operation there. When
no server answers, the CLI opens the file itself.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from aggregator.errors import AdminError
from aggregator.store import Store, StoreBusy
from collector.clock import SystemClock
from hush.admin.operations import AdminContext, run_admin
from hush.settings import Settings


class AdminFailed(Exception):
    """The operation was refused or could not reach the database; the message says why."""


def call_admin(settings: Settings, op: str, args: dict[str, Any]) -> dict[str, Any]:
    remote = _call_server(settings, op, args)
    if remote is not None:
        return remote
    try:
        store = Store(settings.database_path)
    except StoreBusy:
        raise AdminFailed(
            f"{settings.database_path} is held by another process and no hush server answers "
            f"at the address in {settings.server_file}"
        ) from None
    try:
        context = AdminContext(
            store, settings.sites_snapshot_path, SystemClock(), settings.raw_retention_days
        )
        return run_admin(context, op, args)
    except AdminError as exc:
        raise AdminFailed(str(exc)) from None
    finally:
        store.close()


def _call_server(settings: Settings, op: str, args: dict[str, Any]) -> dict[str, Any] | None:
    try:
        info = json.loads(settings.server_file.read_text())
    except (FileNotFoundError, ValueError):
        return None
    request = urllib.request.Request(  # noqa: S310 (the URL is the server's own loopback one)
        info["url"] + "/_admin",
        data=json.dumps({"op": op, "args": args}).encode(),
        headers={"Authorization": f"Bearer {info['token']}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        # Generous: `hush demo` of ten million events takes about a minute.
        with urllib.request.urlopen(request, timeout=3600) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["error"]
        except (ValueError, KeyError):
            message = f"the server answered {exc.code}"
        raise AdminFailed(message) from None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None  # a stale server.json: the server is gone


def running_server(settings: Settings) -> str | None:
    """The base URL of the hush server that holds this data dir, if one answers."""
    try:
        info = json.loads(settings.server_file.read_text())
        with urllib.request.urlopen(info["url"] + "/healthz", timeout=5) as response:  # noqa: S310
            return str(info["url"]) if response.status == 200 else None
    except (FileNotFoundError, ValueError, KeyError, OSError):
        return None
