"""The `sendwatch` command line.

People script against these names, flags and output columns: change them only
by adding. Every error a user can act on ends as one line on stderr and exit 1;
usage errors exit 2 (click's convention).
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import socket
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sendwatch import __version__
from sendwatch.config import LoadedConfig, load_config, render_config
from sendwatch.errors import SendwatchError
from sendwatch.logs import describe_network_error, network_error, setup_logging
from sendwatch.masking import mask, register_secrets, url_secrets
from sendwatch.sources import names as source_names
from sendwatch.text import moment
from sendwatch.vocab import CrawlResult
from storage.las import register
from storage.store import SourceSummary, Store, UnreadOutcome

if TYPE_CHECKING:
    from storage.outbox import DeliveryRow

log = logging.getLogger("sendwatch")
#: The crawled sources, in the order commands take them: the registry's (`sendwatch.sources`).
SOURCES = source_names()


class _Group(click.Group):
    """Turns SendwatchError, or a file that cannot be read or written, into one readable line
    instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SendwatchError as exc:
            click.echo(f"sendwatch: error: {mask(str(exc))}", err=True)
            ctx.exit(getattr(exc, "exit_code", 1))
        except BrokenPipeError:
            # The reader stopped reading (`sendwatch las | head`): nothing is wrong.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except OSError as exc:
            if exc.filename is None:  # not about a file: a network failure, else a bug
                _network_failure(ctx, exc)
                raise
            click.echo(f"sendwatch: error: {exc.filename}: {exc.strerror or exc}", err=True)
            ctx.exit(1)
        except Exception as exc:
            _network_failure(ctx, exc)
            raise


def _network_failure(ctx: click.Context, exc: BaseException) -> None:
    """A network failure that reached the top is one line and exit 1, not a traceback
    (kept at DEBUG); anything else is left to raise."""
    failure = network_error(exc)
    if failure is None or logging.getLogger().isEnabledFor(logging.DEBUG):
        return
    click.echo(f"sendwatch: error: network failure: {describe_network_error(failure)}", err=True)
    ctx.exit(1)


@click.group(cls=_Group)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Settings file (default: $SENDWATCH_CONFIG, else ./sendwatch.toml if present).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Overrides log_level from the configuration.",
)
@click.version_option(__version__, prog_name="sendwatch")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str | None) -> None:
    """Watch for SEND improvement notices and area SEND inspection reports, and alert people."""
    loaded = load_config(config_path)
    setup_logging(log_level or loaded.settings.log_level, loaded.settings)
    for name in loaded.unknown_env:
        log.warning("ignoring %s: no such configuration key", name)
    ctx.obj = loaded


def _loaded(ctx: click.Context) -> LoadedConfig:
    loaded = ctx.find_object(LoadedConfig)
    assert loaded is not None
    return loaded


def _store(ctx: click.Context) -> Store:
    """The store, created (with its data directory) when there is none yet."""
    store = Store(_loaded(ctx).settings.effective_database_url)
    ctx.call_on_close(store.close)
    return store


def _store_to_read(ctx: click.Context) -> Store:
    """The store of a command that only reads (`status`, `outbox`, `export`, `reconcile`,
    `subscribers`): never created by it. Where there is none, one line says the path looked
    at and the setting that moves it, rather than an empty store made in whatever directory
    the command was run from."""
    from storage.db import sqlite_file

    path = sqlite_file(_loaded(ctx).settings.effective_database_url)
    if path is not None and not path.is_file():
        raise NoStore(_no_store_here(ctx, path))
    return _store(ctx)


def _unread_outcomes(ctx: click.Context) -> list[UnreadOutcome]:
    """The recorded reports whose outcome no rule read; none where there is no store yet (a
    check never creates one)."""
    try:
        return _store_to_read(ctx).unread_outcomes()
    except NoStore:
        return []


class NoStore(SendwatchError):
    """A command that only reads found no store where it looked."""


