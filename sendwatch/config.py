"""Configuration: one TOML file, overridden key by key from the environment.

The rule people script against: a key's section path and name, upper-cased and
joined by underscores, after ``SENDWATCH_`` (``[smtp] host`` is
``SENDWATCH_SMTP_HOST``). Secrets are typed ``SecretStr`` and are accepted from
the environment only, so they never sit in a file that gets copied, committed or
pasted into a bug report, and they are masked wherever the configuration is shown.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, create_model

from sendwatch.errors import ConfigError
from sendwatch.masking import MASK, mask_url
from sendwatch.sources import Source, entry, registered

ENV_PREFIX = "SENDWATCH_"
CONFIG_ENV = "SENDWATCH_CONFIG"
DEFAULT_CONFIG_FILE = Path("sendwatch.toml")
#: Variables under our prefix that are not config keys (test harness settings).
NON_CONFIG_ENV_PREFIXES = ("SENDWATCH_TEST_",)


class _Section(BaseModel):
    """A config table: unknown keys are errors, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Section):
    """One crawled source's table, `[sources.<name>]`: these keys, and the source's own options
    its registry entry declares (`sendwatch.sources`), with the entry's defaults."""

    enabled: bool = True
    base_url: str = Field(pattern=r"^https?://[^\s/]+")
    interval_minutes: float = Field(gt=0)

    def spider_options(self) -> dict[str, Any]:
        """The source's own settings its spider takes, as keyword arguments."""
        common = SourceConfig.model_fields
        return {name: getattr(self, name) for name in type(self).model_fields if name not in common}


def source_model(source: Source) -> type[SourceConfig]:
    """The model of one source's table: SourceConfig, with the source's own options if any."""
    if not source.options:
        return SourceConfig
    options: dict[str, Any] = dict(source.options)
    model: type[SourceConfig] = create_model(
        f"{source.name.capitalize()}Config",
        __base__=SourceConfig,
        __doc__=f"{source.label}: `[sources.{source.name}]`.",
        **options,
    )
    return model


def default_source_config(source: Source) -> SourceConfig:
    """A source's table as its registry entry has it: its real site, interval and options."""
    return source_model(source)(
        enabled=source.enabled, base_url=source.base_url, interval_minutes=source.interval_minutes
    )


class _SourcesBase(_Section):
    """The crawled sources, one table each (`[sources.govuk]`, …), built from the registry:
    the real sites unless a test or a mirror points base_url elsewhere."""

    def of(self, name: str) -> SourceConfig:
        """Source `name`'s table; for a source registered after this model was built (in
        process: a test's), its registry entry's defaults."""
        config = getattr(self, name, None)
        if isinstance(config, SourceConfig):
            return config
        return default_source_config(entry(name))

    def configured(self) -> list[tuple[str, SourceConfig]]:
        """(name, table) of every registered source, in the registry's order."""
        return [(source.name, self.of(source.name)) for source in registered()]


def _sources_model() -> type[_SourcesBase]:
    """`[sources]`: a table per registered source, defaulting to its entry."""
    tables: dict[str, Any] = {
        source.name: (source_model(source), default_source_config(source))
        for source in registered()
    }
    model: type[_SourcesBase] = create_model("SourcesConfig", __base__=_SourcesBase, **tables)
    return model


if TYPE_CHECKING:
    SourcesConfig = _SourcesBase
else:
    SourcesConfig = _sources_model()


