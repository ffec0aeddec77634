"""The public web pages: every council's SEND state, its timeline, recent events, every feed and
calendar (`/feeds`), and email sign-up.

Server-rendered (Jinja2, autoescaped), no JavaScript needed. Sign-up is double
opt-in, and so is every change asked for on the web: the form (its CSRF token signed
and bound to the session cookie) only emails a signed confirmation link that carries
the request (address, council, time); nothing is stored or changed until the link is
opened and confirmed, and the reply is the same whether or not the address is known.
Confirmation emails are limited per address and per client (in memory, per web
process), and are sent off the event loop with a time limit: an SMTP outage is a
"try again later" page that leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import smtplib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import ceil
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from alerts.calendar import ALL as EVERY_COUNCIL
from alerts.calendar import CalendarSpec, calendar_url
from alerts.calendar import spec_for as calendar_for
from alerts.channels import channel_problems
from alerts.chart import Chart, events_chart
from alerts.email import BadAddress, parse_address
from alerts.export import BadParameter, whole_number
from alerts.feeds import ALL as EVERYTHING
from alerts.feeds import FeedSpec, feed_url
from alerts.feeds import spec_for as feed_for
from alerts.render import templates
from alerts.signing import csrf_ok, csrf_token, sign_text, signed_text, verify_token
from alerts.summary import (
    KIND_LABELS,
    OUTCOME_LABELS,
    Summary,
    case_lines,
    follow_up_words,
    format_date,
    kind_label,
    summarise,
)
from sendwatch.case import (
    INSPECTION_KINDS,
    CaseState,
    EventFacts,
    Thread,
    add_months,
    event_day,
)
from sendwatch.config import Settings
from sendwatch.vocab import INSPECTION_OUTCOMES, Kind, Outcome
from storage import outbox
from storage.las import LocalAuthority, register, slugify
from storage.models import Event, Subscription
from storage.queries import cases, event_facts, events_page, ombudsman_records
from storage.store import Store

log = logging.getLogger(__name__)
SESSION_COOKIE = "sw_session"
PER_PAGE = 25
MAX_PAGE = 100_000
#: The longest council search accepted (the longest council name is under 60 characters).
MAX_QUERY = 200
#: Confirmation emails: at most one per address per 10 minutes, 20 per client per hour.
PER_ADDRESS = (1, 600.0)
PER_CLIENT = (20, 3600.0)
#: The whole of sending one confirmation email (connect, greet, send), off the event loop.
SEND_TIMEOUT = 10.0
#: Confirmation emails being sent at once; more wait (within SEND_TIMEOUT) for a free slot.
SENDING_AT_ONCE = 4
STATES = [
    ("", "Any state"),
    ("notice", "Notice or direction in force"),
    *[
        (str(outcome), OUTCOME_LABELS[outcome].split(" (")[0])
        for outcome in (*INSPECTION_OUTCOMES, Outcome.UNRECOGNISED)
    ],
    ("none", "No inspection recorded"),
]
#: The home page's `due` filter: what is overdue, or due soon.
DUES = [
    ("", "Any time"),
    ("overdue", "Inspection overdue"),
    ("year", "Inspection due within a year"),
    ("deadline_passed", "Notice past its deadline"),
]
COLUMNS = [
    ("name", "Council", ""),
    ("region", "Region", "wide"),
    ("outcome", "Latest area SEND inspection", ""),
    ("notice", "Notice or direction", ""),
    ("due", "Next inspection due", ""),
    ("latest", "Latest event", "wide"),
]
#: Worst first, so sorting by outcome puts the councils in most trouble on top.
OUTCOME_ORDER: dict[str, int] = {
    Outcome.SIGNIFICANT_CONCERNS: 0,
    Outcome.WSOA_REQUIRED: 1,
    Outcome.INCONSISTENT: 2,
    Outcome.NO_WSOA: 3,
    Outcome.POSITIVE: 4,
}


@dataclass(frozen=True)
class Row:
    la: LocalAuthority
    state: CaseState | None


@dataclass
class RateLimit:
    """At most `count` hits per key within `seconds` (a sliding window), in this process's memory."""

    count: int
    seconds: float
    hits: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, key: str, now: float) -> bool:
        """Records a hit and returns True, or returns False (recording nothing) if over the limit."""
        if len(self.hits) > 10_000:  # forget keys whose window has passed, so memory stays bounded
            for stale in [k for k, q in self.hits.items() if not q or q[-1] <= now - self.seconds]:
                del self.hits[stale]
        window = self.hits.setdefault(key, deque())
        while window and window[0] <= now - self.seconds:
            window.popleft()
        if len(window) >= self.count:
            return False
        window.append(now)
        return True

    def undo(self, key: str) -> None:
        """Takes back the last hit (the email it allowed was not sent after all)."""
        window = self.hits.get(key)
        if window:
            window.pop()