def _no_store_here(ctx: click.Context, path: Path) -> str:
    """ "no store at /srv/sendwatch/data/sendwatch.db (…)": where, and what moves it."""
    loaded = _loaded(ctx)
    if loaded.settings.database_url:
        origin = loaded.origins.get("database_url", "default")
        where = f"database_url, from {origin}"
    else:
        origin = loaded.origins.get("data_dir", "the default, relative to this directory")
        where = f"data_dir = {loaded.settings.data_dir}, from {origin}"
    return (
        f"no store at {path.resolve()} ({where}): nothing is recorded there yet."
        " Run this where the daemon runs, or point at its store with [data_dir] in the"
        " settings file (--config) or SENDWATCH_DATA_DIR (or SENDWATCH_DATABASE_URL);"
        " `sendwatch run` or `sendwatch db upgrade` creates a new one"
    )


@cli.command("config")
@click.pass_context
def config_command(ctx: click.Context) -> None:
    """Print the effective configuration (secrets masked)."""
    click.echo(render_config(_loaded(ctx)), nl=False)


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply schema migrations (creates the SQLite file on first use)."""
    from storage.migrate import current_revision

    store = _store(ctx)
    store.upgrade()
    click.echo(f"database at revision {current_revision(store.engine)}")


@cli.command("las")
@click.argument("query", required=False, default="")
def las_command(query: str) -> None:
    """List local authorities matching QUERY (name, alias, region or code)."""
    reg = register()
    found = reg.search(query)
    if not found:
        hint = ", ".join(la.name for la in reg.suggestions(query, limit=3))
        message = f"no local authority matches {query!r}"
        raise SendwatchError(f"{message}; did you mean: {hint}?" if hint else message)
    _echo_table(
        ("NAME", "ONS_CODE", "DFE_CODE", "REGION"),
        [(la.name, la.ons_code, la.dfe_code, la.region) for la in found],
    )


@cli.command("status")
@click.option(
    "--la",
    "la_name",
    metavar="NAME_OR_ONS",
    help="Instead: this council's case (what is in force, the deadline, the latest outcome, "
    "the next inspection due).",
)
@click.option("--json", "as_json", is_flag=True, help="With --la: as /api/las serves it.")
@click.pass_context
def status_command(ctx: click.Context, la_name: str | None, as_json: bool) -> None:
    """Show each source's last run and what the store holds, or (--la) one council's case."""
    if as_json and la_name is None:
        raise click.UsageError("--json goes with --la")
    if la_name is not None:
        _echo_case(_store_to_read(ctx), la_name, as_json)
        return
    store = _open_for_status(ctx)
    known = _source_summaries(store)
    settings = _loaded(ctx).settings
    rows = []
    summaries = dict(known or {})
    for name, source in settings.sources:
        summary = summaries.pop(name, None) or SourceSummary(name, None, None, 0, 0, 0)
        rows.append(_status_row(summary, "yes" if source.enabled else "no"))
    rows.extend(_status_row(summary, "n/a") for summary in summaries.values())
    _echo_table(
        (
            "SOURCE",
            "ENABLED",
            "LAST_RUN",
            "RESULT",
            "FAILURES",
            "FINDINGS",
            "EVENTS",
            "NEXT_RUN",
            "REASON",
        ),
        rows,
    )
    if store is not None and known is not None:
        from storage.outbox import outbox_counts

        counts = outbox_counts(store)
        click.echo(
            f"outbox: pending={counts.get('pending', 0) + counts.get('sending', 0)}"
            f" failed={counts.get('failed', 0)} sent_today={counts['sent_today']}"
        )
        _echo_outbox_reasons(ctx, store)
        for alarm in store.open_alarms():
            click.echo(f"alarm since {_when(alarm.opened_at)}: {alarm.message}")


def _open_for_status(ctx: click.Context) -> Store | None:
    """The store, or None when there is none yet (said on stderr, with the path looked at):
    the sources and their settings are worth a look before the first crawl."""
    try:
        store = _store_to_read(ctx)
    except NoStore as exc:
        click.echo(f"sendwatch: note: {exc}", err=True)
        return None
    store.check()
    return store


def _source_summaries(store: Store | None) -> dict[str, SourceSummary] | None:
    """Each source's last run, as the store has it; None where the store has no schema yet."""
    from storage.migrate import current_revision, head_revision

    if store is None:
        return None
    revision = current_revision(store.engine)
    if revision is None:
        click.echo("database not initialised yet: `sendwatch db upgrade` creates it", err=True)
        return None
    if revision != head_revision():
        raise SendwatchError(
            f"the database schema is at revision {revision}, not {head_revision()}:"
            " run `sendwatch db upgrade` (the daemon does this on start)"
        )
    return {summary.source: summary for summary in store.source_summaries()}


