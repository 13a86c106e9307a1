"""Settings: one frozen dataclass, read once from ``HUSH_*`` variables or a TOML file.

Every field carries its default and a help line; ``README.md`` documents each one and a test
fails when one is missing there. Environment variables win over the TOML file
(``HUSH_CONFIG``), which wins over the defaults.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from collector.client_address import Network

_SIZE = re.compile(r"^\d+(\.\d+)?\s*([KMGT]i?B|B)$", re.IGNORECASE)


class SettingsError(ValueError):
    """A setting has a value hush cannot use; the message names the variable and the value."""


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


def _default_salt_dir() -> Path:
    # $XDG_RUNTIME_DIR (/run/user/<uid>, or systemd's RuntimeDirectory) is tmpfs and private
    # to the user; else /dev/shm, also tmpfs: salts vanish on reboot, never reach a backup
    # (P3). Under /dev/shm the name is guessable, so hush creates it exclusively and refuses
    # one it finds that is not its own (collector.visitor.open_salt_dir).
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and Path(runtime).is_absolute() and Path(runtime).is_dir():
        return Path(runtime) / "hush-salts"
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path("/tmp")
    return base / f"hush-salts-{os.getuid()}"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = _setting(
        Path("data"), "Directory for the DuckDB file, the spool and the sites snapshot."
    )
    salt_dir: Path = _setting(
        _default_salt_dir(),
        "Directory for the daily salts; must be on tmpfs and never inside the data dir.",
    )
    salt_store: str = _setting(
        "",
        "A Redis server (redis://host:port/db, persistence off) that holds the daily salts for"
        " every node of a lake instead of the salt dir. Empty: the salt dir.",
    )
    host: str = _setting("127.0.0.1", "Address `hush serve` listens on.")
    port: int = _setting(8000, "Port `hush serve` listens on.")
    trusted_proxies: tuple[Network, ...] = _setting(
        (),
        "Comma-separated proxy addresses or CIDRs whose X-Forwarded-For is believed.",
    )
    fsync_interval: float = _setting(
        1.0,
        "Seconds between fsyncs of the open spool segment; 0 syncs before every answer.",
    )
    segment_seconds: float = _setting(
        1.0, "A spool segment is closed (and becomes loadable) after this many seconds."
    )
    segment_bytes: int = _setting(
        4 * 1024 * 1024,
        "A spool segment is closed when it grows past this many bytes (it loads in one"
        " transaction, for which DuckDB needs about four times its size).",
    )
    load_interval: float = _setting(
        0.5, "Seconds between the loader's scans of the spool directory."
    )
    rate_limit: int = _setting(
        600, "Events accepted per client address per minute; 0 turns the limit off."
    )
    log_level: str = _setting("info", "Log level: debug, info, warning or error.")
    raw_retention_days: int = _setting(
        30, "Days raw events are kept; older ones are deleted once their rollups are complete."
    )
    maintenance_interval: float = _setting(
        60.0, "Seconds between maintenance passes: rollups of closed days, then raw retention."
    )
    live_rollup_interval: float = _setting(
        30.0,
        "Seconds between rebuilds of today's rollups while events arrive (never more than a"
        " tenth of one core); queries read them, so today's figures lag by about this much."
        " 0 reads today from raw events on every query: exact, slower on a busy site.",
    )
    min_visitors: int = _setting(
        3, "Figures over fewer visitors than this are shown as '< k' (P7); 1 turns it off."
    )
    geoip_db: Path | None = _setting(
        None, "A MaxMind-format .mmdb country database to use instead of the bundled one."
    )
    public_url: str = _setting(
        "",
        "The URL people open the dashboard at (e.g. https://stats.example.com); its host is the"
        " only one besides loopback the dashboard, API and metrics answer for, and https makes"
        " the login cookie Secure and __Host- prefixed and adds HSTS. Default:"
        " http://HUSH_HOST:HUSH_PORT.",
    )
    audit_retention_days: int = _setting(
        365, "Days audit log entries are kept (at least 180); older ones are purged from the file."
    )
    api_rate_limit: int = _setting(
        600, "Stats API requests per key per hour (429 past it); 0 turns the limit off."
    )
    api_query_seconds: float = _setting(
        10.0, "Seconds a Stats API query may run before it is stopped (503); 0: no limit."
    )
    rate_limit_ipv6_prefix: int = _setting(
        64,
        "IPv6 clients are rate-limited per network of this many leading bits (1-128): one"
        " subscriber usually holds a whole /64.",
    )
    site_rate_limit: int = _setting(
        0, "Events accepted per site per minute, from all clients together; 0 turns it off."
    )
    max_connections: int = _setting(
        4096,
        "Connections `hush serve` holds at most (kept below the open-file limit); past it,"
        " requests are answered 503.",
    )
    request_timeout: float = _setting(
        10.0,
        "Seconds a request may take to arrive whole (head and body) from its first byte, and a"
        " new connection to begin one; slower ones get 408 and are closed.",
    )
    keep_alive_timeout: int = _setting(
        5, "Seconds an idle kept-alive connection stays open between requests."
    )
    max_header_bytes: int = _setting(
        32 * 1024,
        "Bytes of request line and headers accepted per request (at most 100 headers);"
        " larger heads are answered 431.",
    )
    alert_webhook: str = _setting(
        "",
        "A URL (http or https) that receives a JSON POST when a security rule fires; empty:"
        " alerts are only listed in the security view.",
    )
    alert_interval: float = _setting(
        60.0, "Seconds between evaluations of the security rules for alerts; 0: never."
    )
    collectors: int = _setting(
        1,
        "Collector processes on the port: `hush serve` starts this many minus one `hush"
        " collect` processes beside itself (SO_REUSEPORT) and restarts any that dies.",
    )
    health_spool_lag: float = _setting(
        300.0,
        "Seconds the oldest spool segment may wait to be loaded before /healthz answers 503.",
    )
    duckdb_memory_limit: str = _setting(
        "32MiB",
        "Memory DuckDB may use for its buffers and queries (KiB, MiB, GiB); past it, big"
        " queries spill to a temporary directory beside the database. Empty: DuckDB's own"
        " default, 80% of the machine's memory.",
    )
    duckdb_threads: int = _setting(
        1,
        "Threads each DuckDB query may use; 0: one per core. One leaves the other cores to the"
        " intake's event loop (queries still run side by side, one thread each).",
    )

    store: str = _setting(
        "duckdb",
        "Where events and rollups live: `duckdb` (one embedded file in the data dir) or"
        " `ducklake` (many nodes on one lake: set the HUSH_LAKE_* settings).",
    )
    lake_catalog: str = _setting(
        "",
        "The lake's PostgreSQL catalog as a libpq connection string (`host=... dbname=...`"
        " or `postgresql://...`); it also holds sites, users, keys, goals and the audit log.",
    )
    lake_data: str = _setting(
        "",
        "Where the lake's Parquet files live: `s3://bucket/prefix/` or a directory every node"
        " mounts.",
    )
    lake_schema: str = _setting(
        "hush", "PostgreSQL schema of the admin tables (the lake's catalog goes beside it)."
    )
    lake_commit_interval: float = _setting(
        5.0,
        "Seconds between a lake node's loads (each load is one commit in the catalog: ten"
        " nodes loading every second would grow it by gigabytes a day).",
    )
    s3_endpoint: str = _setting("", "S3 endpoint as host:port; empty: AWS.")
    s3_key_id: str = _setting("", "S3 access key id.")
    s3_secret: str = _setting("", "S3 secret access key.")
    s3_region: str = _setting("us-east-1", "S3 region.")
    s3_url_style: str = _setting("vhost", "S3 URL style: `vhost` or `path` (most non-AWS servers).")
    s3_use_ssl: bool = _setting(True, "Whether S3 is reached over TLS.")

    def __post_init__(self) -> None:
        if self.audit_retention_days < 180:
            raise SettingsError(
                f"HUSH_AUDIT_RETENTION_DAYS={self.audit_retention_days}: keep the audit log"
                " at least 180 days"
            )
        if self.public_url and not re.match(r"^https?://[^/?#\s]+/?$", self.public_url):
            raise SettingsError(
                f"HUSH_PUBLIC_URL={self.public_url!r}: give a scheme and host, such as"
                " https://stats.example.com"
            )
        if not 1 <= self.rate_limit_ipv6_prefix <= 128:
            raise SettingsError(
                f"HUSH_RATE_LIMIT_IPV6_PREFIX={self.rate_limit_ipv6_prefix}: expected 1 to 128"
            )
        if self.max_connections < 1 or self.request_timeout <= 0 or self.max_header_bytes < 1024:
            raise SettingsError(
                "HUSH_MAX_CONNECTIONS must be at least 1, HUSH_REQUEST_TIMEOUT above 0 and"
                f" HUSH_MAX_HEADER_BYTES at least 1024 (got {self.max_connections},"
                f" {self.request_timeout}, {self.max_header_bytes})"
            )
        if self.duckdb_memory_limit and not _SIZE.match(self.duckdb_memory_limit):
            raise SettingsError(
                f"HUSH_DUCKDB_MEMORY_LIMIT={self.duckdb_memory_limit!r}: expected a size such"
                " as 96MiB or 1GiB"
            )
        if self.store not in ("duckdb", "ducklake"):
            raise SettingsError(f"HUSH_STORE={self.store!r}: expected duckdb or ducklake")
        if self.store == "ducklake" and not (self.lake_catalog and self.lake_data):
            raise SettingsError(
                "HUSH_STORE=ducklake needs HUSH_LAKE_CATALOG (a PostgreSQL connection string)"
                " and HUSH_LAKE_DATA (s3://bucket/prefix/ or a shared directory)"
            )
        if self.s3_url_style not in ("vhost", "path"):
            raise SettingsError(f"HUSH_S3_URL_STYLE={self.s3_url_style!r}: expected vhost or path")
        if not re.match(r"^[a-z_][a-z0-9_]*$", self.lake_schema):
            raise SettingsError(f"HUSH_LAKE_SCHEMA={self.lake_schema!r}: expected a plain name")
        if self.collectors < 1:
            raise SettingsError(f"HUSH_COLLECTORS={self.collectors}: expected 1 or more")
        if self.alert_webhook and not re.match(r"^https?://[^\s]+$", self.alert_webhook):
            raise SettingsError("HUSH_ALERT_WEBHOOK: expected an http:// or https:// URL")
        if self.geoip_db is not None and not self.geoip_db.is_file():
            raise SettingsError(f"HUSH_GEOIP_DB={self.geoip_db}: no such file")
        if self.salt_store and not re.match(r"^rediss?://[^/?#\s]+(/\d+)?$", self.salt_store):
            raise SettingsError(
                "HUSH_SALT_STORE: expected redis://host:port/db (or rediss://), or empty"
            )
        if self.salt_dir.resolve().is_relative_to(self.data_dir.resolve()):
            raise SettingsError(
                f"HUSH_SALT_DIR={self.salt_dir} lies inside HUSH_DATA_DIR={self.data_dir}: "
                "salts must never sit beside the data (P3)"
            )

    @property
    def database_path(self) -> Path:
        return self.data_dir / "hush.duckdb"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def sites_snapshot_path(self) -> Path:
        return self.data_dir / "sites.json"

    @property
    def web_socket(self) -> Path:
        """The Unix socket (mode 0600) on which ``hush serve`` takes the requests a collector
        process forwards (everything but the intake and the snippet)."""
        return self.data_dir / "web.sock"

    @property
    def collectors_dir(self) -> Path:
        """Where each ``hush collect`` process answers its own /healthz and /metrics."""
        return self.data_dir / "collectors"

    @property
    def server_file(self) -> Path:
        """Where a running server leaves the URL it answers on (mode 0600), for ``hush audit``."""
        return self.data_dir / "server.json"

    @property
    def dashboard_url(self) -> str:
        """Where people open the dashboard: HUSH_PUBLIC_URL, else the address served."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "*", "::") else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def admin_socket(self) -> Path:
        """The Unix socket (mode 0600) on which a running server takes the CLI's operations."""
        return self.data_dir / "admin.sock"

    def with_overrides(self, **overrides: Any) -> Settings:
        """Return a copy with the given fields replaced (CLI flags such as ``--port``)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self
        return replace(
            self, **{k: _convert(k, v, f"--{k.replace('_', '-')}") for k, v in given.items()}
        )


def setting_help() -> dict[str, tuple[str, str]]:
    """Map each environment variable to (default as text, help line), for docs and tests."""
    out = {}
    for f in fields(Settings):
        default = f.default if f.default is not MISSING else None
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        out[f"HUSH_{f.name.upper()}"] = (shown, f.metadata["help"])
    return out


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``) and the optional TOML file."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config = env.get("HUSH_CONFIG")
    if config:
        try:
            with open(config, "rb") as fh:
                table = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"HUSH_CONFIG={config}: cannot read it ({exc})") from None
        known = {f.name for f in fields(Settings)}
        for key, value in table.items():
            if key not in known:
                raise SettingsError(f"HUSH_CONFIG={config}: unknown setting {key!r}")
            values[key] = _convert(key, value, f"{key} in {config}")
    for f in fields(Settings):
        name = f"HUSH_{f.name.upper()}"
        if name in env:
            values[f.name] = _convert(f.name, env[name], name)
    return Settings(**values)


def _convert(name: str, value: Any, source: str) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if kind == "Path":
            return Path(str(value)).expanduser()
        if kind == "Path | None":
            return Path(str(value)).expanduser() if str(value).strip() else None
        if kind == "int":
            number = int(value)
            if number < 0:
                raise ValueError("must not be negative")
            return number
        if kind == "float":
            seconds = float(value)
            if seconds < 0:
                raise ValueError("must not be negative")
            return seconds
        if kind == "bool":
            if isinstance(value, bool):
                return value
            word = str(value).strip().lower()
            if word not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError("expected true or false")
            return word in {"true", "1", "yes"}
        if name == "trusted_proxies":
            return parse_networks(value)
        if name == "log_level":
            level = str(value).lower()
            if level not in {"debug", "info", "warning", "error"}:
                raise ValueError("expected debug, info, warning or error")
            return level
        return str(value)
    except ValueError as exc:
        raise SettingsError(f"{source}={value!r}: {exc}") from None


def parse_networks(value: str | list[str] | tuple[Network, ...]) -> tuple[Network, ...]:
    """Parse ``"10.0.0.1, 192.168.0.0/16"`` (or a list) into networks; bare addresses are /32."""
    if isinstance(value, tuple):
        return value
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())