def mailbox_key(address: str) -> str:
    """The mailbox an address reaches, as the sign-up limits count it: case folded and any
    `+tag` dropped, so `Parent+1@Example.org` and `parent+2@example.org` are one mailbox."""
    local, _, domain = address.rpartition("@")
    return f"{local.split('+', 1)[0].lower()}@{domain.lower()}"


@dataclass(frozen=True)
class SignUp:
    """What a confirmation link asks for: this address, about this council (None: every council)."""

    address: str
    la_code: str | None
    issued: float


class Pages:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        key: bytes,
        send_email: Callable[[str, str, str], None] | None,
        today: Callable[[], dt.date] = dt.date.today,
        base: str | None = None,
    ) -> None:
        self.settings = settings
        #: sendwatch's own address (`Settings.own_url`): the base of the addresses the pages
        #: give to paste elsewhere (feeds, calendars) and of confirmation links.
        self.base = base or settings.own_url()
        #: What day it is: what is overdue depends on it (tests give a fixed day).
        self.today = today
        self.store = store
        self.key = key
        self.send_email = send_email
        self.per_address = RateLimit(*PER_ADDRESS)
        self.per_client = RateLimit(*PER_CLIENT)
        self._sending: anyio.CapacityLimiter | None = None

    # -- helpers --------------------------------------------------------------------------

    def _render(
        self,
        request: Request,
        name: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        session = _session(request)
        new_session = session is None
        if session is None:
            session = secrets.token_urlsafe(24)
        defaults: dict[str, Any] = {
            "feed_title": "All SEND events",
            "feed_href": "/feeds/all.atom",
            "error": None,
            "email": "",
            "form_action": None,
            "la": None,
            "paragraphs": [],
            "suggestions": [],
        }
        context = defaults | context
        la = context["la"]
        html = templates.get_template(f"web/{name}").render(
            csrf=csrf_token(self.key, session),
            max_query=MAX_QUERY,
            signup=self.send_email is not None,
            signup_problem=channel_problems(self.settings).get("email", ""),
            follow=council_follow(la, self.base) if la else everything_follow(self.base),
            outcome_labels=OUTCOME_LABELS,
            kind_labels=KIND_LABELS,
            follow_up_words=follow_up_words,
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=headers)
        if new_session:
            # Lax, not Strict: a confirmation link opened from a webmail page keeps the session.
            response.set_cookie(
                SESSION_COOKIE,
                session,
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
                max_age=86400 * 30,
            )
        return response

    def _csrf_ok(self, request: Request, form: Any) -> bool:
        """The form's token was made by this server for this browser's session cookie."""
        session = _session(request)
        return session is not None and csrf_ok(self.key, session, str(form.get("csrf", "")))

    def _message(
        self, request: Request, status: int, title: str, *paragraphs: str, **context: Any
    ) -> Response:
        return self._render(
            request, "message.html", status, title=title, paragraphs=list(paragraphs), **context
        )

    def _la(self, key: str) -> LocalAuthority | None:
        return register().lookup(key)

    # -- pages ----------------------------------------------------------------------------------

    def home(self, request: Request) -> Response:
        params = request.query_params
        q, region, state = (
            params.get("q", "").strip(),
            params.get("region", ""),
            params.get("state", ""),
        )
        if len(q) > MAX_QUERY:
            return self._message(
                request,
                400,
                "Search too long",
                f"q: a council's name or ONS code, at most {MAX_QUERY} characters.",
            )
        sort = (
            params.get("sort", "name") if params.get("sort") in {c[0] for c in COLUMNS} else "name"
        )
        direction = "desc" if params.get("dir") == "desc" else "asc"
        due = params.get("due", "") if params.get("due") in {d[0] for d in DUES} else ""
        states = cases(self.store, today=self.today())
        everyone = [Row(la, states.get(la.ons_code)) for la in register()]
        query = Query(slugify(q), q.upper()) if q else None  # computed once, not once per council
        rows = [
            row for row in everyone if _matches(row, query, region, state) and _is_due(row, due)
        ]
        rows.sort(key=_sort_key(sort), reverse=direction == "desc")
        outcome_counts = _outcome_counts(everyone)

        def sort_link(key: str) -> str:
            flip = "desc" if key == sort and direction == "asc" else "asc"
            query = {
                "q": q,
                "region": region,
                "state": state,
                "due": due,
                "sort": key,
                "dir": flip,
            }
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
            due=due,
            dues=DUES,
            overdue_count=sum(1 for row in everyone if row.state and row.state.overdue),
            columns=COLUMNS,
            sort_link=sort_link,
            outcome_counts=outcome_counts,
            notices_in_force=sum(1 for row in everyone if row.state and row.state.notice_in_force),
            chart=self._chart(),
        )

    def _chart(self) -> Chart:
        """Events per month (SVG) and the same numbers as a table: see alerts.chart."""
        return events_chart(self.store)

    def la_page(self, request: Request) -> Response:
        key = request.path_params["key"]
        found = find_la(key[:MAX_QUERY])
        if isinstance(found, LocalAuthority) and not _canonical(key, found):
            return RedirectResponse(f"/la/{found.slug}", status_code=308)
        if not isinstance(found, LocalAuthority):
            return self._render(
                request,
                "message.html",
                404,
                title="Council not found",
                paragraphs=[f"No single council matches “{key[:100]}”."],
                suggestions=found,
                la=None,
            )
        la = found
        events, _ = events_page(self.store, page=1, per_page=500, la_codes=(la.ons_code,))
        state = cases(self.store, [la.ons_code], today=self.today()).get(la.ons_code)
        return self._render(
            request,
            "la.html",
            title=la.name,
            la=la,
            case_facts=case_lines(state),
            cases=cases_of(events, state),
            feed_title=f"SEND events: {la.name}",
            feed_href=f"/feeds/la/{la.slug}.atom",
            ombudsman=ombudsman_records(self.store, [la.ons_code], today=self.today()).get(
                la.ons_code
            ),
            format_date=format_date,
        )

    def _summaries(self, events: Sequence[Event]) -> list[Summary]:
        """Each event's summary, with what its council's case says of it (a council paper's
        saying which case it follows)."""
        facts = event_facts(self.store, events, today=self.today())
        return [summarise(event, facts[event.id]) for event in events]

    def recent(self, request: Request) -> Response:
        try:
            page = whole_number("page", request.query_params.get("page", "1"), 1, MAX_PAGE)
        except BadParameter as exc:
            return self._message(request, 400, "Page not found", str(exc))
        events, total = events_page(self.store, page=page, per_page=PER_PAGE)
        return self._render(
            request,
            "recent.html",
            title="Recent events",
            summaries=self._summaries(events),
            page=page,
            pages=max(1, ceil(total / PER_PAGE)),
        )

    def data_quality(self, request: Request) -> Response:
        """Where Ofsted's statistics and the reports crawled disagree (see storage.reconcile)."""
        from storage.reconcile import WINDOW, reconcile

        return self._render(
            request,
            "data_quality.html",
            title="Data quality",
            result=reconcile(self.store),
            window_days=WINDOW.days,
            format_date=format_date,
        )

    def feeds(self, request: Request) -> Response:
        """Every feed and calendar, each with its address and what to do with it."""
        return self._render(
            request, "feeds.html", title="Feeds and calendars", listing=feed_listing(self.base)
        )

    # -- sign-up ---------------------------------------------------------------------------------

    async def subscribe(self, request: Request) -> Response:
        """Emails a confirmation link for what the form asks; stores and changes nothing."""
        form = await request.form()
        la = self._la(str(form.get("la", ""))[:100]) if form.get("la") else None
        email = str(form.get("email", "")).strip()[:320]
        if not self._csrf_ok(request, form):
            return self._message(
                request,
                403,
                "Please try again",
                "The form expired. Please submit it again.",
                la=la,
                email=email,
            )
        if self.send_email is None:
            return self._message(request, 503, "Sign-up unavailable", la=la)
        try:
            address = parse_address(email)
        except BadAddress:
            return self._message(
                request,
                400,
                "Check your email address",
                la=la,
                email=email,
                error="Enter an email address like name@example.org",
            )
        client = request.client.host if request.client else "unknown"
        now = time.monotonic()
        mailbox = mailbox_key(address)
        # The mailbox first: a refused address costs the client nothing of its own allowance.
        allowed = self.per_address.allow(mailbox, now)
        if allowed and not self.per_client.allow(client, now):
            self.per_address.undo(mailbox)
            allowed = False
        if not allowed:
            # One answer whichever limit it is: a stranger learns nothing of who asked before.
            return self._message(
                request,
                429,
                "Too many sign-ups",
                "Too many confirmation emails have been asked for. Please try again later.",
                headers={"Retry-After": str(int(PER_CLIENT[1]))},
            )
        request_text = json.dumps(
            {"a": address, "la": la.ons_code if la else None, "t": round(time.time(), 3)},
            separators=(",", ":"),
        )
        link = f"{self.base}/confirm/{sign_text(self.key, 'signup', request_text)}"
        about = f" about {la.name}" if la else ""
        text = (
            f"Someone (we hope you) asked for sendwatch alerts{about} at this address.\n\n"
            f"Confirm here: {link}\n\n"
            f"The link works once, for {self.settings.web.confirm_days} days. If it was not you,"
            " ignore this email: "
            "nothing more will be sent and nothing changes."
        )
        try:
            await self._send(address, "[sendwatch] Confirm your email alerts", text)
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            self.per_address.undo(mailbox)
            log.warning("sign-up: the confirmation email could not be sent: %s", exc or "timed out")
            return self._message(
                request,
                503,
                "Please try again later",
                "We could not send the confirmation email just now. Nothing has been saved.",
                "Please try again later.",
                la=la,
                email=email,
                headers={"Retry-After": "300"},
            )
        # The same answer whether or not the address is known, subscribed, or following `la`.
        return self._message(
            request,
            200,
            "Check your email",
            f"We sent a confirmation link to {address}. Nothing changes until you open it and confirm.",
        )

    async def _send(self, address: str, subject: str, text: str) -> None:
        """Sends off the event loop, within SEND_TIMEOUT in all (a hung server is abandoned)."""
        assert self.send_email is not None
        send = self.send_email
        if self._sending is None:
            self._sending = anyio.CapacityLimiter(SENDING_AT_ONCE)
        with anyio.fail_after(SEND_TIMEOUT):
            await anyio.to_thread.run_sync(
                send, address, subject, text, abandon_on_cancel=True, limiter=self._sending
            )

    def _signup(self, token: str) -> SignUp | None:
        """The request a confirmation link carries, if it is genuine and not too old."""
        text = signed_text(self.key, "signup", token)
        if text is None:
            return None
        try:
            data = json.loads(text)
            address, la_code, issued = data["a"], data["la"], float(data["t"])
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(address, str) or not (la_code is None or isinstance(la_code, str)):
            return None
        if not -300 <= time.time() - issued <= self.settings.web.confirm_days * 86400:
            return None
        return SignUp(address, la_code, issued)

    def _not_recognised(self, request: Request, status: int = 404) -> Response:
        return self._message(
            request,
            status,
            "Link not recognised",
            "This confirmation link is not valid, or is too old"
            f" (links work for {self.settings.web.confirm_days} days)."
            " Please sign up again from the council's page.",
        )

    def confirm_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        signup = self._signup(token)
        if signup is not None:
            la = register().get(signup.la_code) if signup.la_code else None
            what = f"Alerts about {la.name}" if la else "Alerts about every council"
            paragraphs = [f"{what}, by email to {signup.address}."]
        elif verify_token(self.key, token, "confirm") is not None:  # an older link, by id
            paragraphs = ["One last step."]
        else:
            return self._not_recognised(request)
        return self._render(
            request,
            "message.html",
            title="Confirm your email alerts",
            paragraphs=paragraphs,
            form_action=f"/confirm/{token}",
            button="Confirm my subscription",
        )

    async def confirm(self, request: Request) -> Response:
        form = await request.form()
        token = request.path_params["token"]
        signup = self._signup(token)
        legacy = verify_token(self.key, token, "confirm") if signup is None else None
        if signup is None and legacy is None:
            return self._not_recognised(request)
        if not self._csrf_ok(request, form):
            return self._message(
                request,
                400,
                "Please try again",
                "Open the link from your email again.",
            )
        subscription: Subscription | None
        if signup is not None:
            if await run_in_threadpool(self._stale, signup):
                return self._message(
                    request,
                    409,
                    "This link has been used, or overtaken",
                    "The subscription changed after this link was sent (it was confirmed, "
                    "changed or stopped since), so the link changes nothing. To have these "
                    "alerts, sign up again from the council's page.",
                )
            subscription = await run_in_threadpool(self._apply, signup)
        else:
            assert legacy is not None
            subscription = await run_in_threadpool(outbox.confirm, self.store, legacy)
        if subscription is None:
            return self._message(request, 404, "Subscription not found")
        return self._message(
            request,
            200,
            "Subscription confirmed",
            f"{subscription.address} will get sendwatch alerts from now on. "
            "Every email has a link to stop them.",
        )

    def _stale(self, signup: SignUp) -> bool:
        """Whether the address's subscription changed after the link was made: a link works
        once, and an old one never undoes a later change (an unsubscribe, above all)."""
        existing = outbox.subscription(self.store, "email", signup.address)
        changed = existing.changed_at if existing is not None else None
        return changed is not None and changed.timestamp() > signup.issued

    def _apply(self, signup: SignUp) -> Subscription:
        """Makes the confirmed request true: a new subscription, or a council added to one."""
        existing = outbox.subscription(self.store, "email", signup.address)
        if existing is not None and existing.state == "active":
            if not signup.la_code or not existing.la_codes or signup.la_code in existing.la_codes:
                return existing  # it already gets these alerts (or everything)
            subscription, _ = outbox.subscribe(
                self.store,
                "email",
                signup.address,
                la_codes=[*existing.la_codes, signup.la_code],
                regions=existing.regions,
                kinds=existing.kinds,
                digest=existing.digest,
            )
            return subscription
        la_codes = [signup.la_code] if signup.la_code else []
        if existing is not None and existing.state != "unsubscribed" and existing.la_codes:
            # Unconfirmed (from before) or paused: keep what it followed, and add this one.
            la_codes = sorted({*existing.la_codes, *la_codes}) if la_codes else []
        subscription, _ = outbox.subscribe(
            self.store, "email", signup.address, la_codes=la_codes, state="active"
        )
        return subscription