def _echo_case(store: Store, la_name: str, as_json: bool) -> None:
    """One council's case, as its page and the bot's /status word it (or as /api/las has it)."""
    from alerts.export import council_records
    from alerts.filters import resolve_la
    from alerts.summary import case_lines
    from storage.queries import cases

    la = register().get(resolve_la(la_name))
    assert la is not None
    store.upgrade()  # an older schema read as the daemon would have it
    if as_json:
        [record] = council_records(store, la.ons_code)
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    state = cases(store, [la.ons_code]).get(la.ons_code)
    click.echo(f"{la.name} ({la.ons_code}), {la.region}")
    for fact in case_lines(state):
        click.echo(str(fact))


def _echo_outbox_reasons(ctx: click.Context, store: Store) -> None:
    """Why deliveries wait or failed, one line per reason, then each channel that subscribers
    use but the configuration cannot send on: no delivery waits or fails unsaid."""
    from alerts.channels import channel_problems, unconfigured_warning
    from alerts.dispatch import outbox_reasons
    from storage.outbox import channels_in_use, unsent_groups

    problems = channel_problems(_loaded(ctx).settings)
    for reason in outbox_reasons(unsent_groups(store), problems):
        click.echo(f"deliveries: {reason}")
    for channel in sorted(channels_in_use(store) & problems.keys()):
        click.echo(f"warning: {unconfigured_warning(channel, problems[channel])}")


#: The words a run's result is told in (`sendwatch.vocab.CrawlResult`, decided by
#: `crawler.verdict.decide`).
RESULTS = tuple(str(result) for result in CrawlResult)


def result_words(result: str | None, reason: str | None) -> tuple[str, str]:
    """A stored result as one word of the vocabulary, with its reason in words.

    Older versions stored labels such as "failed (finished)", shown as "failed_(finished)":
    the word is kept and the rest said as a reason, when the run recorded none.
    """
    if result is None or result in RESULTS:
        return result or "-", reason or "-"
    word = next((known for known in RESULTS if result.startswith(known)), "failed")
    detail = result.removeprefix(word).replace("_", " ").strip(" ()")
    return word, reason or _legacy_reason(detail)


def _legacy_reason(detail: str) -> str:
    """What an older version's label meant (it named Scrapy's finish reason)."""
    if detail == "finished":
        return "a listing could not be read (an older version recorded no more)"
    if detail == "closespider_timeout":
        return "stopped at the time limit ([crawler] time_limit_minutes)"
    return f"the crawl stopped: {detail or 'no reason recorded'}"


def _status_row(summary: SourceSummary, enabled: str) -> tuple[str, ...]:
    result, reason = result_words(summary.last_result, summary.last_reason)
    return (
        summary.source,
        enabled,
        _when(summary.last_run_at),
        result,
        str(summary.consecutive_failures),
        str(summary.findings),
        str(summary.events),
        _when(summary.next_run_at) if summary.next_run_at else "-",
        reason,
    )


def _when(when: dt.datetime | None) -> str:
    return moment(when) if when else "never"


