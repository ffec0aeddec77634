"""Telegram: alerts sent by the bot, and the two-way bot people subscribe with.

Sending respects Telegram's limits (about 30 messages a second overall, one a second
per chat) and obeys a 429's `retry_after`; a chat that blocked the bot (403) or no
longer exists is a permanent failure. Telegram has no idempotency key, so a crash
between sending and recording "sent" can repeat one message: at-least-once.

The bot token is in every Bot API URL, and python-telegram-bot quotes it when Telegram
rejects it: httpx's request log is silenced (see `sendwatch.logs`), every log line and
every error recorded is masked, and a rejected token is one line (TOKEN_REJECTED): the
bot exits with EXIT_FATAL_CONFIG, which the daemon does not restart.

The bot's replies stay within Telegram's 4096 characters (echoed input is cut short),
and a failing handler reaches the admin chats at most once an hour per kind of error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import html
import logging
import os
import re
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

# Opt in now to `RetryAfter.retry_after` as a timedelta (PTB's next major default); `_seconds`
# reads either form.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import Bot, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, CommandHandler, ContextTypes

from alerts.channels import Done, Outgoing, Permanent, Result, Retry, Sent
from alerts.filters import OPT_IN_KINDS, Filters, matches, resolve_la, resolve_region
from alerts.render import render_telegram
from alerts.summary import case_lines, summarise
from sendwatch.config import Settings, TelegramConfig
from sendwatch.errors import FatalConfigError, SendwatchError
from sendwatch.masking import mask, register_secrets
from storage import outbox
from storage.las import register
from storage.queries import cases, event_facts
from storage.store import Store

log = logging.getLogger(__name__)
PER_CHAT_INTERVAL = 1.0
#: Just under Telegram's 30 messages a second, so no one-second window ever holds 31.
GLOBAL_INTERVAL = 1 / 29.5
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
#: Telegram's limit on a message's text.
MAX_MESSAGE = 4096
#: How much of a user's own words a reply echoes.
MAX_ECHO = 100
#: A failing handler is told to the admin chats at most once per kind of error in this time.
ADMIN_NOTICE_INTERVAL = 3600.0
TOKEN_REJECTED = "Telegram rejected the bot token; check SENDWATCH_TELEGRAM_TOKEN"
#: The kind of the maintainer alarm raised when the bot stops for TOKEN_REJECTED.
TOKEN_ALARM = "token_rejected"


class TokenRejected(FatalConfigError):
    """Telegram answered 401 to the bot token: nothing works until it is changed."""

    def __init__(self) -> None:
        super().__init__(TOKEN_REJECTED)


def _token(config: TelegramConfig) -> str:
    if config.token is None:
        raise SendwatchError("Telegram needs its bot token in SENDWATCH_TELEGRAM_TOKEN")
    token = config.token.get_secret_value()
    register_secrets([token])
    return token


def _describe(exc: BaseException, token: str = "") -> str:
    """An error, fit to log, store or show: a rejected token said plainly, no secret in it."""
    if isinstance(exc, InvalidToken):
        return TOKEN_REJECTED
    return mask(str(exc), [token] if token else [])


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fit_message(text: str, limit: int = MAX_MESSAGE) -> tuple[str, bool]:
    """`text` (Telegram HTML) within `limit` characters, counted as Telegram counts them
    (UTF-16 code units). Returns the text and whether it is still HTML: a text too long
    is cut as plain text, since cutting markup could leave a tag open."""
    if _utf16_length(text) <= limit:
        return text, True
    plain = html.unescape(re.sub(r"<[^>]*>", "", text))
    cut = plain[: limit - 1]
    while _utf16_length(cut) > limit - 1:
        cut = cut[:-1]
    return cut + "…", False


def _echo(text: str) -> str:
    """A user's own words, shortened, escaped for a reply."""
    return html.escape(text if len(text) <= MAX_ECHO else text[: MAX_ECHO - 1] + "…")


def _seconds(retry_after: int | float | dt.timedelta) -> float:
    return (
        retry_after.total_seconds() if isinstance(retry_after, dt.timedelta) else float(retry_after)
    )