@dataclass(frozen=True)
class Follow:
    """Something to follow without visiting the site: its feeds' and calendar's addresses (on
    sendwatch's own address, to paste into a feed reader or a calendar app)."""

    label: str
    atom: str
    rss: str
    calendar: str | None = None
    #: A council's own page.
    page: str | None = None


@dataclass(frozen=True)
class RegionListing:
    """A region on the /feeds page: its own feeds and calendar, and each of its councils'."""

    follow: Follow
    slug: str
    councils: list[Follow]


@dataclass(frozen=True)
class FeedListing:
    """The /feeds page: every feed and calendar, the councils' grouped by region."""

    everything: Follow
    regions: list[RegionListing]
    kinds: list[Follow]


def _follow(
    base: str, label: str, feed: FeedSpec, calendar: CalendarSpec | None, page: str | None = None
) -> Follow:
    return Follow(
        label,
        feed_url(base, feed, "atom"),
        feed_url(base, feed, "rss"),
        calendar_url(base, calendar) if calendar else None,
        page,
    )


def everything_follow(base: str) -> Follow:
    """The feed and calendar of every council."""
    return _follow(base, "Every council in England", EVERYTHING, EVERY_COUNCIL)


def council_follow(la: LocalAuthority, base: str) -> Follow:
    """A council's feed and calendar, as `sendwatch.feeds` and `alerts.calendar` serve them."""
    feed, calendar = feed_for("la", la.slug), calendar_for("la", la.slug)
    assert feed is not None and calendar is not None  # the register's own council
    return _follow(base, la.name, feed, calendar, f"/la/{la.slug}")


