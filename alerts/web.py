"""`sendwatch serve`: the feeds and the unsubscribe page over HTTP (a small Starlette ASGI app).

Feeds answer with ETag and Last-Modified, and 304 to a conditional request, so
feed readers polling every few minutes cost next to nothing. Every link the app gives
out is on sendwatch's own address (`Settings.own_url`, from the address it listens on
when `[alerts] public_url` is not set), never on the Host a request names: a body is the
same whoever asks, and safe to cache. The unsubscribe link (signed, see `alerts.signing`)
shows a confirmation page on GET and unsubscribes on POST, which is also RFC 8058's
one-click unsubscribe.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
from collections.abc import Callable
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.calendar import ALL as ALL_COUNCILS
from alerts.calendar import CONTENT_TYPE as CALENDAR_TYPE
from alerts.calendar import CalendarSpec, render_calendar
from alerts.calendar import spec_for as calendar_for
from alerts.channels import channel_problems
from alerts.export import (
    MAX_ID,
    MAX_LIMIT,
    BadParameter,
    EventFilter,
    council_records,
    newest_events,
    records_of,
    whole_number,
)
from alerts.feeds import ALL, FORMATS, FeedSpec, render_feed, spec_for
from alerts.pages import SEND_TIMEOUT, Pages
from alerts.signing import secret_key, verify_token
from sendwatch.config import Settings
from storage import outbox
from storage.store import Store

#: On every response. The pages need no script at all; their CSS is inline (a <style> element,
#: and pygal's chart is inline SVG with its own <style>), and images are none or data: URIs.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # Confirmation and unsubscribe links carry tokens: never pass them on to a source's site.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CONTENT_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body style='font-family:Arial,sans-serif;max-width:40em;margin:2em auto'>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (those the app answers itself, errors too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SameOrigin:
    """A form posted from another site is refused (403): where a browser says which site a
    POST comes from (`Origin`), it must be this one, as sendwatch's own address names it or as
    the request itself was addressed. (A mail provider's one-click unsubscribe sends none.)"""

    def __init__(self, app: ASGIApp, own: str) -> None:
        self.app = app
        self.own = _origin(own)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = dict(scope.get("headers", []))
            sent = headers.get(b"origin", b"").decode("latin-1").strip().lower()
            host = headers.get(b"host", b"").decode("latin-1").strip().lower()
            addressed = f"{scope.get('scheme', 'http')}://{host}"
            # "null" is what a browser sends for our own form under `Referrer-Policy:
            # no-referrer` (as these pages are served): no origin to compare, and the form's
            # CSRF token, bound to the session, still has to match.
            if sent and sent != "null" and sent not in (self.own, addressed):
                response = PlainTextResponse("A form from another site is not accepted.", 403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _origin(url: str) -> str:
    """ "https://sendwatch.example.org" of "https://sendwatch.example.org/path"."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class _App(Starlette):
    #: sendwatch's own address (`Settings.own_url`), set by `create_app`.
    own = ""

    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's own error middleware, so its 500 page gets the headers too.
        return SecurityHeaders(SameOrigin(super().build_middleware_stack(), self.own))


def create_app(
    settings: Settings, store: Store, listening: tuple[str, int] | None = None
) -> Starlette:
    """The web app; `listening` is the host and port it is served on, when known: sendwatch's
    own address when `[alerts] public_url` is not set (`Settings.own_url`)."""
    key = secret_key(settings)
    base = settings.own_url(listening)
    pages = Pages(settings, store, key, _email_sender(settings), base=base)

    def cached(
        request: Request, body: bytes, media_type: str, extra: dict[str, str] | None = None
    ) -> Response:
        """A response with ETag and Last-Modified, or 304 when the client has it already."""
        changed = outbox.last_change(store)
        etag = '"' + hashlib.sha256(media_type.encode() + body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=60", **(extra or {})}
        if changed is not None:
            headers["Last-Modified"] = format_datetime(changed.replace(microsecond=0), usegmt=True)
        if _not_modified(request, etag, changed):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)

    def feed_response(request: Request, spec: FeedSpec | None, fmt: str) -> Response:
        if spec is None or fmt not in FORMATS:
            return PlainTextResponse("No such feed.", status_code=404)
        return cached(request, render_feed(settings, store, spec, fmt, base), CONTENT_TYPES[fmt])

    def api_events(request: Request) -> Response:
        params = request.query_params
        try:
            where = EventFilter.parse(params.get("since"), params.get("la"), params.get("kind"))
            limit = _limit(params.get("limit"))
            before = _cursor(params.get("cursor"))
        except BadParameter as exc:
            return JSONResponse({"error": str(exc), "parameter": exc.parameter}, status_code=400)
        events = newest_events(store, where, before=before, limit=limit + 1)
        page = events[:limit]
        more = len(events) > limit
        body = {
            "events": records_of(store, [event for event, _ in page]),
            "next_cursor": _encode_cursor(page[-1][1], page[-1][0].id) if more and page else None,
        }
        return cached(
            request, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"
        )

    def api_reconciliation(request: Request) -> Response:
        from storage.reconcile import reconcile

        body = reconcile(store).to_json()
        return cached(
            request, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"
        )

    def api_las(request: Request) -> Response:
        body = council_records(store)
        return cached(
            request, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"
        )

    def all_feed(request: Request) -> Response:
        return feed_response(request, ALL, request.path_params["fmt"])

    def section_feed(request: Request) -> Response:
        params = request.path_params
        return feed_response(request, spec_for(params["section"], params["key"]), params["fmt"])

    def calendar_response(request: Request, spec: CalendarSpec | None) -> Response:
        if spec is None:
            return PlainTextResponse("No such calendar.", status_code=404)
        body = render_calendar(settings, store, spec, base)
        return cached(request, body, CALENDAR_TYPE, _download_as(spec.filename))

    def all_calendar(request: Request) -> Response:
        return calendar_response(request, ALL_COUNCILS)

    def section_calendar(request: Request) -> Response:
        params = request.path_params
        return calendar_response(request, calendar_for(params["section"], params["key"][:100]))

    def unsubscribe_page(request: Request) -> Response:
        token = request.path_params["token"]
        if verify_token(key, token) is None:
            return _page("Link not recognised", "<p>This unsubscribe link is not valid.</p>", 404)
        return _page(
            "Unsubscribe from sendwatch",
            f"<form method='post' action='/unsubscribe/{html.escape(token, quote=True)}'>"
            "<p>Stop all sendwatch alerts to this address?</p>"
            "<button type='submit'>Unsubscribe</button></form>",
        )

    def unsubscribe(request: Request) -> Response:
        subscription_id = verify_token(key, request.path_params["token"])
        if subscription_id is None:
            return _page("Link not recognised", "<p>This unsubscribe link is not valid.</p>", 404)
        outbox.unsubscribe_id(store, subscription_id)
        return _page("Unsubscribed", "<p>You will receive no more sendwatch alerts.</p>")

    async def health(request: Request) -> Response:
        # On the event loop itself: answers even when every worker thread is busy.
        return PlainTextResponse("ok")

    app = _App(
        routes=[
            Route("/", pages.home),
            Route("/la/{key}", pages.la_page),
            Route("/recent", pages.recent),
            Route("/data-quality", pages.data_quality),
            Route("/feeds", pages.feeds),
            Route("/subscribe", pages.subscribe, methods=["POST"]),
            Route("/confirm/{token}", pages.confirm_page, methods=["GET"]),
            Route("/confirm/{token}", pages.confirm, methods=["POST"]),
            Route("/healthz", health),
            Route("/api/events", api_events),
            Route("/api/las", api_las),
            Route("/api/reconciliation", api_reconciliation),
            Route("/feeds/all.{fmt}", all_feed),
            Route("/feeds/{section}/{key}.{fmt}", section_feed),
            Route("/calendar/all.ics", all_calendar),
            Route("/calendar/{section}/{key}.ics", section_calendar),
            Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
            Route("/unsubscribe/{token}", unsubscribe, methods=["POST"]),
        ]
    )
    app.own = base
    return app


def _limit(raw: str | None) -> int:
    if raw is None:
        return 100
    return whole_number("limit", raw, 1, MAX_LIMIT)


def _encode_cursor(day: dt.date, event_id: int) -> str:
    """The last event shown, by what the API orders on: (day happened, id)."""
    text = f"before:{day.isoformat()}:{event_id}"
    return base64.urlsafe_b64encode(text.encode()).decode("ascii").rstrip("=")


def _cursor(raw: str | None) -> tuple[dt.date, int] | None:
    """The opaque cursor of the next page: events ordered after the last one shown."""
    if not raw:
        return None
    try:
        text = base64.urlsafe_b64decode(raw[:100] + "=" * (-len(raw[:100]) % 4)).decode("ascii")
        prefix, _, rest = text.partition(":")
        day, _, number = rest.partition(":")
        if prefix == "before" and len(raw) <= 100 and len(day) == 10:
            return dt.date.fromisoformat(day), whole_number("cursor", number, 1, MAX_ID)
    except (ValueError, UnicodeDecodeError):
        pass
    raise BadParameter("cursor", "not a cursor this API gave out")


def _email_sender(settings: Settings) -> Callable[[str, str, str], None] | None:
    """Sends the sign-up confirmation; None when no SMTP server is configured."""
    if "email" in channel_problems(settings):
        return None
    from alerts.email import SmtpChannel

    channel = SmtpChannel(settings.smtp)
    # Each socket operation times out too, so an abandoned send's thread ends soon after.
    return lambda to, subject, text: channel.notify(to, subject, text, timeout=SEND_TIMEOUT)


def _download_as(filename: str) -> dict[str, str]:
    """A calendar opened in a browser is saved under its own name ("bexley.ics"), which a
    calendar app then shows; apps subscribed to the address ignore it."""
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _not_modified(request: Request, etag: str, changed: dt.datetime | None) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return (
            etag in [tag.strip() for tag in if_none_match.split(",")]
            or if_none_match.strip() == "*"
        )
    since = request.headers.get("if-modified-since")
    if since and changed is not None:
        try:
            return parsedate_to_datetime(since) >= changed.replace(microsecond=0)
        except (TypeError, ValueError):
            return False
    return False
