"""Configuration: one file, environment overrides by one rule, secrets from the environment only."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sendwatch.config import load_config, render_config, schema_keys, where_to_set
from sendwatch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sendwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = load_config(env={})
    assert loaded.path is None
    settings = loaded.settings
    assert settings.effective_database_url == "sqlite:///data/sendwatch.db"
    assert settings.sources.govuk.base_url == "https://www.gov.uk"
    assert settings.sources.govuk.interval_minutes == 15
    assert settings.sources.lgl.interval_minutes == 30
    assert settings.sources.ofsted.interval_minutes == 60
    assert settings.smtp.password is None


def test_source_options_reach_the_spider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sources = load_config(env={}).settings.sources
    assert sources.lgl.spider_options() == {"backfill_days": 730}
    assert sources.govuk.spider_options() == sources.ofsted.spider_options() == {}
    env = {"SENDWATCH_SOURCES_LGL_BACKFILL_DAYS": "90"}
    assert load_config(env=env).settings.sources.lgl.spider_options() == {"backfill_days": 90}
    with pytest.raises(ConfigError, match="SENDWATCH_SOURCES_LGL_BACKFILL_DAYS"):
        load_config(env={"SENDWATCH_SOURCES_LGL_BACKFILL_DAYS": "0"})


def test_the_shipped_example_is_valid_and_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    example = ROOT / "sendwatch.example.toml"
    loaded = load_config(example, env={})
    assert loaded.settings.sources.ofsted.base_url == "https://reports.ofsted.gov.uk"
    data = tomllib.loads(example.read_text())
    for key in schema_keys():
        node = data
        for part in key.path:
            node = node.get(part) if isinstance(node, dict) else None
        # Every non-secret key is documented in the example; secrets never are.
        assert (node is None) == key.secret, key.dotted


def test_environment_overrides_by_the_naming_rule(tmp_path: Path) -> None:
    path = _write(tmp_path, '[smtp]\nhost = "mail.example.org"\nport = 25\n')
    env = {
        "SENDWATCH_SMTP_HOST": "127.0.0.1",
        "SENDWATCH_SOURCES_GOVUK_BASE_URL": "http://127.0.0.1:8000",
        "SENDWATCH_SOURCES_LGL_ENABLED": "false",
        "SENDWATCH_DATA_DIR": str(tmp_path / "state"),
        "SENDWATCH_TELEGRAM_ADMIN_CHAT_IDS": "12345, 67890",
        "SENDWATCH_SMTP_PASSWORD": "hunter2-secret",
    }
    loaded = load_config(path, env=env)
    settings = loaded.settings
    assert settings.smtp.host == "127.0.0.1"
    assert settings.smtp.port == 25
    assert settings.sources.govuk.base_url == "http://127.0.0.1:8000"
    assert settings.sources.govuk.interval_minutes == 15  # the rest of the table keeps defaults
    assert settings.sources.lgl.enabled is False
    assert settings.telegram.admin_chat_ids == [12345, 67890]
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'state' / 'sendwatch.db'}"
    assert settings.smtp.password is not None
    assert settings.smtp.password.get_secret_value() == "hunter2-secret"
    assert loaded.origins["smtp.host"] == "SENDWATCH_SMTP_HOST"
    assert loaded.origins["smtp.port"] == str(path)


def test_env_names_follow_one_rule() -> None:
    names = {key.dotted: key.env_name for key in schema_keys()}
    assert names["database_url"] == "SENDWATCH_DATABASE_URL"
    assert names["data_dir"] == "SENDWATCH_DATA_DIR"
    assert names["smtp.host"] == "SENDWATCH_SMTP_HOST"
    assert names["sources.govuk.base_url"] == "SENDWATCH_SOURCES_GOVUK_BASE_URL"
    assert names["telegram.token"] == "SENDWATCH_TELEGRAM_TOKEN"
    assert len(set(names.values())) == len(names)


def test_rendered_config_masks_secrets(tmp_path: Path) -> None:
    env = {
        "SENDWATCH_SMTP_PASSWORD": "hunter2-secret",
        "SENDWATCH_TELEGRAM_TOKEN": "123456:ABC-token",
        "SENDWATCH_DATABASE_URL": "postgresql+psycopg://sw:dbpass-secret@db.example.org/sw",
    }
    shown = render_config(load_config(env=env))
    for secret in ("hunter2-secret", "123456:ABC-token", "dbpass-secret"):
        assert secret not in shown
    assert 'password = "********"  # SENDWATCH_SMTP_PASSWORD' in shown
    assert "# secret_key: not set (SENDWATCH_SECRET_KEY)" in shown
    assert 'database_url = "postgresql+psycopg://sw:***@db.example.org/sw"' in shown
    assert tomllib.loads(shown)["smtp"]["port"] == 587


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[smtp]\nhost = 'x'\nport = 'twenty-five'\n", r"sendwatch.toml:3: smtp.port: .*integer"),
        ("[smtp]\nhots = 'x'\n", r"sendwatch.toml:2: smtp.hots: unknown key"),
        ("log_level = 'INFO'\n\n[smpt]\nhost = 'x'\n", r"sendwatch.toml:3: smpt: unknown key"),
        (
            "[sources.govuk]\ninterval_minutes = 0\n",
            r":2: sources.govuk.interval_minutes: .*greater than 0",
        ),
        ("[sources.ofsted]\nbase_url = 'ftp://x'\n", r":2: sources.ofsted.base_url: .*pattern"),
        ("[smtp]\nsecurity = 'tls'\n", r":2: smtp.security: .*'starttls', 'ssl' or 'none'"),
        ("[smtp]\npassword = 'hunter2'\n", r":2: smtp.password: .*SENDWATCH_SMTP_PASSWORD"),
        ("[smtp\nhost = 'x'\n", r"not valid TOML: .*line 1"),
    ],
    ids=[
        "wrong-type",
        "unknown-key",
        "unknown-section",
        "range",
        "url",
        "choice",
        "secret",
        "syntax",
    ],
)
def test_bad_files_name_the_key_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path, env={})
    assert "hunter2" not in str(caught.value)


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^SENDWATCH_SMTP_PORT: smtp.port: .*'abc'"):
        load_config(env={"SENDWATCH_SMTP_PORT": "abc"})


def test_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml", env={})
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(env={"SENDWATCH_CONFIG": str(tmp_path / "missing.toml")})


def test_unknown_sendwatch_variables_are_reported() -> None:
    loaded = load_config(env={"SENDWATCH_SMTP_HOTS": "x", "SENDWATCH_TEST_DATABASE_URL": "y"})
    assert loaded.unknown_env == ("SENDWATCH_SMTP_HOTS",)


def test_host_map_from_the_file_and_the_environment(tmp_path: Path) -> None:
    assert load_config(env={}).settings.crawler.host_map == {}  # nothing re-pointed by default
    path = tmp_path / "sendwatch.toml"
    path.write_text('[crawler]\nhost_map = { "files.ofsted.gov.uk" = "http://127.0.0.1:8001" }\n')
    assert load_config(path, env={}).settings.crawler.host_map == {
        "files.ofsted.gov.uk": "http://127.0.0.1:8001"
    }
    env = {
        "SENDWATCH_CRAWLER_HOST_MAP": "www.gov.uk=http://127.0.0.1:1, reports.ofsted.gov.uk=http://127.0.0.1:2"
    }
    loaded = load_config(path, env=env)
    assert loaded.settings.crawler.host_map == {
        "www.gov.uk": "http://127.0.0.1:1",
        "reports.ofsted.gov.uk": "http://127.0.0.1:2",
    }
    assert 'host_map = { "www.gov.uk" = "http://127.0.0.1:1"' in render_config(loaded)
    with pytest.raises(
        ConfigError, match=r"SENDWATCH_CRAWLER_HOST_MAP: crawler\.host_map\.www\.gov\.uk"
    ):
        load_config(env={"SENDWATCH_CRAWLER_HOST_MAP": "www.gov.uk"})


def test_own_url_is_public_url_when_set_else_where_the_server_listens(tmp_path: Path) -> None:
    unset = load_config(env={}).settings
    assert unset.alerts.public_url == ""
    assert unset.own_url() == "http://127.0.0.1:8080"  # [web] host and port
    assert unset.own_url(("127.0.0.1", 9001)) == "http://127.0.0.1:9001"  # serve --port 9001
    assert unset.own_url(("::1", 9001)) == "http://[::1]:9001"
    # Every interface is no address to open: this machine's loopback stands for it.
    assert unset.own_url(("0.0.0.0", 9001)) == "http://127.0.0.1:9001"
    web = {"SENDWATCH_WEB_HOST": "sendwatch.lan", "SENDWATCH_WEB_PORT": "8181"}
    assert load_config(env=web).settings.own_url() == "http://sendwatch.lan:8181"

    env = {"SENDWATCH_ALERTS_PUBLIC_URL": "https://send.example.org/watch/"}
    public = load_config(env=env).settings
    assert public.own_url() == public.own_url(("0.0.0.0", 9001)) == "https://send.example.org/watch"
    path = _write(tmp_path, '[alerts]\npublic_url = "https://send.example.org"\n')
    assert load_config(path, env={}).settings.own_url() == "https://send.example.org"
    for bad in ("send.example.org", "ftp://send.example.org", "https://send.example.org/?x=1"):
        with pytest.raises(ConfigError, match=r"SENDWATCH_ALERTS_PUBLIC_URL: alerts\.public_url"):
            load_config(env={"SENDWATCH_ALERTS_PUBLIC_URL": bad})


def test_where_to_set_names_the_file_and_the_variable() -> None:
    assert where_to_set("smtp.host") == "set it in sendwatch.toml or SENDWATCH_SMTP_HOST"
    assert where_to_set("telegram.token") == "set it in the environment, never in sendwatch.toml"
    with pytest.raises(KeyError):
        where_to_set("smtp.hostname")