def feed_listing(base: str) -> FeedListing:
    """Every feed and calendar there is (those `every_spec` writes), on sendwatch's own address."""
    las = register()
    regions = []
    for region in las.regions():
        slug = slugify(region)
        feed = feed_for("region", slug)
        assert feed is not None  # a region of the register
        members = sorted((la for la in las if la.region == region), key=lambda la: la.name)
        regions.append(
            RegionListing(
                _follow(base, region, feed, calendar_for("region", slug)),
                slug,
                [council_follow(la, base) for la in members],
            )
        )
    kinds = []
    for kind in Kind:
        feed = feed_for("kind", str(kind))
        assert feed is not None
        kinds.append(_follow(base, KIND_LABELS[kind], feed, None))
    return FeedListing(everything_follow(base), regions, kinds)


@dataclass
class Case:
    """One case on a council's page: its head (inspection, else notice or direction) and
    everything that belongs to it, oldest first, so it reads as the story went."""

    title: str
    summaries: list[Summary]


def cases_of(events: Sequence[Event], state: CaseState | None) -> list[Case]:
    """A council's events grouped by the case they belong to (as its `state` says), newest case
    first; events that belong to no case (news before any inspection, say) come last, under
    "Other events"."""
    heads: dict[int, Thread] = {}
    members: dict[int | None, list[Event]] = {}
    for event in events:
        facts = state.facts(event.id) if state is not None else EventFacts()
        if facts.thread is not None:
            heads[facts.thread.id] = facts.thread
        members.setdefault(facts.thread.id if facts.thread else None, []).append(event)

    def day(event: Event) -> tuple[dt.date, int]:
        return (event_day(event.happened_on, event.created_at), event.id)

    def summaries(found: list[Event]) -> list[Summary]:
        return [
            summarise(e, state.facts(e.id) if state is not None else None)
            for e in sorted(found, key=day)
        ]

    cases = [
        Case(case_title(heads[head_id]), summaries(members[head_id]))
        for head_id in sorted(heads, key=lambda h: (heads[h].day, h), reverse=True)
    ]
    if None in members:
        cases.append(Case("Other events", summaries(members[None])))
    return cases