def _echo_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns separated by two spaces: readable, and splittable by scripts on runs of spaces."""
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        cells = (str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


@cli.command("crawl")
@click.argument(
    "sources",
    metavar="SOURCE...",
    nargs=-1,
    required=True,
    type=click.Choice(SOURCES),
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object a line per source (found, new, …, result, reason, alarms).",
)
@click.pass_context
def crawl_command(ctx: click.Context, sources: tuple[str, ...], as_json: bool) -> None:
    """Crawl SOURCE (several: at once) into the store; print found/new/updated/seen/errors."""
    from crawler.runner import SIGNALLED, crawl_many, exit_at_once

    reports = crawl_many(_loaded(ctx).settings, sources)
    for report in reports:
        click.echo(report.json_line() if as_json else report.line())
        for alarm in report.alarms:
            click.echo(f"alarm: {alarm}", err=True)
    code = 0 if all(report.ok for report in reports) else 1
    if SIGNALLED.is_set():
        exit_at_once(code)  # not waiting for the DNS lookups a stopped crawl left behind
    ctx.exit(code)


@cli.command("reconcile")
@click.option("--json", "as_json", is_flag=True, help="JSON, as /api/reconciliation serves it.")
@click.pass_context
def reconcile_command(ctx: click.Context, as_json: bool) -> None:
    """Compare Ofsted's statistics with the reports crawled; print each discrepancy; exit 1 if any."""
    from storage.reconcile import reconcile

    store = _store_to_read(ctx)
    store.upgrade()  # an older schema read as the daemon would have it
    result = reconcile(store)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    elif not result.discrepancies:
        why = f" ({result.reason})" if result.reason else f" ({result.compared} reports compared)"
        click.echo(f"no discrepancies{why}")
    else:
        for discrepancy in result.discrepancies:
            click.echo(discrepancy.line())
    ctx.exit(1 if result.discrepancies else 0)


@cli.command("check")
@click.argument("sources", metavar="[SOURCE...]", nargs=-1, type=click.Choice(SOURCES))
@click.option("--json", "as_json", is_flag=True, help="JSON, for monitoring systems.")
@click.pass_context
def check_command(ctx: click.Context, sources: tuple[str, ...], as_json: bool) -> None:
    """Read each source live as a crawl would (nothing stored) and say what works; exit 1 if not."""
    from crawler.check import check_sources, render, with_recorded_outcomes

    settings = _loaded(ctx).settings
    enabled = tuple(name for name, source in settings.sources.configured() if source.enabled)
    checks = with_recorded_outcomes(
        check_sources(settings, sources or enabled), _unread_outcomes(ctx)
    )
    ok = all(check.ok for check in checks)
    if as_json:
        payload = {"ok": ok, "sources": [check.to_json() for check in checks]}
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        click.echo(render(checks))
    ctx.exit(0 if ok else 1)


@cli.command("extract")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--url", help="Where the file came from (picks the matching parser).")
@click.option(
    "--date",
    "date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The document's publication date, YYYY-MM-DD, when the file does not say.",
)
@click.pass_context
def extract_command(
    ctx: click.Context, path: Path, url: str | None, date: dt.datetime | None
) -> None:
    """Run the extraction on a saved HTML, PDF, JSON, text or spreadsheet file; print JSON.

    A spreadsheet (an Ofsted statistics release) prints a list: one extraction per row. The
    file is parsed within the limits a crawl's documents are ([crawler] parse_memory_mb, …)."""
    from crawler.bounded import limits_of
    from crawler.files import extract_path

    extracted = extract_path(
        path,
        url=url,
        date=date.date() if date else None,
        limits=limits_of(_loaded(ctx).settings),
    )
    click.echo(json.dumps(extracted, indent=2, ensure_ascii=False))


CHANNELS = click.Choice(["email", "telegram", "apprise", "webhook"])


