"""The crawled sources, one entry each: the one place a source is declared.

Adding a source is one spider (`crawler/spiders/<name>.py`, with its self-check), its
fixture and its test, and one entry here. Everything else reads the registry: the
configuration builds `[sources.<name>]` from the entry (`enabled`, `base_url`,
`interval_minutes`, and the source's own options, with the entry's defaults), the CLI takes
its name for `crawl` and `check`, the crawler resolves its spider, alerts label its links,
the extraction knows whether it is official, and the daemon schedules it and, for a
reconciled source, compares Ofsted's statistics with the reports crawled after its crawl.

The ground floor: nothing here imports above `sendwatch`. A spider is named by its dotted
path ("crawler.spiders.govuk:GovukSpider") and resolved in the crawler; an option is a
pydantic field definition, which `sendwatch.config` makes into the source's table.
The entries are read when asked for, so a source registered in-process (a test's) is
crawlable without another edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field

from sendwatch.errors import SendwatchError

#: A source's own setting, as pydantic's `create_model` takes a field: (its type, its default
#: or a `Field(...)` with the default and the validation).
Option = tuple[Any, Any]
ONS_CODE = r"^E\d{8}$"


@dataclass(frozen=True)
class Source:
    """One crawled source, and everything the rest of sendwatch needs to know of it."""

    name: str
    #: What alerts, feeds and pages call it beside a link ("Ofsted reports").
    label: str
    #: Its spider, "module:Class" (resolved by `crawler.spiders.spider_for`); its `name` is
    #: the entry's.
    spider: str
    #: The real site, unless `[sources.<name>] base_url` points elsewhere.
    base_url: str
    interval_minutes: float
    enabled: bool = True
    #: After a crawl of it, Ofsted's statistics are compared with the reports crawled.
    reconciled: bool = False
    #: It publishes the notices and reports themselves, not news or data about them: its
    #: finding names and dates the event, and an inspection report it publishes is one even
    #: when no council is found in it.
    official: bool = False
    #: Its own settings (`[sources.<name>] <option>`), handed to its spider as keyword arguments.
    options: Mapping[str, Option] = field(default_factory=dict)


SOURCES: tuple[Source, ...] = (
    Source(
        name="govuk",
        label="GOV.UK (Department for Education)",
        spider="crawler.spiders.govuk:GovukSpider",
        base_url="https://www.gov.uk",
        interval_minutes=15,
        official=True,
    ),
    Source(
        name="ofsted",
        label="Ofsted reports",
        spider="crawler.spiders.ofsted:OfstedSpider",
        base_url="https://reports.ofsted.gov.uk",
        interval_minutes=60,
        reconciled=True,
        official=True,
    ),
    Source(
        name="lgl",
        label="Local Government Lawyer",
        spider="crawler.spiders.lgl:LglSpider",
        base_url="https://www.localgovernmentlawyer.co.uk",
        interval_minutes=30,
        options={
            # How far back the first crawl reads the feed, which holds the whole archive
            # (later crawls read what is newer).
            "backfill_days": (int, Field(default=730, ge=1)),
        },
    ),
    Source(
        name="moderngov",
        label="The council's meeting papers",
        spider="crawler.spiders.moderngov:ModernGovSpider",
        base_url="https://www.moderngov.co.uk",
        interval_minutes=1440,
        options={
            # ONS code -> the council's ModernGov site or CMIS meetings page, over the register's.
            "sites": (
                dict[
                    Annotated[str, Field(pattern=ONS_CODE)],
                    Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")],
                ],
                {},
            ),
            # Only these councils (ONS codes); empty: every council with a ModernGov or CMIS site.
            "councils": (list[Annotated[str, Field(pattern=ONS_CODE)]], []),
            # The window of meetings read each poll, around today.
            "days_back": (int, Field(default=30, ge=0)),
            "days_ahead": (int, Field(default=60, ge=0)),
            # The day the window is around, YYYY-MM-DD; empty: today (set it to replay a day).
            "today": (str, Field(default="", pattern=r"^(\d{4}-\d{2}-\d{2})?$")),
        },
    ),
    Source(
        name="statistics",
        label="Ofsted's area SEND statistics",
        spider="crawler.spiders.statistics:StatisticsSpider",
        # Its releases are on GOV.UK, their spreadsheets on GOV.UK's assets host.
        base_url="https://www.gov.uk",
        interval_minutes=1440,
        reconciled=True,
        # Ofsted's own data, but not the report: when the report PDF is found too, the report's
        # title and words describe the event (an official finding takes over the title of an
        # event that has none, never the other way round).
        official=False,
    ),
    Source(
        name="ombudsman",
        label="Local Government and Social Care Ombudsman",
        spider="crawler.spiders.ombudsman:OmbudsmanSpider",
        base_url="https://www.lgo.org.uk",
        interval_minutes=720,
        # The Ombudsman's own decisions: the decision names and dates the event.
        official=True,
        options={
            # How far back the first crawl reads the category listing (later crawls read what
            # is newer than the newest decision handled).
            "backfill_days": (int, Field(default=365, ge=1)),
        },
    ),
)


def registered() -> tuple[Source, ...]:
    """Every source, in the order commands and `sendwatch config` take them."""
    return SOURCES


def names() -> tuple[str, ...]:
    return tuple(source.name for source in SOURCES)


def find(name: str) -> Source | None:
    """The entry of source `name`, or None when there is no such source."""
    return next((source for source in SOURCES if source.name == name), None)


def entry(name: str) -> Source:
    """The entry of source `name`; an error naming the sources there are when there is none."""
    source = find(name)
    if source is None:
        raise SendwatchError(f"unknown source {name!r}; sources: {', '.join(names())}")
    return source


def labels() -> dict[str, str]:
    """Source name -> its label."""
    return {source.name: source.label for source in SOURCES}


def reconciled() -> frozenset[str]:
    """The sources after whose crawl Ofsted's statistics are compared with the reports."""
    return frozenset(source.name for source in SOURCES if source.reconciled)