class CrawlerConfig(_Section):
    """How politely the spiders crawl, and when a failing source raises an alarm."""

    #: An address the sites' operators can write to; it goes in the User-Agent.
    contact: str = ""
    download_delay: float = Field(default=2.0, ge=0)
    #: Requests in flight per site at most (AutoThrottle aims at this too).
    concurrency: int = Field(default=2, ge=1, le=16)
    timeout_seconds: float = Field(default=30.0, gt=0)
    retries: int = Field(default=3, ge=0)
    retry_backoff_seconds: float = Field(default=2.0, ge=0)
    #: Larger responses are abandoned (area SEND report PDFs are well under 2 MB).
    max_page_mb: float = Field(default=20.0, gt=0)
    #: Failed runs in a row before the maintainer is alarmed.
    alarm_after_failures: int = Field(default=3, ge=1)
    #: A crawl still running after this long is stopped and counted as failed.
    time_limit_minutes: float = Field(default=20.0, gt=0)
    #: The daemon starts the sources' first crawls this far apart, not all at once.
    start_stagger_seconds: float = Field(default=5.0, ge=0)
    #: A run whose detail documents (report PDFs, notices, articles) failed in a larger
    #: share than this, with at least 3 failures, or all of them, has failed.
    max_failed_share: float = Field(default=0.5, ge=0, le=1)
    #: What one untrusted document (a report PDF, a statistics spreadsheet) may cost: it is
    #: parsed in a worker process with this much memory and time; past a limit it is one failed
    #: document, with its reason, and the crawl goes on.
    parse_memory_mb: int = Field(default=512, ge=64)
    parse_seconds: float = Field(default=60.0, gt=0)
    max_pdf_pages: int = Field(default=300, ge=1)
    max_sheet_cells: int = Field(default=200_000, ge=1)
    max_unzipped_mb: int = Field(default=100, ge=1)
    #: Real host -> the server that answers for it (a mirror, a test server). Empty: every
    #: link is fetched at the host it names. From the environment: host=url,host=url.
    host_map: dict[str, Annotated[str, Field(pattern=r"^https?://[^\s/]+/?$")]] = {}


class SmtpConfig(_Section):
    """Outgoing email."""

    host: str = ""
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    from_address: str = ""
    password: SecretStr | None = None


class TelegramConfig(_Section):
    """The Telegram bot."""

    enabled: bool = False
    base_url: str = "https://api.telegram.org/bot"
    admin_chat_ids: list[int] = []
    #: Whether `sendwatch run` also runs the two-way bot; alerts are sent either way.
    bot: bool = True
    #: Empty: the bot polls Telegram. Set (the public https URL Telegram should post
    #: updates to, behind your reverse proxy): the bot takes updates by webhook instead,
    #: listening on webhook_listen:webhook_port.
    webhook_url: str = ""
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    token: SecretStr | None = None


class AlertsConfig(_Section):
    """Who hears of what, and how hard delivery tries."""

    #: Where people reach sendwatch's web server (behind a reverse proxy: its public address).
    #: Empty: the address `sendwatch serve` listens on (`[web] host` and `port`). Every link
    #: sendwatch gives out is built on it: see `Settings.own_url`.
    public_url: str = Field(default="", pattern=r"^$|^https?://[^\s/?#]+(/[^\s?#]*)?$")
    #: Events that happened longer ago than this are history, not news: never alerted.
    max_age_days: int = Field(default=30, ge=1)
    #: The maintainer hears of failing sources here (either or both).
    maintainer_email: str = ""
    maintainer_telegram_chat_id: int = 0
    #: Apprise URLs the maintainer's alarms also go to (ntfy, Slack, Teams, …). They hold
    #: tokens, so they are secrets: from SENDWATCH_ALERTS_MAINTAINER_URLS only, comma-separated.
    maintainer_urls: list[SecretStr] = []
    batch_size: int = Field(default=100, ge=1)
    #: Attempts before a delivery that keeps failing for passing reasons is given up.
    max_attempts: int = Field(default=8, ge=1)
    retry_base_seconds: float = Field(default=60.0, ge=0)
    #: Permanent failures (blocked bot, rejected mailbox) in a row that pause a subscription.
    pause_after_failures: int = Field(default=3, ge=1)
    #: When the daily digest goes out, HH:MM in UTC.
    digest_time: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    #: How often the daemon delivers due alerts (and at once after a crawl that found news).
    dispatch_interval_seconds: int = Field(default=60, ge=1)
    #: A claim's lease: renewed every third of it while its dispatcher sends; a claim whose
    #: dispatcher died on another host is retaken after this long (same host: at restart).
    claim_lease_seconds: int = Field(default=600, ge=1)


class WebConfig(_Section):
    """`sendwatch serve`: the feeds and the unsubscribe page over HTTP."""

    #: Whether `sendwatch run` also serves the pages, feeds and API (as `sendwatch serve` would),
    #: on host:port: by default it does, so a fresh install shows something at once.
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    #: If set, the daemon writes every feed here as static files after new events.
    static_dir: str = ""
    #: Entries per feed.
    feed_entries: int = Field(default=50, ge=1, le=1000)
    #: Days a sign-up's confirmation link works (once: a link older than the subscription's
    #: last change does nothing).
    confirm_days: int = Field(default=7, ge=1, le=90)
    #: The reverse proxies whose X-Forwarded-For names the client (IP addresses or networks);
    #: empty: nothing is trusted, not even 127.0.0.1, and the client is the peer.
    trusted_proxies: list[str] = []


