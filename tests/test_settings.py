"""Settings document themselves: every one is in the README and bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from hush.settings import Settings, SettingsError, load_settings, setting_help

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    missing = [name for name in setting_help() if f"`{name}`" not in readme]
    assert missing == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({"HUSH_PORT": "eighty"}, "HUSH_PORT='eighty'", id="port"),
        pytest.param({"HUSH_RATE_LIMIT": "-1"}, "HUSH_RATE_LIMIT='-1'", id="negative"),
        pytest.param({"HUSH_TRUSTED_PROXIES": "10.0.0.1,nope"}, "HUSH_TRUSTED_PROXIES", id="cidr"),
        pytest.param({"HUSH_LOG_LEVEL": "loud"}, "HUSH_LOG_LEVEL='loud'", id="log level"),
        pytest.param(
            {"HUSH_DATA_DIR": "/srv/hush", "HUSH_SALT_DIR": "/srv/hush/salts"},
            "must never sit beside the data",
            id="salts inside the data dir",
        ),
        pytest.param({"HUSH_CONFIG": "/nonexistent.toml"}, "HUSH_CONFIG=", id="config"),
        pytest.param(
            {"HUSH_DUCKDB_MEMORY_LIMIT": "lots"}, "HUSH_DUCKDB_MEMORY_LIMIT='lots'", id="memory"
        ),
    ],
)
def test_bad_values_are_refused_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        load_settings(env)


def test_a_toml_file_sets_defaults_that_the_environment_overrides(tmp_path: Path) -> None:
    config = tmp_path / "hush.toml"
    config.write_text('port = 9000\ntrusted_proxies = ["10.0.0.0/8", "::1"]\nrate_limit = 5\n')
    settings = load_settings({"HUSH_CONFIG": str(config), "HUSH_RATE_LIMIT": "7"})
    assert settings.port == 9000
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    assert settings.rate_limit == 7
    config.write_text("prot = 9000\n")
    with pytest.raises(SettingsError, match="unknown setting 'prot'"):
        load_settings({"HUSH_CONFIG": str(config)})


def test_defaults_keep_salts_on_tmpfs_and_listen_on_loopback() -> None:
    settings = Settings()
    assert str(settings.salt_dir).startswith("/dev/shm/")
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.trusted_proxies == ()