class TelegramChannel:
    name = "telegram"

    def __init__(self, config: TelegramConfig) -> None:
        self.config = config
        self.token = _token(config)
        # The pace is kept across batches: a new batch must not burst after the last one.
        self.last_per_chat: dict[str, float] = {}
        self.last_any = 0.0

    def _bot(self) -> Bot:
        return Bot(self.token, base_url=self.config.base_url)

    def send(self, messages: Sequence[Outgoing], done: Done) -> None:
        if messages:
            asyncio.run(self._send_all(messages, done))

    async def _send_all(self, messages: Sequence[Outgoing], done: Done) -> None:
        reported = 0
        try:
            async with self._bot() as bot:
                for outgoing in messages:
                    wait = (
                        max(
                            self.last_per_chat.get(outgoing.address, 0.0) + PER_CHAT_INTERVAL,
                            self.last_any + GLOBAL_INTERVAL,
                        )
                        - time.monotonic()
                    )
                    if wait > 0:
                        await asyncio.sleep(wait)
                    # Spaced start to start: the send's own time counts towards the interval.
                    self.last_any = self.last_per_chat[outgoing.address] = time.monotonic()
                    done(outgoing, await self._send_one(bot, outgoing))
                    reported += 1
        except InvalidToken:  # no message can go until the token is changed
            for outgoing in messages[reported:]:
                done(outgoing, Retry(TOKEN_REJECTED))
        except (NetworkError, TelegramError) as exc:  # could not even start: all wait for later
            for outgoing in messages[reported:]:
                done(outgoing, Retry(f"Telegram unavailable: {_describe(exc, self.token)}"))

    async def _send_one(self, bot: Bot, outgoing: Outgoing) -> Result:
        text = "\n\n".join(render_telegram(summary) for summary in outgoing.summaries)
        try:
            await bot.send_message(
                chat_id=int(outgoing.address),
                text=text,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
            )
        except RetryAfter as exc:
            return Retry(f"429 {_describe(exc, self.token)}", after=_seconds(exc.retry_after))
        except Forbidden as exc:
            return Permanent(f"403 {_describe(exc, self.token)}")
        except BadRequest as exc:
            return Permanent(f"400 {_describe(exc, self.token)}")
        except (NetworkError, TelegramError) as exc:
            return Retry(_describe(exc, self.token))
        return Sent()

    def notify(self, address: str, subject: str, text: str) -> None:
        async def _notify() -> None:
            async with self._bot() as bot:
                await bot.send_message(
                    chat_id=int(address),
                    text=f"<b>{html.escape(subject)}</b>\n{html.escape(text)}",
                    parse_mode=ParseMode.HTML,
                    link_preview_options=NO_PREVIEW,
                )

        try:
            asyncio.run(_notify())
        except InvalidToken:
            raise TokenRejected() from None


# -- the two-way bot -------------------------------------------------------------------------

HELP = (
    "I send an alert the day a council in England is given a SEND improvement notice or "
    "statutory direction, has one lifted, or gets an area SEND inspection report.\n\n"
    "/subscribe &lt;council | region | all&gt; - follow a council (e.g. /subscribe Bexley), "
    "a region (/subscribe London) or everything (/subscribe all)\n"
    "/unsubscribe - stop all alerts\n"
    "/list - what you follow\n"
    "/latest - the last 5 events you would have been sent\n"
    "/status &lt;council&gt; - where the council's case stands (e.g. /status Wirral)\n"
    "/help - this message"
)


