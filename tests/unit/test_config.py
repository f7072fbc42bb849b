"""Settings from a TOML file, ``TUFPI_*`` variables and overrides (tufpi.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tufpi.config import ConfigError, MiB, Settings, load_settings


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tufpi.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.data_dir == Path("tufpi-data")
    assert settings.port == 8080
    assert settings.host == "127.0.0.1"
    assert settings.max_upload_bytes == 100 * MiB
    assert settings.private is False


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"TUFPI_DATA_DIR": str(tmp_path / "d")})
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'd' / 'tufpi.sqlite3'}"
    assert settings.is_sqlite
    assert settings.effective_storage_dir == tmp_path / "d" / "files"


def test_relative_data_dir_gives_an_absolute_sqlite_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = load_settings({"TUFPI_DATA_DIR": "rel"}).effective_database_url
    assert url == f"sqlite:///{tmp_path.resolve() / 'rel' / 'tufpi.sqlite3'}"


def test_postgresql_url_is_not_sqlite() -> None:
    settings = load_settings({"TUFPI_DATABASE_URL": "postgresql+psycopg://u@h/db"})
    assert settings.effective_database_url == "postgresql+psycopg://u@h/db"
    assert not settings.is_sqlite


def test_every_setting_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "TUFPI_DATA_DIR": str(tmp_path),
            "TUFPI_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "TUFPI_STORAGE_DIR": str(tmp_path / "store"),
            "TUFPI_HOST": "0.0.0.0",
            "TUFPI_PORT": "9000",
            "TUFPI_MAX_UPLOAD_BYTES": "1024",
            "TUFPI_PRIVATE": "1",
            "OTHER": "ignored",
        }
    )
    assert settings == Settings(
        data_dir=tmp_path,
        database_url="postgresql+psycopg://u@h/db",
        storage_dir=tmp_path / "store",
        host="0.0.0.0",
        port=9000,
        max_upload_bytes=1024,
        private=True,
    )
    assert settings.effective_storage_dir == tmp_path / "store"


def test_toml_file_with_a_tufpi_table(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        '[tufpi]\ndata-dir = "/srv/tufpi"\nport = 9001\nmax_upload_bytes = 2048\n'
        'private = true\ndatabase-url = "postgresql+psycopg://u@h/db"\n\n[other]\nx = 1\n',
    )
    settings = load_settings({}, path)
    assert settings.data_dir == Path("/srv/tufpi")
    assert settings.port == 9001
    assert settings.max_upload_bytes == 2048
    assert settings.private is True
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_toml_file_without_a_table(tmp_path: Path) -> None:
    assert load_settings({}, toml(tmp_path, "port = 9002\n")).port == 9002


def test_environment_beats_file_and_overrides_beat_both(tmp_path: Path) -> None:
    path = toml(tmp_path, '[tufpi]\nport = 9001\nhost = "file"\nprivate = true\n')
    env = {"TUFPI_PORT": "9002", "TUFPI_PRIVATE": "no"}
    settings = load_settings(env, path)
    assert (settings.port, settings.host, settings.private) == (9002, "file", False)
    overridden = load_settings(env, path, {"port": 9003, "host": None, "private": None})
    assert (overridden.port, overridden.host, overridden.private) == (9003, "file", False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[(text, True) for text in ("1", "true", "YES", " on ")],
        *[(text, False) for text in ("0", "false", "No", "off", "")],
    ],
)
def test_booleans_from_the_environment(text: str, expected: bool) -> None:
    assert load_settings({"TUFPI_PRIVATE": text}).private is expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TUFPI_PORT", "eighty"),
        ("TUFPI_PORT", ""),
        ("TUFPI_PORT", "0x50"),
        ("TUFPI_PORT", "80.5"),
        ("TUFPI_PORT", "0"),
        ("TUFPI_PORT", "65536"),
        ("TUFPI_PORT", "-1"),
        ("TUFPI_MAX_UPLOAD_BYTES", "0"),
        ("TUFPI_MAX_UPLOAD_BYTES", "-5"),
        ("TUFPI_MAX_UPLOAD_BYTES", "100MB"),
        ("TUFPI_PRIVATE", "maybe"),
        ("TUFPI_PRIVATE", "2"),
        ("TUFPI_PUBLIC_URL", "ftp://index.example/"),
        ("TUFPI_PUBLIC_URL", "index.example"),
        ("TUFPI_PUBLIC_URL", "https://user:secret@index.example/"),
        ("TUFPI_PUBLIC_URL", "https://index.example/?q=1"),
        ("TUFPI_PUBLIC_URL", "https://index.example/#top"),
        ("TUFPI_PUBLIC_URL", 'https://index.example/"><script>'),
        ("TUFPI_PUBLIC_URL", "https://index.example/a b"),
        ("TUFPI_PUBLIC_URL", "https://index.example:99999/"),
    ],
)
def test_bad_environment_values_raise_config_error(variable: str, value: str) -> None:
    name = variable.removeprefix("TUFPI_").lower()
    with pytest.raises(ConfigError, match=f"setting {name}"):
        load_settings({variable: value})


@pytest.mark.parametrize(
    "line",
    [
        "port = true",
        "port = 8080.5",
        'port = "eighty"',
        "port = 70000",
        "port = [8080]",
        "max_upload_bytes = 0",
        "data_dir = 5",
        "storage_dir = false",
        "host = 5",
        "database_url = { a = 1 }",
        'private = "maybe"',
        "private = 1",
        "bins = 3",
        "bins = 1",
        "bins = 1000",
        "online_expiry = 10",
        "sweep_grace = -1",
        "keys_dir = 1",
        "online_key = 5",
        "signer = 1",
        "publish_interval = true",
        "publish_interval = [1]",
        "publish_interval = 0",
        "publish_interval = 7200",
        'publish_interval = "nan"',
        'publish_interval = "soon"',
    ],
)
def test_bad_file_values_raise_config_error(tmp_path: Path, line: str) -> None:
    with pytest.raises(ConfigError, match="setting"):
        load_settings({}, toml(tmp_path, f"[tufpi]\n{line}\n"))


def test_quoted_numbers_in_the_file_are_accepted(tmp_path: Path) -> None:
    assert load_settings({}, toml(tmp_path, '[tufpi]\nport = "9005"\n')).port == 9005


def test_unknown_file_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_settings({}, toml(tmp_path, "[tufpi]\nprot = 1\n"))


def test_tufpi_key_that_is_not_a_table_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a table"):
        load_settings({}, toml(tmp_path, "tufpi = 5\n"))


def test_unparseable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, toml(tmp_path, "[tufpi\nport = \n"))


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, tmp_path / "absent.toml")


def test_signing_settings(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        '[tufpi]\nkeys-dir = "/srv/keys"\nbins = 1024\npublish_interval = 2\nonline_key = "hsm:"\n',
    )
    settings = load_settings({"TUFPI_SIGNER": "off", "TUFPI_ONLINE_EXPIRY": "3600"}, path)
    assert settings.keys_dir == Path("/srv/keys")
    assert settings.bins == 1024
    assert settings.publish_interval == 2.0
    assert settings.online_key_uri == "hsm:"
    assert settings.signer is False
    assert settings.online_expiry == 3600
    assert load_settings({"TUFPI_PUBLISH_INTERVAL": "0.25"}).publish_interval == 0.25


def test_online_key_defaults_to_the_development_key(tmp_path: Path) -> None:
    settings = load_settings({"TUFPI_KEYS_DIR": str(tmp_path / "keys")})
    assert settings.online_key_uri == f"file2:{tmp_path.resolve() / 'keys' / 'online.pem'}"


def test_server_limits_and_metrics_settings(tmp_path: Path) -> None:
    defaults = Settings()
    assert (defaults.header_timeout, defaults.body_timeout, defaults.body_min_rate) == (15, 30, 500)
    assert (defaults.max_connections, defaults.metrics_token) == (0, "")
    settings = load_settings(
        {"TUFPI_HEADER_TIMEOUT": "2.5", "TUFPI_MAX_CONNECTIONS": "64"},
        toml(tmp_path, 'body-min-rate = 0\nmetrics-token = "t0ken"\nmetrics_max_age = 1\n'),
    )
    assert (settings.header_timeout, settings.max_connections) == (2.5, 64)
    assert (settings.body_min_rate, settings.metrics_token, settings.metrics_max_age) == (
        0,
        "t0ken",
        1.0,
    )
    for bad in ({"TUFPI_HEADER_TIMEOUT": "0"}, {"TUFPI_MAX_CONNECTIONS": "-1"}):
        with pytest.raises(ConfigError):
            load_settings(bad)


def test_the_metrics_token_is_not_in_the_settings_repr() -> None:
    assert "t0ken-secret" not in repr(Settings(metrics_token="t0ken-secret"))


def test_upstream_settings_from_the_environment_and_the_file(tmp_path: Path) -> None:
    assert Settings().upstream == ()  # none: no upstream is ever asked
    settings = load_settings(
        {
            "TUFPI_UPSTREAM": " https://pypi.org/simple http://127.0.0.1:1/simple/ ",
            "TUFPI_UPSTREAM_REFRESH": "60",
            "TUFPI_UPSTREAM_ALLOW": "Acme_Shared other.Name",
            "TUFPI_UPSTREAM_PAGE_TIMEOUT": "2.5",
        }
    )
    assert settings.upstream == ("https://pypi.org/simple/", "http://127.0.0.1:1/simple/")
    assert settings.upstream_refresh == 60
    assert settings.upstream_allow == frozenset({"acme-shared", "other-name"})
    assert settings.upstream_page_timeout == 2.5
    path = toml(
        tmp_path,
        '[tufpi]\nupstream = ["https://pypi.org/simple/", "https://pypi.org/simple/"]\n'
        'upstream-allow = ["acme"]\n',
    )
    settings = load_settings({}, path)
    assert settings.upstream == ("https://pypi.org/simple/",)
    assert settings.upstream_allow == frozenset({"acme"})


def test_an_upstream_url_with_credentials_is_not_in_the_repr() -> None:
    settings = load_settings({"TUFPI_UPSTREAM": "https://user:s3cret@mirror.example/simple/"})
    assert settings.upstream == ("https://user:s3cret@mirror.example/simple/",)
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    "line",
    [
        'upstream = "ftp://example.org/simple/"',
        'upstream = "pypi.org/simple/"',
        'upstream = "https://pypi.org/simple/?x=1"',
        "upstream = [1]",
        "upstream = 5",
        'upstream_allow = ["bad/name"]',
        'upstream_allow = ["-bad"]',
        "upstream_refresh = -1",
        "upstream_page_timeout = 0",
        "upstream_page_max_bytes = 10",
    ],
)
def test_bad_upstream_settings_raise_config_error(tmp_path: Path, line: str) -> None:
    with pytest.raises(ConfigError, match="setting upstream"):
        load_settings({}, toml(tmp_path, f"[tufpi]\n{line}\n"))


def test_public_url_gets_a_final_slash() -> None:
    settings = load_settings({"TUFPI_PUBLIC_URL": "https://pypi.example.org/tufpi"})
    assert settings.public_url == "https://pypi.example.org/tufpi/"
    assert load_settings({"TUFPI_PUBLIC_URL": " "}).public_url == ""


def test_witness_settings(tmp_path: Path) -> None:
    assert (Settings().witnesses, Settings().witness_timeout) == ((), 10.0)
    settings = load_settings(
        {
            "TUFPI_WITNESSES": "https://w1.example/ http://127.0.0.1:9/w2 https://w1.example",
            "TUFPI_WITNESS_TIMEOUT": "2.5",
        }
    )
    assert settings.witnesses == ("https://w1.example", "http://127.0.0.1:9/w2")
    assert settings.witness_timeout == 2.5
    path = toml(tmp_path, '[tufpi]\nwitnesses = ["https://u:s3cret@w.example/x/"]\n')
    settings = load_settings({}, path)
    assert settings.witnesses == ("https://u:s3cret@w.example/x",)
    assert "s3cret" not in repr(settings)
    for bad in ("ftp://w.example", "https://w.example/?q=1", "https://w.example/#f", "w.example"):
        with pytest.raises(ConfigError, match="setting witnesses"):
            load_settings({"TUFPI_WITNESSES": bad})
    with pytest.raises(ConfigError, match="setting witness_timeout"):
        load_settings({"TUFPI_WITNESS_TIMEOUT": "0"})