#: At most this many councils suggested on a council page that was not found.
SUGGESTIONS = 8


def find_la(key: str) -> LocalAuthority | list[LocalAuthority]:
    """The council a /la/ address means, as the register's one lookup finds it ("hull" is
    Kingston upon Hull), or, when none or several match, the councils to suggest instead."""
    las = register()
    return las.lookup(key.replace("-", " ")) or las.suggestions(key, limit=SUGGESTIONS)


def _canonical(key: str, la: LocalAuthority) -> bool:
    """Whether a /la/ address is the council's own (its slug, or a code, which render at once);
    any other name for it is sent to its slug."""
    return key == la.slug or key.strip().upper() in (la.ons_code, la.dfe_code)


def case_title(head: Thread) -> str:
    """ "Area SEND inspection published 23 February 2024", "Improvement notice of 1 May 2024"."""
    when = format_date(head.day)
    if head.kind in INSPECTION_KINDS:
        return f"Area SEND inspection published {when}"
    return f"{kind_label(head.kind).removesuffix(' issued')} of {when}"


def _outcome_counts(rows: list[Row]) -> list[tuple[str, str, int]]:
    """(outcome, label, number of councils whose latest inspection had it), for the counts."""
    counts = {str(outcome): 0 for outcome in (*INSPECTION_OUTCOMES, Outcome.UNRECOGNISED)}
    for row in rows:
        inspection = row.state.inspection if row.state else None
        if inspection is not None and inspection.outcome in counts:
            counts[inspection.outcome] += 1
    return [
        (outcome, OUTCOME_LABELS[outcome].split(" (")[0], count)
        for outcome, count in counts.items()
    ]


