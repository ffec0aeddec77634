"""What one crawl found and came to: the counts and the verdict `sendwatch crawl` prints.

As a line for people (`source= found= … result=`), or with `--json` as one JSON object a
line, which is what the daemon reads of its crawl children. No Scrapy import here: the
daemon reads reports without loading the crawler.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crawler.verdict import ITEM_ERRORS, LISTING_ERRORS, LISTING_ITEMS, Verdict, decide
from sendwatch.vocab import CrawlResult

#: The fields of `sendwatch crawl --json`, in order (documented in README.md; only added to).
JSON_FIELDS = (
    "source",
    "found",
    "new",
    "updated",
    "seen",
    "errors",
    "new_events",
    "result",
    "reason",
    "alarms",
)


@dataclass(frozen=True)
class CrawlReport:
    """What one crawl found, in the words `sendwatch crawl` prints."""

    source: str
    found: int
    new: int
    updated: int
    seen: int
    errors: int
    new_events: int
    listing_items: int
    result: CrawlResult
    #: Why, in a sentence, when the result is not plainly ok.
    reason: str = ""
    alarms: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Nothing for the maintainer to act on in this run itself (an empty listing alarms apart)."""
        return self.result in (CrawlResult.OK, CrawlResult.EMPTY)

    @classmethod
    def from_stats(
        cls, source: str, stats: Mapping[str, Any], max_failed_share: float = 0.5
    ) -> CrawlReport:
        def count(key: str) -> int:
            return int(stats.get(key, 0) or 0)

        new, updated, seen = (
            count("sendwatch/new"),
            count("sendwatch/updated"),
            count("sendwatch/seen"),
        )
        spider_errors = count("spider_exceptions/count")  # a parser that raised: a bug to see
        verdict = decide(stats, max_failed_share)
        return cls(
            source=source,
            found=new + updated + seen,
            new=new,
            updated=updated,
            seen=seen,
            errors=count(LISTING_ERRORS) + count(ITEM_ERRORS) + spider_errors,
            new_events=count("sendwatch/new_events"),
            listing_items=count(LISTING_ITEMS),
            result=verdict.result,
            reason=verdict.reason,
        )

    @classmethod
    def without_counts(cls, source: str, verdict: Verdict) -> CrawlReport:
        """A crawl that reported nothing of itself (killed, or broken), by the verdict on it."""
        return cls(source, 0, 0, 0, 0, 0, 0, 0, verdict.result, verdict.reason)

    def with_alarms(self, alarms: tuple[str, ...]) -> CrawlReport:
        return dataclasses.replace(self, alarms=alarms)

    def line(self) -> str:
        result = "empty_listing" if self.result is CrawlResult.EMPTY else str(self.result)
        return (
            f"source={self.source} found={self.found} new={self.new} updated={self.updated}"
            f" seen={self.seen} errors={self.errors} result={result}"
        )

    def to_json(self) -> dict[str, Any]:
        """`sendwatch crawl --json`'s object: the JSON_FIELDS (`result` in the plain word)."""
        values = dataclasses.asdict(self) | {
            "result": str(self.result),
            "alarms": list(self.alarms),
        }
        return {name: values[name] for name in JSON_FIELDS}

    def json_line(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CrawlReport:
        """A report read back from `sendwatch crawl --json` (ValueError if it is not one)."""
        try:
            return cls(
                source=str(data["source"]),
                found=int(data["found"]),
                new=int(data["new"]),
                updated=int(data["updated"]),
                seen=int(data["seen"]),
                errors=int(data["errors"]),
                new_events=int(data["new_events"]),
                listing_items=0,  # not printed: the child has recorded the run already
                result=CrawlResult(data["result"]),
                reason=str(data.get("reason") or ""),
                alarms=tuple(str(alarm) for alarm in data.get("alarms") or ()),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a crawl report: {exc}") from None


def read_report(source: str, output: str) -> CrawlReport | None:
    """The report on `source` among the lines `sendwatch crawl --json` printed (the last one,
    if several), or None when it printed none."""
    for line in reversed(output.splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("source") == source:
            try:
                return CrawlReport.from_json(data)
            except ValueError:
                continue
    return None
