"""The administrative operations behind ``hush sites``, ``hush keys``, ``hush retention`` and
the database parts of ``hush demo`` and ``hush audit``.

They run in whichever process holds the database: the CLI itself when no server runs, or the
server, which the CLI reaches through its loopback admin endpoint. Results are plain JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregator import api_keys, sites
from aggregator.errors import AdminError
from aggregator.retention import purge_raw
from aggregator.rollups import roll_up_pending
from aggregator.store import Store
from collector.clock import Clock
from demo import generate_demo
from privacy_audit import check_database


@dataclass(frozen=True, slots=True)
class AdminContext:
    """What the operations need, from whichever process holds the store."""

    store: Store
    snapshot: Path
    clock: Clock
    retention_days: int


def run_admin(context: AdminContext, op: str, args: dict[str, Any]) -> dict[str, Any]:
    """Carry out one operation; raises AdminError when it cannot be done."""
    store, snapshot = context.store, context.snapshot
    match op:
        case "audit.database":
            today = datetime.fromtimestamp(context.clock.now(), UTC).date()
            checks = check_database(store, retention_days=context.retention_days, today=today)
            return {"checks": [asdict(check) for check in checks]}
        case "demo":
            report = generate_demo(
                store,
                site=str(args.get("site") or "demo.example"),
                events=int(args.get("events", 200_000)),
                days=int(args.get("days", 30)),
                snapshot=snapshot,
            )
            result = asdict(report)
            result["first_day"], result["last_day"] = str(report.first_day), str(report.last_day)
            return {"demo": result}
        case "retention":
            dry_run = bool(args.get("dry_run"))
            roll_up_pending(store, context.clock)
            report = purge_raw(store, context.retention_days, context.clock, dry_run=dry_run)
            return {"lines": report.lines(dry_run=dry_run), "deleted": report.deleted}
        case "sites.list":
            return {"sites": [asdict(s) for s in sites.list_sites(store)]}
        case "sites.add":
            site = sites.add_site(
                store, _text(args, "domain"), timezone=args.get("timezone") or "UTC"
            )
        case "sites.set":
            site = sites.update_site(
                store,
                _text(args, "domain"),
                timezone=args.get("timezone"),
                honour_dnt=args.get("honour_dnt"),
                hash_routing=args.get("hash_routing"),
            )
        case "sites.remove":
            site = sites.remove_site(store, _text(args, "domain"))
        case "keys.list":
            return {"keys": [asdict(k) for k in api_keys.list_keys(store)]}
        case "keys.add":
            record, key = api_keys.add_key(store, _text(args, "name"))
            return {"key": asdict(record), "secret": key}
        case "keys.revoke":
            return {"key": asdict(api_keys.revoke_key(store, _text(args, "which")))}
        case _:
            raise AdminError(f"unknown operation {op!r}")
    sites.publish_snapshot(store, snapshot)
    return {"site": asdict(site)}


def _text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise AdminError(f"{name} is required")
    return value