@dataclass(frozen=True)
class Query:
    slug: str
    code: str


def _session(request: Request) -> str | None:
    """The session cookie's value, if it looks like one this server gave out."""
    value = request.cookies.get(SESSION_COOKIE, "")
    return value if 16 <= len(value) <= 64 and value.isascii() and value.isprintable() else None


def _matches(row: Row, query: Query | None, region: str, state: str) -> bool:
    if query and query.slug not in row.la.slug and query.code != row.la.ons_code:
        return False
    if region and row.la.region_slug != region:
        return False
    if state == "notice":
        return bool(row.state and row.state.notice_in_force)
    inspection = row.state.inspection if row.state else None
    if state == "none":
        return inspection is None
    if state:
        return inspection is not None and inspection.outcome == state
    return True


def _is_due(row: Row, due: str) -> bool:
    """The home page's `due` filter: inspection overdue, due within a year, or a notice in
    force past its deadline; "" lets every council through."""
    state = row.state
    if not due:
        return True
    if state is None:
        return False
    if due == "overdue":
        return state.overdue
    if due == "deadline_passed":
        return state.notice_in_force and state.deadline_passed
    upcoming = state.next_inspection_due
    return upcoming is not None and upcoming <= add_months(state.as_of, 12)


def _severity(state: CaseState | None) -> int:
    if state is None or state.inspection is None:
        return len(OUTCOME_ORDER)
    return OUTCOME_ORDER.get(state.inspection.outcome, len(OUTCOME_ORDER))


def _sort_key(sort: str) -> Callable[[Row], Any]:
    far = dt.date.min
    keys: dict[str, Callable[[Row], Any]] = {
        "name": lambda r: r.la.name,
        "region": lambda r: (r.la.region, r.la.name),
        "outcome": lambda r: (_severity(r.state), r.la.name),
        "notice": lambda r: (0 if r.state and r.state.notice_in_force else 1, r.la.name),
        "latest": lambda r: r.state.latest_event_on if r.state and r.state.latest_event_on else far,
        # Soonest (most overdue) first; councils with nothing due last.
        "due": lambda r: (
            r.state.next_inspection_due if r.state and r.state.next_inspection_due else dt.date.max,
            r.la.name,
        ),
    }
    return keys[sort]