def _check_address(channel: str, address: str) -> str:
    address = address.strip()
    if channel == "email":
        from alerts.email import BadAddress, parse_address

        try:
            return parse_address(address)  # one plain mailbox, as the web sign-up takes
        except BadAddress:
            raise SendwatchError(f"not an email address: {address!r}") from None
    if channel == "telegram" and not address.lstrip("-").isdigit():
        raise SendwatchError(f"a Telegram address is a numeric chat id, not {address!r}")
    if channel == "apprise":
        from alerts.apprise_channel import service

        service(address)  # its parts masked from here on; BadAppriseUrl names only scheme://host
    if channel == "webhook":
        from alerts.webhook import check_url

        return check_url(address)
    return address


def _stored_address(ctx: click.Context, store: Store, channel: str, address: str) -> str:
    """The address as the store keeps it: an Apprise or webhook URL by its label
    ("ntfy://host#id", "https://hooks.example.org#id"), never the URL, whose path or query
    may hold a token; the label itself is taken too."""
    if channel not in ("apprise", "webhook"):
        return address
    from alerts.sealing import service_label
    from alerts.signing import secret_key
    from storage.outbox import subscription

    if subscription(store, channel, address) is not None:
        return address  # the label, as `sendwatch subscribers` shows it
    return service_label(secret_key(_loaded(ctx).settings), address)


def _sealed_secret(
    ctx: click.Context, store: Store, channel: str, address: str, renew: bool
) -> tuple[str | None, str | None]:
    """(what to store sealed, a new webhook secret to show once) for a subscription: an
    Apprise URL itself; a webhook's URL and signing secret, the secret made when it has none
    (or `renew`)."""
    from alerts.sealing import seal
    from alerts.signing import secret_key

    key = secret_key(_loaded(ctx).settings)
    if channel == "apprise":
        return seal(key, address), None
    if channel != "webhook":
        return None, None
    from alerts.sealing import service_label
    from alerts.webhook import new_secret, seal_target
    from storage.outbox import subscription

    existing = subscription(store, channel, service_label(key, address))
    if existing is not None and existing.secret is not None and not renew:
        return None, None  # the receiver already has it
    secret = new_secret()
    register_secrets([secret])
    return seal_target(key, address, secret), secret


def _reseal_webhooks(ctx: click.Context, store: Store) -> None:
    """Webhook URLs an older version kept in clear, sealed before anything else reads them."""
    from alerts.signing import secret_key
    from alerts.webhook import reseal_legacy

    reseal_legacy(store, secret_key(_loaded(ctx).settings))


@cli.command("subscribe")
@click.argument("channel", type=CHANNELS)
@click.argument("address")
@click.option(
    "--la", "las", multiple=True, help="A local authority (name or ONS code); repeatable."
)
@click.option("--region", "regions", multiple=True, help="A region, e.g. London; repeatable.")
@click.option("--kind", "kinds", multiple=True, help="An event kind, e.g. notice; repeatable.")
@click.option("--digest", is_flag=True, help="One message a day instead of one per event.")
@click.option(
    "--new-secret", is_flag=True, help="webhook: replace its signing secret (shown once)."
)
@click.pass_context
def subscribe_command(
    ctx: click.Context,
    channel: str,
    address: str,
    las: tuple[str, ...],
    regions: tuple[str, ...],
    kinds: tuple[str, ...],
    digest: bool,
    new_secret: bool,
) -> None:
    """Alert ADDRESS on CHANNEL about events matching the filters (none: everything).

    ADDRESS is an email address, a Telegram chat id, an Apprise URL (stored sealed, shown as
    scheme://host#id) or a webhook's http(s) URL (its signing secret is printed once)."""
    from alerts.filters import parse_filters
    from storage.outbox import subscribe

    address = _check_address(channel, address)
    filters = parse_filters(las, regions, kinds)
    store = _store(ctx)
    store.upgrade()
    _reseal_webhooks(ctx, store)
    sealed, shown_secret = _sealed_secret(ctx, store, channel, address, new_secret)
    stored = _stored_address(ctx, store, channel, address)
    _, created = subscribe(
        store,
        channel,
        stored,
        la_codes=filters.la_codes,
        regions=filters.regions,
        kinds=filters.kinds,
        digest=digest,
        secret=sealed,
    )
    verb = "subscribed" if created else "updated"
    click.echo(
        f"{verb} {channel} {stored}: {filters.describe()}{' (daily digest)' if digest else ''}"
    )
    if shown_secret is not None:
        click.echo(f"secret: {shown_secret}")
        click.echo(
            "sendwatch: note: give the receiver this secret now; it is not shown again. Each"
            " POST carries X-Sendwatch-Signature: sha256=<HMAC-SHA256 of the body with it>.",
            err=True,
        )
    _warn_unconfigured(ctx, [channel])


