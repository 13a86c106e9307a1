"""The ``hush`` command line: ``serve``, ``collect``, ``sites``, ``users``, ``keys``, ``demo``,
``retention``, ``audit``, ``lake``.

Each command imports what it needs when it runs: ``hush collect`` must never load DuckDB, the
query engine or the dashboard (a collector process has no store), and ``hush serve`` should not
pay for the admin client.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from hush.settings import Settings, SettingsError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings().with_overrides(
            data_dir=getattr(args, "data_dir", None),
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            collectors=getattr(args, "collectors", None),
        )
    except SettingsError as exc:
        print(f"hush: {exc}", file=sys.stderr)
        return 2
    if args.command in ("serve", "collect"):
        return int(args.run(settings, args) or 0)
    from aggregator.store import StoreTooNew
    from hush.admin.client import AdminFailed

    try:
        return int(args.run(settings, args) or 0)
    except (AdminFailed, StoreTooNew) as exc:
        print(f"hush: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hush", description="Privacy-respecting web analytics.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run collector, aggregator and dashboard")
    _data_dir(serve)
    serve.add_argument("--host", help="address to listen on (HUSH_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (HUSH_PORT, default 8000)")
    serve.add_argument(
        "--collectors",
        type=int,
        help="collector processes on the port, this one included (HUSH_COLLECTORS, default 1):"
        " N - 1 hush collect processes are started and kept running",
    )
    serve.set_defaults(run=_serve)

    collect = commands.add_parser(
        "collect", help="run one more collector process beside hush serve (same host and port)"
    )
    _data_dir(collect)
    collect.add_argument("--host", help="address to listen on (HUSH_HOST, default 127.0.0.1)")
    collect.add_argument("--port", type=int, help="port to listen on (HUSH_PORT, default 8000)")
    collect.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)
    collect.set_defaults(run=_collect)

    sites = commands.add_parser("sites", help="manage the sites hush counts").add_subparsers(
        dest="action", required=True
    )
    add = sites.add_parser("add", help="register a site by its domain")
    add.add_argument("domain")
    add.add_argument("--timezone", default="UTC", help="the site's time zone (default UTC)")
    add.set_defaults(run=_admin("sites.add", "domain", "timezone"))
    change = sites.add_parser("set", help="change a site's settings")
    change.add_argument("domain")
    change.add_argument("--timezone")
    change.add_argument("--dnt", choices=["honour", "ignore"], help="honour Do Not Track or not")
    change.add_argument("--hash-routing", choices=["on", "off"], help="keep #fragments (SPAs)")
    change.set_defaults(run=_set_site)
    listing = sites.add_parser("list", help="list sites and their settings")
    listing.set_defaults(run=_admin("sites.list"))
    remove = sites.add_parser("remove", help="delete a site and all its data")
    remove.add_argument("domain")
    remove.set_defaults(run=_admin("sites.remove", "domain"))
    for sub in (add, change, listing, remove):
        _data_dir(sub)

    keys = commands.add_parser("keys", help="manage Stats API keys").add_subparsers(
        dest="action", required=True
    )
    key_add = keys.add_parser("add", help="create a key; it is printed once, on the last line")
    key_add.add_argument("--name", required=True)
    key_add.add_argument("--user", help="the key's owner (default: the first admin)")
    key_add.add_argument("--sites", type=_domains, help="only these of the owner's sites: a,b")
    key_add.set_defaults(run=_admin("keys.add", "name", "user", "sites"))
    key_list = keys.add_parser("list", help="list keys (never the keys themselves)")
    key_list.set_defaults(run=_admin("keys.list"))
    revoke = keys.add_parser("revoke", help="revoke a key by id or name")
    revoke.add_argument("which", metavar="ID_OR_NAME")
    revoke.set_defaults(run=_admin("keys.revoke", "which"))
    for sub in (key_add, key_list, revoke):
        _data_dir(sub)

    goals = commands.add_parser("goals", help="manage a site's goals").add_subparsers(
        dest="action", required=True
    )
    goal_add = goals.add_parser("add", help="add a goal: a custom event name or a page pattern")
    goal_add.add_argument("site")
    kind = goal_add.add_mutually_exclusive_group(required=True)
    kind.add_argument("--event", help="a custom event name, e.g. Signup")
    kind.add_argument("--page", help="a page path pattern (* and ** globs), e.g. /blog/**")
    goal_add.add_argument("--name", default="", help="its name (default: NAME or 'Visit PATTERN')")
    goal_add.set_defaults(run=_add_goal)
    goal_list = goals.add_parser("list", help="list a site's goals")
    goal_list.add_argument("site")
    goal_list.set_defaults(run=_admin("goals.list", "site"))
    goal_remove = goals.add_parser("remove", help="remove a goal by its id (from goals list)")
    goal_remove.add_argument("site")
    goal_remove.add_argument("id")
    goal_remove.set_defaults(run=_admin("goals.remove", "site", "id"))

    people = commands.add_parser("users", help="manage who may log in").add_subparsers(
        dest="action", required=True
    )
    user_add = people.add_parser("add", help="add a user (the password is read from the terminal)")
    user_add.add_argument("email")
    user_add.add_argument("--role", required=True, choices=["admin", "marketing", "security"])
    user_add.add_argument("--sites", type=_domains, default=[], help="the sites they read: a,b")
    user_add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user_add.set_defaults(run=_add_user)
    user_list = people.add_parser("list", help="list users, their roles and sites")
    user_list.set_defaults(run=_admin("users.list"))
    user_set = people.add_parser("set", help="change a user's role or sites (their sessions end)")
    user_set.add_argument("email")
    user_set.add_argument("--role", choices=["admin", "marketing", "security"])
    user_set.add_argument("--sites", type=_domains, help="the sites they read: a,b ('' for none)")
    user_set.set_defaults(run=_admin("users.set", "email", "role", "sites"))
    user_remove = people.add_parser("remove", help="remove a user, their sessions and keys")
    user_remove.add_argument("email")
    user_remove.set_defaults(run=_admin("users.remove", "email"))
    reset = people.add_parser("reset-password", help="print a one-time link to set a password")
    reset.add_argument("email")
    reset.set_defaults(run=_admin("users.reset", "email"))
    for sub in (user_add, user_list, user_set, user_remove, reset):
        _data_dir(sub)

    retention = commands.add_parser(
        "retention", help="roll up closed days, then delete raw events past retention"
    )
    retention.add_argument("--dry-run", action="store_true", help="only show what would go")
    _data_dir(retention)
    retention.set_defaults(run=_retention)

    demo = commands.add_parser("demo", help="add realistic synthetic traffic to a demo site")
    demo.add_argument("--events", type=int, default=200_000, help="events to add (200000)")
    demo.add_argument("--days", type=int, default=30, help="days they span, up to today (30)")
    demo.add_argument("--site", default="demo.example", help="the site (demo.example)")
    _data_dir(demo)
    demo.set_defaults(run=_demo)

    lake = commands.add_parser("lake", help="move to a DuckLake").add_subparsers(
        dest="action", required=True
    )
    lake_migrate = lake.add_parser(
        "migrate",
        help="copy a DuckDB file into an empty lake (the HUSH_LAKE_* settings, whatever"
        " HUSH_STORE says), then check that both give the same answers",
    )
    lake_migrate.add_argument(
        "--from", dest="source", help="the DuckDB file (default: hush.duckdb in the data dir)"
    )
    _data_dir(lake_migrate)
    lake_migrate.set_defaults(run=_lake_migrate)

    audit = commands.add_parser(
        "audit", help="check this installation against the privacy promises (P1-P8)"
    )
    _data_dir(audit)
    audit.set_defaults(run=_audit)
    return parser


def _data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data directory (HUSH_DATA_DIR, default ./data)")


def _serve(settings: Settings, _args: argparse.Namespace) -> int:
    from aggregator.store import StoreTooNew
    from collector.process import harden_process
    from collector.visitor import SaltsUnavailable, UnsafeSaltDir
    from hush.app import create_app
    from hush.listen import PortTaken, tcp_socket, unix_socket, uvicorn_server
    from hush.supervisor import Supervisor

    # Before anything is created or read: private files, no core dumps, enough descriptors.
    limits = harden_process()
    _log_to_stderr(settings)
    try:
        port = tcp_socket(settings.host, settings.port, share=settings.collectors > 1)
    except PortTaken as exc:
        print(f"hush: {exc}", file=sys.stderr)
        return 1
    try:
        app = create_app(settings)
    except (UnsafeSaltDir, SaltsUnavailable, StoreTooNew) as exc:
        print(f"hush: refusing to start: {exc}", file=sys.stderr)
        return 2
    # Beside the port: the socket collector processes forward dashboard requests to.
    web = unix_socket(settings.web_socket)
    server = uvicorn_server(
        settings, app, limits=limits, intake=app.intake, observe=app.latency["intake"].observe
    )
    supervisor = Supervisor(settings, settings.collectors - 1)
    if settings.collectors > 1:
        supervisor.start(after=lambda: server.started)
    try:
        server.run(sockets=[port, web])
    finally:
        if settings.collectors > 1:
            supervisor.stop()
        settings.web_socket.unlink(missing_ok=True)
    return 0


def _collect(settings: Settings, args: argparse.Namespace) -> int:
    from hush.supervisor import die_with_parent

    if args.parent_pid and not die_with_parent(args.parent_pid):
        return 0  # the server that started us is gone already
    from collector.process import harden_process
    from collector.visitor import SaltsUnavailable, UnsafeSaltDir
    from hush.collector_app import control_socket, create_collector_app
    from hush.listen import PortTaken, tcp_socket, unix_socket, uvicorn_server

    limits = harden_process()
    _log_to_stderr(settings)
    if not settings.sites_snapshot_path.exists():
        logging.getLogger("hush").warning(
            "no sites snapshot in %s yet: events are refused as unknown_site until hush serve"
            " publishes one",
            settings.data_dir,
        )
    try:
        port = tcp_socket(settings.host, settings.port, share=True)
    except PortTaken as exc:
        print(f"hush: {exc}", file=sys.stderr)
        return 1
    try:
        app = create_collector_app(settings)
    except (UnsafeSaltDir, SaltsUnavailable) as exc:
        print(f"hush: refusing to start: {exc}", file=sys.stderr)
        return 2
    own = control_socket(settings)
    control = unix_socket(own)
    try:
        uvicorn_server(settings, app, limits=limits, intake=app.intake).run(sockets=[port, control])
    finally:
        own.unlink(missing_ok=True)
    return 0


def _log_to_stderr(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _admin(op: str, *names: str) -> Any:
    def run(settings: Settings, args: argparse.Namespace) -> int:
        from hush.admin.client import call_admin

        result = call_admin(settings, op, {name: getattr(args, name) for name in names})
        _print(op, result, settings)
        return 0

    return run


def _add_goal(settings: Settings, args: argparse.Namespace) -> int:
    from hush.admin.client import call_admin

    kind, target = ("event", args.event) if args.event is not None else ("page", args.page)
    changes = {"site": args.site, "kind": kind, "target": target, "display_name": args.name}
    _print("goals.add", call_admin(settings, "goals.add", changes), settings)
    return 0


def _domains(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _add_user(settings: Settings, args: argparse.Namespace) -> int:
    from dashboard.accounts.passwords import hash_password, problem
    from hush.admin.client import AdminFailed, call_admin

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {args.email}: ")
        if getpass.getpass("again: ") != password:
            raise AdminFailed("the two passwords differ")
    else:
        password = ""  # no terminal: the user sets one through the printed link
    if password and (reason := problem(password)):
        raise AdminFailed(reason)
    result = call_admin(
        settings,
        "users.add",
        {
            "email": args.email,
            "role": args.role,
            "sites": args.sites,
            "password_hash": hash_password(password) if password else "",
        },
    )
    _print("users.add", result, settings)
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from hush.admin.client import call_admin

    result = call_admin(
        settings, "demo", {"events": args.events, "days": args.days, "site": args.site}
    )["demo"]
    print(
        f"added {result['events']} events to {result['site']}"
        f" from {result['first_day']} to {result['last_day']} in {result['seconds']:.1f} s"
    )
    return 0


def _audit(settings: Settings, _args: argparse.Namespace) -> int:
    import json
    import time

    from hush.admin.client import call_admin, running_server
    from privacy_audit import SERVER, Check, check_files, check_server, render

    result = call_admin(settings, "audit.database", {})
    checks = [Check(**check) for check in result["checks"]]
    try:
        sites = json.loads(settings.sites_snapshot_path.read_text())
    except (FileNotFoundError, ValueError):
        sites = []
    from pathlib import Path

    on_disk = settings.store == "ducklake" and not settings.lake_data.startswith("s3://")
    checks += check_files(
        data_dir=settings.data_dir,
        salt_dir=settings.salt_dir,
        salt_store=settings.salt_store,
        lake_data=Path(settings.lake_data) if on_disk else None,
        timezones={site["timezone"] for site in sites} | {"UTC"},
        now=time.time(),
    )
    url = running_server(settings)
    if url is None:
        checks.append(
            Check(
                SERVER,
                False,
                "no hush server runs on this data dir, so its routes (P4, P6)"
                " could not be checked: start it and run hush audit again",
            )
        )
    else:
        checks += check_server(url, site=sites[0]["domain"] if sites else None)
    print(render(checks))
    return 0 if all(check.passed for check in checks) else 1


def _lake_migrate(settings: Settings, args: argparse.Namespace) -> int:
    import dataclasses
    import time
    from pathlib import Path

    from aggregator.lake.migrate import LakeNotEmpty, SourceMissing, migrate_to_lake
    from aggregator.lake.store import LakeStore
    from aggregator.store import StoreBusy
    from hush.admin.client import running_server
    from hush.storage import open_store

    if not (settings.lake_catalog and settings.lake_data):
        print(
            "hush: hush lake migrate needs HUSH_LAKE_CATALOG (a PostgreSQL connection string)"
            " and HUSH_LAKE_DATA (s3://bucket/prefix/ or a directory)",
            file=sys.stderr,
        )
        return 2
    source = Path(args.source) if args.source else settings.database_path
    if running_server(settings) is not None:
        print(
            f"hush: a hush server runs on {settings.data_dir}: stop hush serve first",
            file=sys.stderr,
        )
        return 1
    lake = open_store(dataclasses.replace(settings, store="ducklake"), bounded=False)
    assert isinstance(lake, LakeStore)
    try:
        report = migrate_to_lake(source, lake, now=time.time())
    except StoreBusy:
        print(f"hush: {source} is held by another process: stop hush serve first", file=sys.stderr)
        return 1
    except (LakeNotEmpty, SourceMissing) as exc:
        print(f"hush: {exc}", file=sys.stderr)
        return 1
    finally:
        lake.close()
    print("\n".join(report.lines()))
    return 1 if report.differences else 0


def _retention(settings: Settings, args: argparse.Namespace) -> int:
    from hush.admin.client import call_admin

    result = call_admin(settings, "retention", {"dry_run": args.dry_run})
    for line in result["lines"]:
        print(line)
    return 0


def _set_site(settings: Settings, args: argparse.Namespace) -> int:
    from hush.admin.client import call_admin

    changes: dict[str, Any] = {"domain": args.domain, "timezone": args.timezone}
    if args.dnt:
        changes["honour_dnt"] = args.dnt == "honour"
    if args.hash_routing:
        changes["hash_routing"] = args.hash_routing == "on"
    _print("sites.set", call_admin(settings, "sites.set", changes), settings)
    return 0


def _print(op: str, result: dict[str, Any], settings: Settings) -> None:
    rows: list[tuple[str, ...]]
    if "goals" in result:
        rows = [
            (str(g["id"]), g["display_name"], g["kind"], g["target"], g["counted_from"] or "always")
            for g in result["goals"]
        ]
        _table(("id", "name", "kind", "target", "counted from"), rows, empty="no goals yet")
    elif "goal" in result:
        g = result["goal"]
        verb = "removed" if op == "goals.remove" else "added" if result["created"] else "exists:"
        since = f", counted from {g['counted_from']}" if g["counted_from"] else ""
        print(f"{verb} goal {g['id']} {g['display_name']!r} ({g['kind']} {g['target']}{since})")
    elif "users" in result:
        rows = [
            (
                u["email"],
                u["role"],
                "every site" if u["role"] == "admin" else ",".join(u["sites"]) or "none",
                "yes" if u["has_password"] else "not yet",
            )
            for u in result["users"]
        ]
        _table(("email", "role", "sites", "password"), rows, empty="no users yet")
    elif "user" in result:
        u = result["user"]
        verb = {
            "users.add": "added",
            "users.set": "updated",
            "users.remove": "removed",
            "users.reset": "reset link for",
        }[op]
        print(f"{verb} {u['email']} ({u['role']})")
        if "reset_token" in result:
            print("it works once, for 24 hours: send it to them over a channel you trust")
            print(f"{settings.dashboard_url}/reset/{result['reset_token']}")
    elif "sites" in result:
        rows = [
            (
                s["domain"],
                s["timezone"],
                "honour" if s["honour_dnt"] else "ignore",
                "on" if s["hash_routing"] else "off",
            )
            for s in result["sites"]
        ]
        _table(("domain", "timezone", "dnt", "hash routing"), rows, empty="no sites yet")
    elif "site" in result:
        s = result["site"]
        verb = {"sites.add": "added", "sites.set": "updated", "sites.remove": "removed"}[op]
        print(
            f"{verb} {s['domain']} (timezone {s['timezone']}, "
            f"dnt {'honour' if s['honour_dnt'] else 'ignore'}, "
            f"hash routing {'on' if s['hash_routing'] else 'off'})"
        )
    elif "secret" in result:
        key = result["key"]
        owner = f" for {key['user']}" if key["user"] else ""
        print(f"created key {key['id']} ({key['name']}){owner}; it is shown only now:")
        print(result["secret"])
    elif "keys" in result:
        rows = [
            (
                str(k["id"]),
                k["name"],
                k["prefix"] + "…",
                k["user"] or "-",
                ",".join(k["sites"]) or "all",
                k["created_at"],
                k["last_used_day"] or "never",
                "revoked" if k["revoked"] else "active",
            )
            for k in result["keys"]
        ]
        header = ("id", "name", "key", "owner", "sites", "created", "last used", "state")
        _table(header, rows, empty="no keys yet")
    elif "key" in result:
        print(f"revoked key {result['key']['id']} ({result['key']['name']})")


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], *, empty: str) -> None:
    if not rows:
        print(empty)
        return
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    sys.exit(main())
