"""P5 end to end: a generated corpus of emails, addresses and tokens in every form DESIGN.md §2
names, posted through the real intake, leaves nothing in any stored column; written raw into a
store, every planted value is flagged by ``hush audit`` with the same detectors."""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest

import privacy_audit as audit
from aggregator.store import Store
from collector.detectors import findings
from privacy_audit import P1, P5
from tests.harness import Harness

Maker = Callable[[random.Random], str]
B64URL = string.ascii_letters + string.digits + "-_"
HEX = "0123456789abcdef"


def _b64url(rng: random.Random) -> str:  # secrets.token_urlsafe(16..32)
    return "".join(rng.choice(B64URL) for _ in range(rng.choice((22, 27, 32, 43))))


def _grouped_hex(rng: random.Random) -> str:
    return "-".join("".join(rng.choice(HEX) for _ in range(8)) for _ in range(4))


def _licence(rng: random.Random) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(rng.choice(alphabet) for _ in range(5)) for _ in range(5))


def _card(rng: random.Random) -> str:
    groups = ["4" + "".join(rng.choice(string.digits) for _ in range(3))]
    groups += ["".join(rng.choice(string.digits) for _ in range(4)) for _ in range(3)]
    return rng.choice((" ", "-")).join(groups)


def _jwt(rng: random.Random) -> str:
    part = "".join(rng.choice(B64URL) for _ in range(30))
    return f"eyJhbGciOiJIUzI1NiJ9.eyJ{part}.{_b64url(rng)}"


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(7))


def _email(rng: random.Random) -> str:
    local, domain = f"{_name(rng)}.{_name(rng)}", f"{_name(rng)}.com"
    return rng.choice(
        (
            f"{local}@{domain}",
            f"{local}+news@{domain}",
            f"{local}%40{domain}",
            f"{local}(at){domain}",
            f"{local} [at] {domain.replace('.', ' [dot] ')}",
            f"{local}\u200b@{domain}",
            f"{local}\u00ad@{domain}",
            f"{local}\uff20{domain}",
        )
    )


def _octets(rng: random.Random) -> list[int]:
    return [rng.randrange(1, 224), rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)]


def _ipv4(rng: random.Random) -> str:
    o = _octets(rng)
    return rng.choice(
        (
            ".".join(map(str, o)),
            f"0x{o[0]:x}." + ".".join(map(str, o[1:])),
            ".".join(f"0{n:o}" for n in o),
            "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in ".".join(map(str, o))),
        )
    )


def _ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randrange(1, 0x10000):x}" for _ in range(8)]
    return rng.choice(
        (
            ":".join(groups),
            f"2001:db8:{groups[2]}::{groups[7]}",
            f"::ffff:{'.'.join(map(str, _octets(rng)))}",
            f"ip:2001:db8::{groups[7]}",
        )
    )


def _host_ip(rng: random.Random) -> str:
    o = _octets(rng)
    number = (o[0] << 24) + (o[1] << 16) + (o[2] << 8) + o[3]
    return rng.choice(("-".join(map(str, o)), str(number), f"0x{number:x}"))


TOKENS: dict[str, Maker] = {
    "b64url": _b64url,
    "hex": lambda rng: "".join(rng.choice(HEX) for _ in range(32)),
    "grouped hex": _grouped_hex,
    "licence": _licence,
    "card": _card,
    "uuid": lambda rng: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
    "jwt": _jwt,
}
VALUES: dict[str, Maker] = {**TOKENS, "email": _email, "ipv4": _ipv4, "ipv6": _ipv6}


def corpus(seed: int = 5, per_kind: int = 24) -> list[tuple[str, str]]:
    """``(kind, value)``: ``per_kind`` of each kind, and as many host-name address forms."""
    rng = random.Random(seed)
    made = [(kind, make(rng)) for kind, make in VALUES.items() for _ in range(per_kind)]
    return made + [("host ip", _host_ip(rng)) for _ in range(per_kind)]