def _warn_unconfigured(ctx: click.Context, channels: Sequence[str]) -> None:
    """Say on stderr, for each of `channels` the configuration cannot send on, that its
    alerts will wait: a subscription must never look live when nothing can reach it."""
    from alerts.channels import channel_problems, unconfigured_warning

    problems = channel_problems(_loaded(ctx).settings)
    for channel in channels:
        if channel in problems:
            warning = unconfigured_warning(channel, problems[channel])
            click.echo(f"sendwatch: warning: {warning}", err=True)


@cli.command("unsubscribe")
@click.argument("channel", type=CHANNELS)
@click.argument("address")
@click.pass_context
def unsubscribe_command(ctx: click.Context, channel: str, address: str) -> None:
    """Stop alerts to ADDRESS on CHANNEL."""
    from storage.outbox import unsubscribe

    store = _store(ctx)
    store.upgrade()
    _reseal_webhooks(ctx, store)
    if channel in ("apprise", "webhook"):
        register_secrets(url_secrets(address))
    stored = _stored_address(ctx, store, channel, address.strip())
    if not unsubscribe(store, channel, stored):
        raise SendwatchError(f"no subscription for {channel} {stored}")
    click.echo(f"unsubscribed {channel} {stored}")


@cli.command("subscribers")
@click.pass_context
def subscribers_command(ctx: click.Context) -> None:
    """List the subscriptions and their filters."""
    from alerts.filters import Filters
    from alerts.webhook import shown_address
    from storage.outbox import subscriptions

    store = _store_to_read(ctx)
    store.upgrade()
    rows = [
        (
            s.channel,
            shown_address(s.channel, s.address),
            s.state,
            "yes" if s.digest else "no",
            Filters(tuple(s.la_codes), tuple(s.regions), tuple(s.kinds)).describe(),
        )
        for s in subscriptions(store)
    ]
    _echo_table(("CHANNEL", "ADDRESS", "STATE", "DIGEST", "FILTERS"), rows)


@cli.command("dispatch")
@click.option("--digest", is_flag=True, help="Send the daily digests instead.")
@click.pass_context
def dispatch_command(ctx: click.Context, digest: bool) -> None:
    """Deliver due alerts once (the daemon does this every minute)."""
    from alerts.dispatch import Dispatcher, channels_for

    settings = _loaded(ctx).settings
    store = _store(ctx)
    store.upgrade()
    _reseal_webhooks(ctx, store)
    dispatcher = Dispatcher(settings, store, channels_for(settings))
    report = dispatcher.send_digests() if digest else dispatcher.run_once()
    click.echo(report.line())
    from alerts.channels import channel_problems

    for warning in report.warnings(channel_problems(settings)):
        click.echo(f"sendwatch: warning: {warning}", err=True)