class Settings(_Section):
    """The whole effective configuration."""

    data_dir: Path = Path("data")
    database_url: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    secret_key: SecretStr | None = None
    sources: SourcesConfig = SourcesConfig()
    crawler: CrawlerConfig = CrawlerConfig()
    smtp: SmtpConfig = SmtpConfig()
    telegram: TelegramConfig = TelegramConfig()
    alerts: AlertsConfig = AlertsConfig()
    web: WebConfig = WebConfig()

    @property
    def effective_database_url(self) -> str:
        """The URL to connect to: the configured one, else a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'sendwatch.db'}"

    def own_url(self, listening: tuple[str, int] | None = None) -> str:
        """sendwatch's own address, without a trailing slash: the base of every link it gives out
        (feed ids and links, calendars, unsubscribe and confirmation links, the bot's and the
        pages' addresses). `[alerts] public_url` when set; else the address its web server
        listens on: `listening` (`sendwatch serve --host/--port`) when known, else `[web] host`
        and `port`. Never a request's `Host` header: anyone can forge that, and a cache would
        keep the forgery for everyone."""
        if self.alerts.public_url:
            return self.alerts.public_url.rstrip("/")
        host, port = listening or (self.web.host, self.web.port)
        return listening_url(host, port)


#: Hosts that mean "every interface": not an address anyone can open, so links name loopback.
_EVERY_INTERFACE = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def listening_url(host: str, port: int) -> str:
    """The http address of a server listening on host:port, as a link can name it: an IPv6
    address in brackets, and every interface (0.0.0.0, ::) as this machine's loopback."""
    host = _EVERY_INTERFACE.get(host, host)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def where_to_set(dotted: str) -> str:
    """How a person sets the key `dotted` ("smtp.host"), said after naming it: in the file or
    from its environment variable; a secret, named by its variable (the only way it is set),
    from the environment only, as `load_config` accepts it."""
    key = next((key for key in schema_keys() if key.dotted == dotted), None)
    if key is None:
        raise KeyError(dotted)
    if key.secret:
        return "set it in the environment, never in sendwatch.toml"
    return f"set it in sendwatch.toml or {key.env_name}"


@dataclass(frozen=True)
class Key:
    """One leaf of the schema, with where its value may come from."""

    path: tuple[str, ...]
    annotation: Any
    secret: bool

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def env_name(self) -> str:
        return ENV_PREFIX + "_".join(self.path).upper()


def schema_keys(model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()) -> Iterator[Key]:
    """Every leaf key of the schema, depth first, in declaration order."""
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from schema_keys(annotation, path)
        else:
            yield Key(path, annotation, _is_secret(annotation))


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


@dataclass(frozen=True)
class LoadedConfig:
    """The settings and where each value came from (for `sendwatch config` and errors)."""

    settings: Settings
    path: Path | None
    origins: Mapping[str, str]
    unknown_env: tuple[str, ...] = ()


def resolve_config_path(
    cli_path: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> Path | None:
    """The file to read: `--config`, else `$SENDWATCH_CONFIG`, else ./sendwatch.toml if it exists.

    A path the user named explicitly must exist; the implicit default may be absent
    (sendwatch runs on defaults and the environment alone).
    """
    named = cli_path or env.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_config(
    cli_path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Read the file, overlay the environment, validate; raise ConfigError with the key and line."""
    env = os.environ if env is None else env
    path = resolve_config_path(cli_path, env)
    text = _read_text(path) if path else ""
    data = _parse_toml(text, path) if path else {}
    _reject_file_secrets(data, text, path)
    origins = {key.dotted: f"{path}" for key in schema_keys() if _get(data, key.path) is not None}
    # Start from the defaults so a table that sets one key keeps the defaults of
    # the others (each source has its own default URL and interval).
    data = _merge(Settings().model_dump(), data)
    env_sources: dict[str, str] = {}
    for key in schema_keys():
        raw = env.get(key.env_name)
        if raw is None:
            continue
        _set(data, key.path, _from_env(raw, key.annotation))
        env_sources[key.dotted] = key.env_name
        origins[key.dotted] = key.env_name
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, text, path, env_sources)) from None
    known = {key.env_name for key in schema_keys()} | {CONFIG_ENV}
    unknown = tuple(
        sorted(
            name
            for name in env
            if name.startswith(ENV_PREFIX)
            and name not in known
            and not name.startswith(NON_CONFIG_ENV_PREFIXES)
        )
    )
    return LoadedConfig(settings, path, origins, unknown)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already ends in "(at line N, column M)".
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _reject_file_secrets(data: Mapping[str, Any], text: str, path: Path | None) -> None:
    for key in schema_keys():
        if key.secret and _get(data, key.path) is not None:
            where = _where(path, _line_of(text, key.path))
            raise ConfigError(
                f"{where}{key.dotted}: secrets are read from the environment only;"
                f" remove it from the file and set {key.env_name}"
            )


def _merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for name, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(name), dict):
            merged[name] = _merge(merged[name], value)
        else:
            merged[name] = value
    return merged


def _from_env(raw: str, annotation: Any) -> Any:
    """Environment values are strings; lists are written comma-separated, tables `key=value,…`."""
    if get_origin(annotation) is list:
        return [item.strip() for item in raw.split(",") if item.strip()]
    if get_origin(annotation) is dict:
        pairs = [item.strip() for item in raw.split(",") if item.strip()]
        # A pair without "=" gets an empty value, which validation then names.
        return dict(_pair(pair) for pair in pairs)
    return raw


def _pair(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key.strip(), value.strip()


def _get(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def _describe(
    exc: ValidationError, text: str, path: Path | None, env_sources: Mapping[str, str]
) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        dotted = ".".join(loc)
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        if "input" in error and error["type"] != "extra_forbidden" and not _is_secret_loc(loc):
            message += f" (got {error['input']!r})"
        env_name = next(
            (name for key, name in env_sources.items() if f"{dotted}.".startswith(f"{key}.")),
            None,
        )
        where = f"{env_name}: " if env_name else _where(path, _line_of(text, loc))
        lines.append(f"{where}{dotted}: {message}")
    return "\n".join(lines)


def _is_secret_loc(loc: tuple[str, ...]) -> bool:
    return any(key.secret and loc[: len(key.path)] == key.path for key in schema_keys())


def _where(path: Path | None, line: int | None) -> str:
    if path is None:
        return ""
    return f"{path}:{line}: " if line else f"{path}: "


_TABLE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\-.\" ]+?)\s*=")


def _line_of(text: str, loc: tuple[str, ...]) -> int | None:
    """The 1-based line where the key at `loc` is written, for error messages.

    tomllib keeps no positions, so this re-reads the text: it follows `[table]`
    headers and finds `key =` (dotted keys included) inside the right table, or
    the header of a table that is itself the offending key.
    """
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TABLE.match(line)
        if header:
            table = _split_key(header.group(1))
            if table == loc:
                return number
            continue
        assign = _ASSIGN.match(line)
        if assign:
            full = table + _split_key(assign.group(1))
            if full == loc[: len(full)] and full:
                return number
    return None


def _split_key(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().strip('"').strip("'") for part in raw.split("."))


def render_config(loaded: LoadedConfig) -> str:
    """The effective configuration as TOML, secrets masked and each value's origin noted."""
    settings = loaded.settings
    out: list[str] = [f"# config file: {loaded.path or '(none: defaults and environment)'}"]
    current_table: tuple[str, ...] = ()
    for key in schema_keys():
        table, name = key.path[:-1], key.path[-1]
        if table != current_table:
            out.append(f"\n[{'.'.join(table)}]")
            current_table = table
        value: Any = settings
        for part in key.path:
            value = getattr(value, part)
        if key.secret:
            if value is None or value == []:
                out.append(f"# {name}: not set ({key.env_name})")
                continue
            value = MASK
        elif key.path == ("database_url",):
            value = mask_url(settings.effective_database_url)
        origin = loaded.origins.get(key.dotted, "default")
        out.append(f"{name} = {_toml_value(value)}  # {origin}")
    return "\n".join(out) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{_toml_string(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(pairs) + " }" if value else "{}"
    return _toml_string(str(value))


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