def bodies(values: list[tuple[str, str]]) -> list[dict[str, object]]:
    """Each value in a path, a UTM value, a referrer's host or path, an event name, a prop."""
    made = []
    for n, (kind, value) in enumerate(values):
        encoded = quote(value, safe="@:()[]+")
        if kind == "host ip":
            made.append(
                {
                    "n": "pageview",
                    "u": f"https://{value}.example.com/p",
                    "d": "example.com",
                    "r": f"https://{value}/from",
                }
            )
            made.append({"n": "pageview", "u": "https://example.com/", "d": "example.com",
                         "r": f"http://{value}/"})  # fmt: skip
            continue
        made.append(
            {
                "n": "pageview" if n % 2 else f"signup {value}",
                "u": f"https://example.com/u/{encoded}/x?utm_campaign={encoded}&ref={encoded}",
                "d": "example.com",
                "r": f"https://ref.example.org/from/{encoded}",
                "p": {"code": value, value: "key"},
            }
        )
    return made


def _stored(cur: object) -> list[str]:
    rows = cur.execute(  # type: ignore[attr-defined]
        "SELECT name, hostname, path, referrer_host, referrer_path, source, utm_source,"
        " utm_medium, utm_campaign, utm_content, utm_term, CAST(props AS VARCHAR) FROM events"
    ).fetchall()
    return [value for row in rows for value in row]


def test_the_corpus_covers_every_form() -> None:
    values = corpus()
    assert {kind for kind, _ in values} == {*VALUES, "host ip"}
    assert len(values) >= 250
    assert any("\u200b" in v for _, v in values) and any("(at)" in v for _, v in values)
    assert any("ip:" in v for _, v in values) and any(v.isdigit() for _, v in values)


def test_nothing_of_the_corpus_survives_the_intake(app: Harness) -> None:
    values = corpus()
    report = app.store_events(*bodies(values))
    with app.app.store.read() as cur:
        stored = _stored(cur)
        (count,) = cur.execute("SELECT count(*) FROM events").fetchone()
    assert count == len(bodies(values)), report
    text = "\n".join(stored)
    left = [(kind, value) for kind, value in values if value in text]
    assert left == []
    flagged = [value for value in stored if findings(value)]
    assert flagged == []
    assert "[email]" in text and "[ip]" in text and "[token]" in text


@pytest.fixture
def raw_store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "hush.duckdb")
    with store.write() as cur:
        cur.execute("INSERT INTO sites (domain, created_at) VALUES ('example.com', now())")
    return store


@pytest.mark.parametrize(
    ("column", "host"),
    [("path", False), ("utm_campaign", False), ("name", False), ("referrer_host", True)],
)
def test_the_audit_flags_every_value_written_raw(raw_store: Store, column: str, host: bool) -> None:
    values = [(k, v) for k, v in corpus() if (k == "host ip") == host]
    for kind, value in values:
        promise = P1 if kind in ("ipv4", "ipv6", "host ip") else P5
        flagged = audit.holds_address(value, host=host) or audit.holds_secret(value, host=host)
        assert flagged, (kind, value)
        assert (promise == P1) == audit.holds_address(value, host=host), (kind, value)
    with raw_store.write() as cur:
        for n, (_, value) in enumerate(values):
            cur.execute(
                "INSERT INTO events (ts, site_id, day, name, hostname, path, referrer_host,"
                " referrer_path, source, utm_source, utm_medium, utm_campaign, utm_content,"
                " utm_term, visitor, props, interactive) VALUES (now(), 1, current_date,"
                " 'pageview', 'example.com', '/', '', '', '', '', '', '', '', '', $v, MAP {},"
                " true)",
                {"v": n},
            )
            cur.execute(
                f"UPDATE events SET {column} = $value WHERE visitor = $v",  # noqa: S608
                {"value": value, "v": n},
            )
    checks = audit.check_database(raw_store, retention_days=30, today=date.today())
    failed = {check.promise: check.detail for check in checks if not check.passed}
    rows = {
        P1: sum(k in ("ipv4", "ipv6", "host ip") for k, _ in values),
        P5: sum(k not in ("ipv4", "ipv6", "host ip") for k, _ in values),
    }
    for promise, n in rows.items():
        if n:
            assert f"events.{column} ({n} rows)" in failed[promise]
    raw_store.close()