class BotCommands:
    """The bot's command handlers, bound to the store and settings."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        #: Kind of error -> when the admin chats were last told of one (time.monotonic()).
        self.admin_told: dict[str, float] = {}

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Greets and explains."""
        await self._reply(update, "Welcome to sendwatch.\n\n" + self._help())

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Lists the commands."""
        await self._reply(update, self._help())

    def _help(self) -> str:
        """The commands, and where the feeds and calendars are (on sendwatch's own address)."""
        feeds = html.escape(f"{self.settings.own_url()}/feeds")
        return f"{HELP}\n\nFeeds and calendars, to follow in a feed reader or a calendar: {feeds}"

    async def subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Follows a council, a region, or everything."""
        query = " ".join(context.args or []).strip()
        if not query:
            await self._reply(update, "Which council or region? For example: /subscribe Bexley")
            return
        chat = self._chat(update)
        current = outbox.subscription(self.store, "telegram", chat)
        active = current is not None and current.state == "active"
        las = list(current.la_codes) if active and current else []
        regions = list(current.regions) if active and current else []
        kinds = list(current.kinds) if active and current else []
        if query.lower() in ("all", "everything", "england"):
            las, regions = [], []
            label = "everything"
        else:
            try:
                regions.append(resolve_region(query))
                label = regions[-1]
            except SendwatchError:
                try:
                    las.append(resolve_la(query))
                except SendwatchError:
                    await self._reply(update, self._suggestion(query))
                    return
                la = register().get(las[-1])
                label = la.name if la else query
            if active and current and not current.la_codes and not current.regions:
                las, regions = las[-1:], regions[-1:]  # from "everything" to just this
        await asyncio.to_thread(
            outbox.subscribe,
            self.store,
            "telegram",
            chat,
            la_codes=las,
            regions=regions,
            kinds=kinds,
        )
        await self._reply(update, f"Subscribed: {html.escape(label)}. /list shows all you follow.")

    def _suggestion(self, query: str) -> str:
        close = register().suggestions(query, limit=3)
        if close:
            names = " or ".join(f"<b>{html.escape(la.name)}</b>" for la in close)
            return f"I don't know {_echo(query)}. Did you mean {names}?"
        return (
            f"I don't know {_echo(query)}. Try a council name, e.g. /subscribe Wirral, or a region."
        )

    async def unsubscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stops all alerts to this chat."""
        done = await asyncio.to_thread(
            outbox.unsubscribe, self.store, "telegram", self._chat(update)
        )
        await self._reply(
            update, "Unsubscribed. No more alerts." if done else "You were not subscribed."
        )

    async def list(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Shows what this chat follows."""
        current = outbox.subscription(self.store, "telegram", self._chat(update))
        if current is None or current.state != "active":
            await self._reply(update, "You follow nothing yet. Try /subscribe Bexley")
            return
        filters = Filters(tuple(current.la_codes), tuple(current.regions), tuple(current.kinds))
        await self._reply(update, f"You follow: {html.escape(filters.describe())}")

    async def latest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The last five events this chat's filters let through, as its alerts would read
        (a council paper says which case it follows); the opt-in kinds only for those who asked."""
        current = outbox.subscription(self.store, "telegram", self._chat(update))
        active = current if current is not None and current.state == "active" else None
        codes = list(active.la_codes) if active else []
        regions = list(active.regions) if active else []
        codes += [la.ons_code for la in register() if la.region in regions]
        candidates = outbox.events(
            self.store, la_codes=codes, kinds=list(active.kinds) if active else [], limit=50
        )
        events = [
            event
            for event in candidates
            if (matches(active, event) if active else event.kind not in OPT_IN_KINDS)
        ][:5]
        if not events:
            await self._reply(update, "Nothing recorded yet for what you follow.")
            return
        facts = event_facts(self.store, events)
        messages: list[str] = []
        for event in events:  # whole messages only, within Telegram's limit
            rendered = render_telegram(summarise(event, facts.get(event.id)))
            if len("\n\n".join([*messages, rendered])) > 4096:
                break
            messages.append(rendered)
        await self._reply(update, "\n\n".join(messages))

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A council's case (/status Bexley), for anyone; without a council, the sources and
        their health, for admin chats only."""
        query = " ".join(context.args or []).strip()
        if query:
            await self._reply(update, await asyncio.to_thread(self._case_reply, query))
            return
        chat_id = update.effective_chat.id if update.effective_chat else 0
        if chat_id not in self.settings.telegram.admin_chat_ids:
            await self._reply(update, "Sorry, /status is for the maintainers.")
            return
        lines = []
        for summary in self.store.source_summaries():
            lines.append(
                f"{html.escape(summary.source)}: {html.escape(summary.last_result or 'never run')},"
                f" {summary.consecutive_failures} failures in a row, {summary.findings} findings"
            )
        for alarm in self.store.open_alarms():
            lines.append(f"ALARM: {html.escape(alarm.message)}")
        await self._reply(update, "\n".join(lines) or "No source has run yet.")

    def _case_reply(self, query: str) -> str:
        """The council's case in the words of its page (`case_lines`), or what to try instead."""
        la = register().lookup(query)
        if la is None:
            return self._suggestion(query)
        state = cases(self.store, [la.ons_code]).get(la.ons_code)
        lines = [f"<b>{html.escape(la.name)}</b>"]
        lines += [
            f"{html.escape(fact.label)}: {html.escape(fact.value)}" for fact in case_lines(state)
        ]
        lines.append(f"More: {html.escape(f'{self.settings.own_url()}/la/{la.slug}')}")
        return "\n".join(lines)

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Logs a handler's failure, and tells the admins: once an hour per kind of error.

        Telegram unreachable while polling (update None) is one line naming Telegram and the
        reason, traceback at DEBUG only; the admins are not told over the same broken network.
        """
        error = context.error
        if update is None and isinstance(error, NetworkError):
            log.warning(
                "telegram bot: cannot reach %s (%s); retrying",
                telegram_host(self.settings.telegram),
                _describe(error),
            )
            log.debug("telegram bot: polling failed", exc_info=error)
            return
        log.error("bot handler failed", exc_info=error)
        kind = type(error).__name__ if error is not None else "unknown"
        now = time.monotonic()
        last = self.admin_told.get(kind)
        if last is not None and now - last < ADMIN_NOTICE_INTERVAL:
            log.info("not telling the admin chats about another %s within the hour", kind)
            return
        self.admin_told[kind] = now
        described = _describe(error, _token(self.settings.telegram)) if error else "unknown"
        message, _ = fit_message(html.escape(f"sendwatch bot error: {kind}: {described}"))
        for chat_id in self.settings.telegram.admin_chat_ids:
            try:
                await context.bot.send_message(chat_id=chat_id, text=message)
            except TelegramError:
                log.warning("could not tell admin chat %s about an error", chat_id)

    @staticmethod
    def _chat(update: Update) -> str:
        assert update.effective_chat is not None
        return str(update.effective_chat.id)

    @staticmethod
    async def _reply(update: Update, text: str) -> None:
        if update.effective_message is not None:
            text, is_html = fit_message(text)
            await update.effective_message.reply_text(
                text,
                parse_mode=ParseMode.HTML if is_html else None,
                link_preview_options=NO_PREVIEW,
            )


def telegram_host(config: TelegramConfig) -> str:
    """Where the bot talks to, without the token that every Bot API URL carries."""
    parts = urlsplit(config.base_url)
    return f"{parts.scheme}://{parts.netloc}"


def run_bot(settings: Settings, store: Store) -> None:
    """Run the two-way bot until SIGINT/SIGTERM: polling, or by webhook when one is configured.

    Telegram unreachable at start-up is one line (SendwatchError) naming it and the reason;
    the daemon starts the bot again a little later.
    """
    try:
        _run_bot(settings, store)
    except NetworkError as exc:
        raise SendwatchError(
            f"telegram bot: cannot reach {telegram_host(settings.telegram)} ({_describe(exc)})"
        ) from None


def _run_bot(settings: Settings, store: Store) -> None:
    config = settings.telegram
    asyncio.run(_check_token(config))
    store.resolve_alarms("telegram", TOKEN_ALARM)  # the token works (again)
    application = build_application(settings, store)
    if not config.webhook_url:
        try:
            application.run_polling()
        except InvalidToken:  # revoked since the check
            raise TokenRejected() from None
        return
    from alerts.signing import secret_key

    # Telegram sends this in a header with every update; others cannot post fake updates.
    secret = hashlib.sha256(b"telegram-webhook:" + secret_key(settings)).hexdigest()
    try:
        application.run_webhook(
            listen=config.webhook_listen,
            port=config.webhook_port,
            url_path=urlsplit(config.webhook_url).path.lstrip("/"),
            webhook_url=config.webhook_url,
            secret_token=secret,
        )
    except InvalidToken:
        raise TokenRejected() from None


async def _check_token(config: TelegramConfig) -> None:
    """Ask Telegram who the bot is: a rejected token is TokenRejected, one line, never a
    traceback quoting it; Telegram unreachable is NetworkError, which `run_bot` words."""
    try:
        async with Bot(_token(config), base_url=config.base_url):
            pass
    except InvalidToken:
        raise TokenRejected() from None
    except NetworkError:
        raise  # unreachable: `run_bot` says so in one line
    except TelegramError as exc:
        log.warning("Telegram did not answer the token check: %s", _describe(exc))


def build_application(settings: Settings, store: Store) -> Application:  # type: ignore[type-arg]
    """The bot, ready for `run_polling()`; no JobQueue: APScheduler is the daemon's one scheduler."""
    config = settings.telegram
    application = (
        Application.builder()
        .token(_token(config))
        .base_url(config.base_url)
        .job_queue(None)
        .build()
    )
    commands = BotCommands(settings, store)
    for name in ("start", "help", "subscribe", "unsubscribe", "list", "latest", "status"):
        application.add_handler(CommandHandler(name, getattr(commands, name)))
    application.add_error_handler(commands.error)
    return application
