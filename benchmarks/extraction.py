"""Extraction speed: report PDFs and HTML pages per second through the crawl's parsers and `extract`.

    python benchmarks/extraction.py

PDFs: the real Ofsted reports in ../shared/real-samples when present (8 pages each,
as published), else the bundled samples. HTML: the bundled LGL article through the
lgl spider's parser, then extraction. One core. Targets: >= 20 PDFs/s, >= 300 pages/s.
"""

from __future__ import annotations

import time

from _common import ROOT, final, median
from scrapy.http import HtmlResponse

from app.demo.site import SAMPLES
from crawler.extract import Document, extract
from crawler.pdf import pdf_text
from crawler.pipelines import document_of
from crawler.spiders.lgl import LglSpider

REAL = ROOT.parent / "shared" / "real-samples" / "ofsted"


def rate(work: list[bytes], handle: object, seconds: float = 3.0) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for item in work:
            handle(item)  # type: ignore[operator]
            done += 1
    return done / (time.perf_counter() - started)


def one_pdf(data: bytes) -> None:
    text = pdf_text(data)
    result = extract(Document(title="Area SEND full inspection", text=text))
    assert result.outcome is not None


spider = LglSpider(base_url="https://www.localgovernmentlawyer.co.uk")


def one_page(data: bytes) -> None:
    response = HtmlResponse(
        url="https://www.localgovernmentlawyer.co.uk/education-law/394-education-news/57253-x",
        body=data,
    )
    (item,) = spider.parse_article(response, article_id="57253", listed=("", "", None))
    assert extract(document_of(item)).kind is not None


def main() -> None:
    pdfs = sorted(REAL.glob("*.pdf")) or sorted((SAMPLES / "ofsted" / "files").glob("*.pdf"))
    pdf_bytes = [path.read_bytes() for path in pdfs]
    pages = [(SAMPLES / "lgl" / "articles" / "57253.html").read_bytes()]
    pdf_rates = [rate(pdf_bytes, one_pdf) for _ in range(3)]
    page_rates = [rate(pages, one_page) for _ in range(3)]
    print(
        f"PDFs from {pdfs[0].parent} ({len(pdfs)} files); runs: {[round(r) for r in pdf_rates]} PDFs/s, {[round(r) for r in page_rates]} pages/s"
    )
    final(
        pdfs_per_s=median(pdf_rates),
        html_pages_per_s=median(page_rates),
        real_reports=bool(REAL.exists()),
    )


if __name__ == "__main__":
    main()
