"""The administrative operations behind ``hush sites``, ``users``, ``keys``, ``retention``, the
database parts of ``hush demo`` and ``hush audit``, and the admin pages.

They run in whichever process holds the database: the CLI itself when no server runs, or the
server, which the CLI reaches through its admin socket and the pages call directly. Each change
is an audit log entry by its actor (``cli`` from the command line, the user from a page), in
the words of DESIGN §4: an allowlisted before and after, never a secret. Results are plain JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregator import api_keys, audit_log, goals, one_time_links, sites, users
from aggregator.audit_log import CLI, Actor
from aggregator.errors import AdminError
from aggregator.retention import purge_raw
from aggregator.rollups import reroll_kept_days, roll_up_pending
from aggregator.store import Store
from collector.clock import Clock

SITE_FIELDS = ("timezone", "honour_dnt", "hash_routing")


@dataclass(frozen=True, slots=True)
class AdminContext:
    """What the operations need, from whichever process holds the store."""

    store: Store
    snapshot: Path
    clock: Clock
    retention_days: int
    min_visitors: int  # k (P7): retention folds rollup rows about fewer people
    maintenance_interval: float = 60.0  # how often retention runs: the audit's slack on a lake


def run_admin(
    context: AdminContext, op: str, args: dict[str, Any], *, actor: Actor = CLI
) -> dict[str, Any]:
    """Carry out one operation as ``actor``; raises AdminError when it cannot be done."""
    store, now = context.store, context.clock.now()

    def audit(action: str, target: str, **details: Any) -> None:
        audit_log.record(store, actor, action, target=target, now=now, **details)

    group = op.split(".", 1)[0]
    if group == "sites" and op != "sites.list":
        result = _sites(context, op, args, audit)
        sites.publish_snapshot(store, context.snapshot)
        return result
    if group == "users":
        return _users(context, op, args, audit)
    if group == "keys":
        return _keys(context, op, args, audit)
    if group == "goals":
        return _goals(context, op, args, audit, actor)
    match op:
        case "audit.database":
            # The audit's checks and its address detectors (~1.3 MiB) only when one is run.
            from privacy_audit import check_database
            from privacy_audit.audit_log import check_audit_log

            today = datetime.fromtimestamp(now, UTC).date()
            checks = check_database(
                store,
                retention_days=context.retention_days,
                today=today,
                maintenance_interval=context.maintenance_interval,
            )
            checks.append(check_audit_log(store))
            return {"checks": [asdict(check) for check in checks]}
        case "demo":
            from demo import generate_demo  # pyarrow (~25 MiB) only in a server that makes one

            made = generate_demo(
                store,
                site=str(args.get("site") or "demo.example"),
                events=int(args.get("events", 200_000)),
                days=int(args.get("days", 30)),
                snapshot=context.snapshot,
            )
            result = asdict(made)
            result["first_day"], result["last_day"] = str(made.first_day), str(made.last_day)
            return {"demo": result}
        case "retention":
            dry_run = bool(args.get("dry_run"))
            roll_up_pending(store, context.clock)
            report = purge_raw(
                store,
                context.retention_days,
                context.clock,
                dry_run=dry_run,
                min_visitors=context.min_visitors,
            )
            if not dry_run:
                audit("retention.run", "raw events", changes={"raw_events_deleted": report.deleted})
            return {"lines": report.lines(dry_run=dry_run), "deleted": report.deleted}
        case "sites.list":
            if actor.type == "api_key":  # every Sites API call is on record, reads included
                audit("site.list", "all sites")
            return {"sites": [asdict(s) for s in sites.list_sites(store)]}
        case _:
            raise AdminError(f"unknown operation {op!r}")


def _sites(context: AdminContext, op: str, args: dict[str, Any], audit: Any) -> dict[str, Any]:
    store = context.store
    domain = _text(args, "domain")
    match op:
        case "sites.add":
            site = sites.add_site(store, domain, timezone=args.get("timezone") or "UTC")
            audit("site.create", site.domain, changes={"timezone": [None, site.timezone]})
        case "sites.set":
            before = sites.find_site(store, sites.normalise_domain(domain))
            site = sites.update_site(
                store,
                domain,
                timezone=args.get("timezone"),
                honour_dnt=args.get("honour_dnt"),
                hash_routing=args.get("hash_routing"),
            )
            changes = {
                name: [getattr(before, name), getattr(site, name)]
                for name in SITE_FIELDS
                if before is not None and getattr(before, name) != getattr(site, name)
            }
            audit("site.update", site.domain, changes=changes)
        case "sites.remove":
            found = sites.find_site(store, sites.normalise_domain(domain))
            if found is not None:
                with store.write() as cur:
                    goals.remove_site_goals(cur, found.id)
            site = sites.remove_site(store, domain)
            audit("site.remove", site.domain)
        case _:
            raise AdminError(f"unknown operation {op!r}")
    return {"site": asdict(site)}


def _users(context: AdminContext, op: str, args: dict[str, Any], audit: Any) -> dict[str, Any]:
    store, now = context.store, context.clock.now()
    if op == "users.list":
        return {"users": [asdict(u) for u in users.list_users(store)]}
    email = _text(args, "email")
    match op:
        case "users.add":
            user = users.add_user(
                store,
                email,
                role=_text(args, "role"),
                password_hash=str(args.get("password_hash") or ""),
                sites=tuple(args.get("sites") or ()),
                now=now,
            )
            audit(
                "user.create",
                user.email,
                changes={"role": [None, user.role], "sites": [None, list(user.sites)]},
            )
            result: dict[str, Any] = {"user": asdict(user)}
            if not user.has_password:
                result["reset_token"] = one_time_links.issue(
                    store, one_time_links.RESET, user_id=user.id, now=now
                )
            return result
        case "users.set":
            sites_arg = args.get("sites")
            before, user = users.update_user(
                store,
                email,
                role=args.get("role") or None,
                sites=None if sites_arg is None else tuple(sites_arg),
            )
            changes = {
                name: [getattr(before, name), getattr(user, name)]
                for name in ("role", "sites")
                if getattr(before, name) != getattr(user, name)
            }
            audit("user.update", user.email, changes=changes)
            return {"user": asdict(user)}
        case "users.remove":
            user = users.remove_user(store, email)
            audit("user.remove", user.email)
            return {"user": asdict(user)}
        case "users.reset":
            user = users.require_user(store, email)
            token = one_time_links.issue(store, one_time_links.RESET, user_id=user.id, now=now)
            audit("user.reset_link", user.email)
            return {"user": asdict(user), "reset_token": token}
        case "users.count":
            return {"count": users.user_count(store)}
    raise AdminError(f"unknown operation {op!r}")


def _keys(context: AdminContext, op: str, args: dict[str, Any], audit: Any) -> dict[str, Any]:
    store, now = context.store, context.clock.now()
    owner = _owner(store, args.get("user"))
    owner_id = owner.id if owner else None
    match op:
        case "keys.list":
            found = api_keys.list_keys(store, user_id=owner_id if args.get("user") else None)
            return {"keys": [asdict(k) for k in found]}
        case "keys.add":
            record, key = api_keys.add_key(
                store,
                _text(args, "name"),
                user_id=owner_id,
                sites=tuple(args.get("sites") or ()),
                allowed=None if owner is None or owner.reads_every_site else owner.sites,
                now=now,
            )
            audit(
                "key.create",
                record.name,
                changes={"owner": [None, record.user], "sites": [None, list(record.sites)]},
            )
            return {"key": asdict(record), "secret": key}
        case "keys.revoke":
            only = owner_id if args.get("user") else None
            record = api_keys.revoke_key(store, _text(args, "which"), user_id=only, now=now)
            audit("key.revoke", record.name, changes={"owner": [record.user, record.user]})
            return {"key": asdict(record)}
    raise AdminError(f"unknown operation {op!r}")


def _goals(
    context: AdminContext, op: str, args: dict[str, Any], audit: Any, actor: Actor
) -> dict[str, Any]:
    """A site's goals (DESIGN §4). A change re-rolls the days whose raw events are kept, so
    the rollups count the goals as they are now."""
    store = context.store
    domain = _text(args, "site")
    site = sites.find_site(store, sites.normalise_domain(domain))
    if site is None:
        raise AdminError(f"{domain} is not a site")
    match op:
        case "goals.list":
            if actor.type == "api_key":
                audit("goal.list", site.domain)
            return {"goals": [_goal(g) for g in goals.list_goals(store, site.id)]}
        case "goals.add":
            goal, created = goals.add_goal(
                store,
                site.id,
                kind=_text(args, "kind"),
                target=_text(args, "target"),
                display_name=str(args.get("display_name") or ""),
                now=context.clock.now(),
            )
            if created:
                reroll_kept_days(store, site.id)
                audit(
                    "goal.create",
                    f"{site.domain}: {goal.display_name}",
                    changes={"kind": [None, goal.kind], "target": [None, goal.target]},
                )
            return {"goal": _goal(goal), "created": created}
        case "goals.remove":
            which = args.get("id")
            if not str(which or "").isdigit():
                raise AdminError("id is required: the goal's number (hush goals list SITE)")
            goal = goals.remove_goal(store, site.id, int(str(which)))
            reroll_kept_days(store, site.id)
            audit(
                "goal.remove",
                f"{site.domain}: {goal.display_name}",
                changes={"kind": [goal.kind, None], "target": [goal.target, None]},
            )
            return {"goal": _goal(goal)}
    raise AdminError(f"unknown operation {op!r}")


def _goal(goal: goals.Goal) -> dict[str, Any]:
    record = asdict(goal)
    record["counted_from"] = str(goal.counted_from) if goal.counted_from else None
    return record


def _owner(store: Store, email: Any) -> users.User | None:
    """The key's owner: the user named, else the first admin (None before users exist)."""
    if email:
        return users.require_user(store, str(email))
    admins = [u for u in users.list_users(store) if u.role == "admin"]
    return admins[0] if admins else None


def _text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise AdminError(f"{name} is required")
    return value
