"""`sendwatch serve`: the feeds and the unsubscribe page over HTTP (a small Starlette ASGI app).

Feeds answer with ETag and Last-Modified, and 304 to a conditional request, so
feed readers polling every few minutes cost next to nothing. The unsubscribe
link (signed, see `alerts.signing`) shows a confirmation page on GET and
unsubscribes on POST, which is also RFC 8058's one-click unsubscribe.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
from collections.abc import Callable
from email.utils import format_datetime, parsedate_to_datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from alerts.feeds import ALL, FORMATS, FeedSpec, render_feed, spec_for
from alerts.pages import Pages
from alerts.signing import secret_key, verify_token
from sendwatch.config import Settings
from storage import outbox
from storage.store import Store

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


def create_app(settings: Settings, store: Store) -> Starlette:
    key = secret_key(settings)
    pages = Pages(settings, store, key, _email_sender(settings))

    def feed_response(request: Request, spec: FeedSpec | None, fmt: str) -> Response:
        if spec is None or fmt not in FORMATS:
            return PlainTextResponse("No such feed.", status_code=404)
        changed = outbox.last_change(store)
        body = render_feed(settings, store, spec, fmt)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
        if changed is not None:
            headers["Last-Modified"] = format_datetime(changed.replace(microsecond=0), usegmt=True)
        if _not_modified(request, etag, changed):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=CONTENT_TYPES[fmt], headers=headers)

    def all_feed(request: Request) -> Response:
        return feed_response(request, ALL, request.path_params["fmt"])

    def section_feed(request: Request) -> Response:
        params = request.path_params
        return feed_response(request, spec_for(params["section"], params["key"]), params["fmt"])

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

    def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/", pages.home),
            Route("/la/{key}", pages.la_page),
            Route("/recent", pages.recent),
            Route("/subscribe", pages.subscribe, methods=["POST"]),
            Route("/confirm/{token}", pages.confirm_page, methods=["GET"]),
            Route("/confirm/{token}", pages.confirm, methods=["POST"]),
            Route("/healthz", health),
            Route("/feeds/all.{fmt}", all_feed),
            Route("/feeds/{section}/{key}.{fmt}", section_feed),
            Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
            Route("/unsubscribe/{token}", unsubscribe, methods=["POST"]),
        ]
    )


def _email_sender(settings: Settings) -> Callable[[str, str, str], None] | None:
    """Sends the sign-up confirmation; None when no SMTP server is configured."""
    if not settings.smtp.host or not settings.smtp.from_address:
        return None
    from alerts.email import SmtpChannel

    channel = SmtpChannel(settings.smtp)
    return lambda to, subject, text: channel.notify(to, subject, text)


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