@cli.command("outbox")
@click.option(
    "--failed",
    "failed_only",
    is_flag=True,
    help="Only deliveries given up, or retrying after an error.",
)
@click.pass_context
def outbox_command(ctx: click.Context, failed_only: bool) -> None:
    """List the deliveries: channel, address, event, state, attempts, next try, last error."""
    from alerts.channels import channel_problems
    from storage.outbox import delivery_rows

    store = _store_to_read(ctx)
    store.upgrade()
    problems = channel_problems(_loaded(ctx).settings)
    rows = delivery_rows(store, failed_only=failed_only)
    if not rows:
        click.echo("no failed or retrying deliveries" if failed_only else "the outbox is empty")
        return
    _echo_table(
        ("ID", "CHANNEL", "ADDRESS", "EVENT", "STATE", "ATTEMPTS", "NEXT_TRY", "LAST_ERROR"),
        [_outbox_row(row, problems) for row in rows],
    )


#: How much of an event's title `sendwatch outbox` shows after its id.
TITLE_LENGTH = 40


def _outbox_row(row: DeliveryRow, problems: dict[str, str]) -> tuple[str, ...]:
    """One delivery in words (a webhook by its label, never its URL). Its state says why it
    has not gone: "waiting" (its channel is not configured; LAST_ERROR says what is missing),
    "retrying" (after an error), "pending"."""
    from alerts.webhook import shown_address

    state, error = row.state, " ".join((row.last_error or "").split())
    if state == "pending" and row.channel in problems:
        state, error = "waiting", error or f"not sent: {problems[row.channel]}"
    elif state == "pending" and row.last_error:
        state = "retrying"
    title = " ".join(row.event_title.split())
    if len(title) > TITLE_LENGTH:
        title = title[: TITLE_LENGTH - 1] + "…"
    next_try = _when(row.next_attempt_at) if row.next_attempt_at and state != "waiting" else "-"
    return (
        str(row.id),
        row.channel,
        shown_address(row.channel, row.address),
        f"#{row.event_id} {title}",
        state,
        str(row.attempts),
        next_try,
        error or "-",
    )


@cli.command("bot")
@click.pass_context
def bot_command(ctx: click.Context) -> None:
    """Run the Telegram bot on its own (polling, or webhook if configured), until Ctrl-C."""
    from alerts.telegram import run_bot

    store = _store(ctx)
    store.upgrade()
    run_bot(_loaded(ctx).settings, store)


