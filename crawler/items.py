"""What spiders yield: the one item schema of the crawler.

A spider says what the source published (title, text, dates, the source's own
hints); the pipeline turns that into a finding through `crawler.extract`. Every
item carries the mark (key, version) that tells the next poll it was handled,
so an unchanged document is never fetched twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sendwatch.vocab import Kind, OmbudsmanOutcome, Outcome


@dataclass
class SourceItem:
    """One document found at a source."""

    source: str
    #: The source's own stable id for the document (GOV.UK base path, LGL article id,
    #: Ofsted file id), never the page layout: "new" means "this id never recorded".
    identity: str
    url: str
    title: str
    text: str = ""
    published_on: dt.date | None = None
    kind_hint: Kind | None = None
    la_hint: str = ""
    happened_on_hint: dt.date | None = None
    #: An outcome the source states as a labelled field (the Ombudsman's "Decision :"), in
    #: the kind's vocabulary: the item's, over anything its text might be read to say.
    outcome: Outcome | OmbudsmanOutcome | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: (key, version) to remember once this item is handled, relevant or not.
    mark: tuple[str, str] | None = None


@dataclass
class MarkItem:
    """ "Handled, nothing to record": e.g. an Ofsted provider page whose reports are all known."""

    key: str
    value: str
