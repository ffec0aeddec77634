"""What the benchmark scripts share: a synthetic site of any size, child `sendwatch` runs, medians.

Every script prints its figures last, as one line of `name=value` pairs. Machines
here are noisy: scripts compare things measured side by side in one run and
report medians of several runs.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.demo.site import GOVUK_COLLECTION, SAMPLES  # noqa: E402

SENDWATCH = [sys.executable, "-m", "app"]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def final(**figures: object) -> None:
    """The one line a reader (or a script) takes the figures from."""
    print(" ".join(f"{name}={_fmt(value)}" for name, value in figures.items()), flush=True)


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def env_for(data_dir: Path, host_map: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENDWATCH_")}
    env |= {
        "SENDWATCH_DATA_DIR": str(data_dir),
        "SENDWATCH_CRAWLER_DOWNLOAD_DELAY": "0",
        "SENDWATCH_LOG_LEVEL": "WARNING",
        "SENDWATCH_CRAWLER_HOST_MAP": host_map,
        # The synthetic site serves the three crawled sources the figures are about; the
        # councils' ModernGov sites and Ofsted's statistics are not part of it.
        "SENDWATCH_SOURCES_MODERNGOV_ENABLED": "false",
        "SENDWATCH_SOURCES_STATISTICS_ENABLED": "false",
        **extra,
    }
    return env


def crawl(sources: Sequence[str], env: dict[str, str]) -> dict[str, dict[str, str]]:
    """`sendwatch crawl` of the sources (in one process), as {source: {figure: value}}."""
    result = subprocess.run(
        [*SENDWATCH, "crawl", *sources], env=env, capture_output=True, text=True, timeout=900
    )
    lines = result.stdout.strip().splitlines()
    reports = [dict(pair.split("=", 1) for pair in line.split()) for line in lines]
    if len(reports) != len(sources):
        raise SystemExit(f"crawl failed:\n{result.stderr[-2000:]}")
    return {report["source"]: report for report in reports}


def synthetic_site(root: Path, notices: int, providers: int, articles: int) -> None:
    """A copy of the bundled sample site grown to the given size, at the real sites' paths.

    GOV.UK: `notices` SEND notices in the collection (the search lists the newest 50);
    Ofsted: `providers` LAs over two search pages, one area SEND report each; LGL: an RSS
    feed of `articles` articles, half about SEND notices.
    """
    shutil.copytree(SAMPLES, root)
    _govuk(root / "govuk", notices)
    _ofsted(root / "ofsted", providers)
    _lgl(root / "lgl", articles)


def _govuk(folder: Path, count: int) -> None:
    template = json.loads(
        (
            folder / "content" / "improvement-notice-issued-to-wirral-council-may-2024.json"
        ).read_text()
    )
    collection = json.loads((folder / "collection.json").read_text())
    links, ids = [], []
    for index in range(count):
        path = f"/government/publications/improvement-notice-issued-to-council-{index}"
        content_id = f"00000000-0000-4000-8000-{index:012d}"
        item = template | {
            "base_path": path,
            "content_id": content_id,
            "title": f"Improvement notice issued to Wirral Council: {_month(index)}",
        }
        (folder / "content" / f"improvement-notice-issued-to-council-{index}.json").write_text(
            json.dumps(item)
        )
        links.append(
            {
                "content_id": content_id,
                "title": item["title"],
                "base_path": path,
                "public_updated_at": item["public_updated_at"],
                "document_type": "decision",
            }
        )
        ids.append(content_id)
    collection["links"]["documents"] = links
    collection["details"]["collection_groups"] = [{"title": "Open notices", "documents": ids}]
    (folder / "collection.json").write_text(json.dumps(collection))
    search = json.loads((folder / "search-improvement-notice.json").read_text())
    search["results"] = [
        {
            "title": link["title"],
            "link": link["base_path"],
            "public_timestamp": link["public_updated_at"],
            # As GOV.UK's search does: the collections a notice is in.
            "document_collections": [
                {"title": "Improvement notices and directions", "link": GOVUK_COLLECTION}
            ],
        }
        for link in links[:50]
    ]
    search["total"] = 50
    (folder / "search-improvement-notice.json").write_text(json.dumps(search))


def _month(index: int) -> str:
    return ("January", "March", "May", "July", "September", "November")[
        index % 6
    ] + f" {2015 + index // 6}"


def _ofsted(folder: Path, count: int) -> None:
    pdf = (folder / "files" / "50240360.pdf").read_bytes()
    result = (folder / "search-1.html").read_text()
    head, _, rest = result.partition('<ul class="results-list">')
    _items, tail = rest.split("</ul>\n      <div", 1)
    block = '      <li class="search-result"><h3 class="search-result__title"><a href="/provider/44/{urn}">Bexley</a></h3><ul class="search-result__provider-info"><li>Latest report: <strong><time>23 February 2024</time></strong></li><li>URN: <strong>{urn}</strong></li></ul></li>\n'
    provider = (folder / "provider-80488.html").read_text()
    pages: list[list[str]] = [[], []]
    for index in range(count):
        urn = str(90000 + index)
        pages[0 if index < 100 else 1].append(block.format(urn=urn))
        (folder / f"provider-{urn}.html").write_text(
            provider.replace("50240360", str(60000000 + index)).replace(
                "50200001", str(61000000 + index)
            )
        )
        (folder / "files" / f"{60000000 + index}.pdf").write_bytes(pdf)
    for number, entries in enumerate(pages, start=1):
        nav = (
            tail
            if number == 1
            else tail.split('<a class="pagination__next"')[0]
            + "</div>\n    </div>\n  </main>\n</body>\n</html>\n"
        )
        (folder / f"search-{number}.html").write_text(
            f'{head}<ul class="results-list">\n{"".join(entries)}</ul>\n      <div{nav}'
        )


def _lgl(folder: Path, count: int) -> None:
    feed = (folder / "feed.xml").read_text()
    head, _, _rest = feed.partition("    <item>")
    tail = "  </channel>\n</rss>\n"
    article = (folder / "articles" / "57253.html").read_text()
    items = []
    for index in range(count):
        article_id = 70000 + index
        send = index % 2 == 0
        title = (
            "Council hit with improvement notice following SEND inspection"
            if send
            else "Planning appeal dismissed by inspector"
        )
        items.append(
            f"    <item><title>{title}</title><link>https://www.localgovernmentlawyer.co.uk/education-law/394-education-news/{article_id}-story</link>"
            f"<description>Story {index}</description><pubDate>Thu, 02 May 2024 09:12:00 +0100</pubDate></item>\n"
        )
        if send:
            (folder / "articles" / f"{article_id}.html").write_text(article)
    (folder / "feed.xml").write_text(head + "".join(items) + tail)


def resident_mb(pids: Sequence[int]) -> float:
    """Resident memory of processes, from /proc (Linux)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024
