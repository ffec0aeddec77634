"""The public web pages: every council's SEND state, its timeline, recent events, and email sign-up.

Server-rendered (Jinja2, autoescaped), no JavaScript needed. Sign-up is double
opt-in: the form (CSRF-protected by a double-submit cookie) creates an unconfirmed
subscription and emails a signed confirmation link; nothing is sent before the
address confirms. Signing up again does not make a second subscription.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from math import ceil
from typing import Any
from urllib.parse import urlencode

import pygal
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from alerts.render import templates
from alerts.signing import unsubscribe_token, verify_token
from alerts.summary import KIND_LABELS, OUTCOME_LABELS, summarise
from sendwatch.config import Settings
from sendwatch.vocab import Kind, Outcome
from storage import outbox
from storage.las import LocalAuthority, register, slugify
from storage.queries import LaState, events_page, la_states, monthly_counts
from storage.store import Store

CSRF_COOKIE = "sw_csrf"
PER_PAGE = 25
EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
STATES = [
    ("", "Any state"),
    ("notice", "Notice or direction in force"),
    *[(str(outcome), OUTCOME_LABELS[outcome].split(" (")[0]) for outcome in Outcome],
    ("none", "No inspection recorded"),
]
COLUMNS = [
    ("name", "Council", ""),
    ("region", "Region", "wide"),
    ("outcome", "Latest area SEND inspection", ""),
    ("notice", "Notice or direction", ""),
    ("latest", "Latest event", "wide"),
]
#: Worst first, so sorting by outcome puts the councils in most trouble on top.
OUTCOME_ORDER = {
    Outcome.SIGNIFICANT_CONCERNS: 0,
    Outcome.WSOA_REQUIRED: 1,
    Outcome.INCONSISTENT: 2,
    Outcome.NO_WSOA: 3,
    Outcome.POSITIVE: 4,
}


@dataclass(frozen=True)
class Row:
    la: LocalAuthority
    state: LaState | None


class Pages:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        key: bytes,
        send_email: Callable[[str, str, str], None] | None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.key = key
        self.send_email = send_email

    # -- helpers --------------------------------------------------------------------------

    def _render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        defaults: dict[str, Any] = {
            "feed_title": "All SEND events",
            "feed_href": "/feeds/all.atom",
            "error": None,
            "email": "",
            "form_action": None,
            "la": None,
            "paragraphs": [],
        }
        context = defaults | context
        html = templates.get_template(f"web/{name}").render(
            csrf=csrf,
            signup=self.send_email is not None,
            outcome_labels=OUTCOME_LABELS,
            kind_labels=KIND_LABELS,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        if CSRF_COOKIE not in request.cookies:
            response.set_cookie(
                CSRF_COOKIE, csrf, httponly=True, samesite="strict", max_age=86400 * 30
            )
        return response

    @staticmethod
    def _csrf_ok(request: Request, form: Any) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        return bool(cookie) and secrets.compare_digest(cookie, str(form.get("csrf", "")))

    def _la(self, key: str) -> LocalAuthority | None:
        las = register()
        return las.get(key) or next((la for la in las if la.slug == key), None)

    # -- pages ----------------------------------------------------------------------------------

    def home(self, request: Request) -> Response:
        params = request.query_params
        q, region, state = (
            params.get("q", "").strip(),
            params.get("region", ""),
            params.get("state", ""),
        )
        sort = (
            params.get("sort", "name") if params.get("sort") in {c[0] for c in COLUMNS} else "name"
        )
        direction = "desc" if params.get("dir") == "desc" else "asc"
        states = la_states(self.store)
        everyone = [Row(la, states.get(la.ons_code)) for la in register()]
        rows = [row for row in everyone if _matches(row, q, region, state)]
        rows.sort(key=_sort_key(sort), reverse=direction == "desc")
        outcome_counts = _outcome_counts(everyone)

        def sort_link(key: str) -> str:
            flip = "desc" if key == sort and direction == "asc" else "asc"
            query = {"q": q, "region": region, "state": state, "sort": key, "dir": flip}
            return "/?" + urlencode({k: v for k, v in query.items() if v}) + "#councils"

        return self._render(
            request,
            "home.html",
            title="SEND in England's councils",
            rows=rows,
            total=len(everyone),
            q=q,
            region=region,
            state=state,
            sort=sort,
            dir=direction,
            regions=[(slugify(name), name) for name in register().regions()],
            states=STATES,
            columns=COLUMNS,
            sort_link=sort_link,
            outcome_counts=outcome_counts,
            notices_in_force=sum(1 for row in everyone if row.state and row.state.notice_in_force),
            chart=self._chart(),
        )

    def _chart(self) -> str:
        today = dt.date.today()
        start = dt.date(today.year - 3, today.month, 1)
        counts = monthly_counts(self.store, start)
        months = []
        year, month = start.year, start.month
        while (year, month) <= (today.year, today.month):
            months.append(f"{year}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        config = pygal.Config(
            js=[], disable_xml_declaration=True, show_legend=True, legend_at_bottom=True
        )
        chart = pygal.StackedBar(
            config, height=320, width=900, x_label_rotation=45, show_minor_x_labels=False
        )
        chart.title = "SEND events per month"
        chart.x_labels = months
        chart.x_labels_major = months[::6]
        for kind in Kind:
            chart.add(KIND_LABELS[kind], [counts.get((m, str(kind)), 0) for m in months])
        svg: str = chart.render(is_unicode=True)
        return svg

    def la_page(self, request: Request) -> Response:
        la = self._la(request.path_params["key"])
        if la is None:
            return self._render(
                request,
                "message.html",
                404,
                title="Council not found",
                paragraphs=["No council by that name."],
                la=None,
            )
        events, _ = events_page(self.store, page=1, per_page=500, la_codes=(la.ons_code,))
        return self._render(
            request,
            "la.html",
            title=la.name,
            la=la,
            state=la_states(self.store, la.ons_code).get(la.ons_code),
            summaries=[summarise(event) for event in events],
            feed_title=f"SEND events: {la.name}",
            feed_href=f"/feeds/la/{la.slug}.atom",
        )

    def recent(self, request: Request) -> Response:
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            page = 1
        events, total = events_page(self.store, page=page, per_page=PER_PAGE)
        return self._render(
            request,
            "recent.html",
            title="Recent events",
            summaries=[summarise(event) for event in events],
            page=page,
            pages=max(1, ceil(total / PER_PAGE)),
        )

    # -- sign-up ---------------------------------------------------------------------------------

    async def subscribe(self, request: Request) -> Response:
        form = await request.form()
        la = self._la(str(form.get("la", ""))) if form.get("la") else None
        email = str(form.get("email", "")).strip()
        if not self._csrf_ok(request, form):
            return self._render(
                request,
                "message.html",
                403,
                title="Please try again",
                paragraphs=["The form expired. Please submit it again."],
                la=la,
                email=email,
            )
        if self.send_email is None:
            return self._render(
                request,
                "message.html",
                503,
                title="Sign-up unavailable",
                paragraphs=["Email sign-up is not available on this server."],
                la=None,
            )
        if not EMAIL.match(email):
            return self._render(
                request,
                "message.html",
                400,
                title="Check your email address",
                paragraphs=[],
                la=la,
                email=email,
                error="Enter an email address like name@example.org",
            )
        existing = outbox.subscription(self.store, "email", email)
        if existing is not None and existing.state == "active":
            if la and existing.la_codes and la.ons_code not in existing.la_codes:
                outbox.subscribe(
                    self.store,
                    "email",
                    email,
                    la_codes=[*existing.la_codes, la.ons_code],
                    regions=existing.regions,
                    kinds=existing.kinds,
                    digest=existing.digest,
                )
            return self._render(
                request,
                "message.html",
                title="You are subscribed",
                paragraphs=[
                    f"{email} already gets sendwatch alerts{' and now follows ' + la.name if la else ''}."
                ],
                la=None,
            )
        la_codes = [la.ons_code] if la else []
        if existing is not None:
            la_codes = (
                sorted(set(existing.la_codes) | set(la_codes))
                if existing.la_codes and la_codes
                else la_codes
            )
        subscription, _ = outbox.subscribe(
            self.store, "email", email, la_codes=la_codes, state="unconfirmed"
        )
        link = f"{self.settings.alerts.public_url.rstrip('/')}/confirm/{unsubscribe_token(self.key, subscription.id, 'confirm')}"
        self.send_email(
            email,
            "[sendwatch] Confirm your email alerts",
            f"Someone (we hope you) asked for sendwatch alerts{' about ' + la.name if la else ''} at this address.\n\n"
            f"Confirm here: {link}\n\nIf it was not you, ignore this email: nothing more will be sent.",
        )
        return self._render(
            request,
            "message.html",
            title="Check your email",
            paragraphs=[
                f"We sent a confirmation link to {email}. Alerts start once you open it and confirm."
            ],
            la=None,
        )

    def confirm_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        if verify_token(self.key, token, "confirm") is None:
            return self._render(
                request,
                "message.html",
                404,
                title="Link not recognised",
                paragraphs=["This confirmation link is not valid."],
                la=None,
            )
        return self._render(
            request,
            "message.html",
            title="Confirm your email alerts",
            paragraphs=["One last step."],
            form_action=f"/confirm/{token}",
            button="Confirm my subscription",
            la=None,
        )

    async def confirm(self, request: Request) -> Response:
        form = await request.form()
        subscription_id = verify_token(self.key, request.path_params["token"], "confirm")
        if subscription_id is None or not self._csrf_ok(request, form):
            return self._render(
                request,
                "message.html",
                400,
                title="Link not recognised",
                paragraphs=["Open the link from your email again."],
                la=None,
            )
        subscription = outbox.confirm(self.store, subscription_id)
        if subscription is None:
            return self._render(
                request, "message.html", 404, title="Subscription not found", paragraphs=[], la=None
            )
        return self._render(
            request,
            "message.html",
            title="Subscription confirmed",
            paragraphs=[
                f"{subscription.address} will get sendwatch alerts from now on. Every email has a link to stop them."
            ],
            la=None,
        )


def _outcome_counts(rows: list[Row]) -> list[tuple[str, str, int]]:
    """(outcome, label, number of councils whose latest inspection had it), for the counts."""
    counts = {str(outcome): 0 for outcome in Outcome}
    for row in rows:
        if row.state and row.state.inspection_outcome in counts:
            counts[row.state.inspection_outcome] += 1
    return [
        (outcome, OUTCOME_LABELS[outcome].split(" (")[0], count)
        for outcome, count in counts.items()
    ]


def _matches(row: Row, q: str, region: str, state: str) -> bool:
    if q and slugify(q) not in row.la.slug and q.upper() != row.la.ons_code:
        return False
    if region and row.la.region_slug != region:
        return False
    if state == "notice":
        return bool(row.state and row.state.notice_in_force)
    if state == "none":
        return not (row.state and row.state.inspection_outcome)
    if state:
        return bool(row.state and row.state.inspection_outcome == state)
    return True


def _severity(state: LaState | None) -> int:
    if state is None or state.inspection_outcome is None:
        return len(OUTCOME_ORDER)
    return OUTCOME_ORDER.get(Outcome(state.inspection_outcome), len(OUTCOME_ORDER))


def _sort_key(sort: str) -> Callable[[Row], Any]:
    far = dt.date.min
    keys: dict[str, Callable[[Row], Any]] = {
        "name": lambda r: r.la.name,
        "region": lambda r: (r.la.region, r.la.name),
        "outcome": lambda r: (_severity(r.state), r.la.name),
        "notice": lambda r: (0 if r.state and r.state.notice_in_force else 1, r.la.name),
        "latest": lambda r: r.state.latest_event_on if r.state and r.state.latest_event_on else far,
    }
    return keys[sort]