@cli.command("serve")
@click.option("--host", help="Interface to listen on (default: [web] host).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: [web] port).")
@click.pass_context
def serve_command(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the pages, the feeds, the API and the sign-up and unsubscribe pages over HTTP."""
    import uvicorn

    from alerts.web import create_app

    settings = _loaded(ctx).settings
    host, port = host or settings.web.host, port or settings.web.port
    # The port first: one taken is one line, before anything else is said or opened.
    listening = _listen(host, port)
    store = _store(ctx)
    store.upgrade()
    app = create_app(settings, store, (host, port))
    for line in served_addresses(host, port, {str(getattr(r, "path", "")) for r in app.routes}):
        click.echo(line)
    trusted = settings.web.trusted_proxies
    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=5,
        # The client is the peer unless it is a proxy named in [web] trusted_proxies: a
        # forwarded header from anyone else (127.0.0.1 included) is a claim, not an address.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=list(trusted) if trusted else [],
    )
    server = uvicorn.Server(config)
    server.run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (as uvicorn binds: address reuse on), or SendwatchError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SendwatchError(f"cannot serve on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    listening = socket.socket(family, kind, proto)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind(address)
    except OSError as exc:
        listening.close()
        why = (
            "the port is already in use (another sendwatch serve, or another program)"
            if exc.errno == errno.EADDRINUSE
            else exc.strerror or str(exc)
        )
        raise SendwatchError(f"cannot serve on {host}:{port}: {why}") from None
    return listening


#: What `sendwatch serve` announces: (label, the address's path, the route serving it).
SERVED = (
    ("pages", "/", "/"),
    ("feeds", "/feeds/all.atom", "/feeds/all.{fmt}"),
    ("feeds", "/feeds/all.rss", "/feeds/all.{fmt}"),
    ("ical", "/calendar/all.ics", "/calendar/all.ics"),
    ("API", "/api/events", "/api/events"),
    ("API", "/api/las", "/api/las"),
)


def served_addresses(host: str, port: int, routes: Collection[str]) -> list[str]:
    """Each address `sendwatch serve` serves, as "label  URL" lines for people to open; only
    those whose route the app has, so no line names a page that is not there."""
    base = http_base(host, port)
    return [f"{label:<5}  {base}{path}" for label, path, route in SERVED if route in routes]


def http_base(host: str, port: int) -> str:
    """The address to open for a server on host:port (an IPv6 host in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@cli.group()
def feeds() -> None:
    """The RSS/Atom feeds."""


@feeds.command("write")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def feeds_write(ctx: click.Context, directory: Path) -> None:
    """Write every feed as static files under DIRECTORY (for a web server to serve)."""
    from alerts.feeds import write_feeds

    store = _store(ctx)
    store.upgrade()
    count = write_feeds(_loaded(ctx).settings, store, directory)
    click.echo(f"wrote {count} feeds to {directory}")


@cli.command("demo")
@click.option(
    "--keep", is_flag=True, help="Keep the demo's directory (store, feeds) to browse it afterwards."
)
@click.pass_context
def demo_command(ctx: click.Context, keep: bool) -> None:
    """See it all work offline: sample sites, a baseline crawl, one new notice, its alert, the feeds."""
    from app.demo import run_demo

    run_demo(_loaded(ctx), click.echo, keep=keep)


@cli.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@click.option(
    "--since", metavar="YYYY-MM-DD", help="Only events that happened on or after this day."
)
@click.option("--la", metavar="NAME_OR_ONS", help="Only this local authority.")
@click.option("--kind", help="Only this kind of event (e.g. improvement_notice).")
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="A file instead of stdout."
)
@click.option(
    "--las",
    "councils",
    is_flag=True,
    help="Each council's case instead of events, as /api/las serves it (with its Ombudsman"
    " decisions of the last 12 months).",
)
@click.pass_context
def export_command(
    ctx: click.Context,
    fmt: str,
    since: str | None,
    la: str | None,
    kind: str | None,
    output: Path | None,
    councils: bool,
) -> None:
    """Write every matching event, oldest first, as JSON or CSV (open data); with --las, every
    council's case."""
    from alerts.export import (
        BadParameter,
        EventFilter,
        council_records,
        las_to_csv,
        records_of,
        select_events,
        to_csv,
        to_json,
    )

    if councils and (since or kind):
        raise click.UsageError("--since and --kind choose events; --las writes councils")
    try:
        where = EventFilter.parse(since, la, kind)
    except BadParameter as exc:
        raise click.BadParameter(
            str(exc).split(": ", 1)[1], param_hint=f"--{exc.parameter}"
        ) from None
    store = _store_to_read(ctx)
    store.upgrade()
    if councils:
        records = council_records(store, where.la_code)
        text = to_json(records) if fmt == "json" else las_to_csv(records)
    else:
        records = records_of(store, select_events(store, where))
        text = to_json(records) if fmt == "json" else to_csv(records)
    if output is None:
        click.echo(text, nl=False)
    else:
        # A byte-order mark lets spreadsheets open the CSV as UTF-8.
        try:
            output.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="")
        except OSError as exc:
            raise SendwatchError(f"cannot write {output}: {exc.strerror or exc}") from None
        noun = "councils" if councils else "events"
        click.echo(f"wrote {len(records)} {noun} to {output}", err=True)


@cli.command("run")
@click.pass_context
def run_command(ctx: click.Context) -> None:
    """Run the daemon: migrations, then scheduled crawls and deliveries until SIGTERM."""
    from app.daemon import run

    ctx.exit(run(_loaded(ctx)))


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="sendwatch")
