"""The run report: one self-contained HTML page (OUT/report.html) of what a run did.

    python -m pipeline report --output OUT [--train RUN] [--screenshot [PNG]]

    examples.py  (in the curate pipeline) the example rejected documents per drop reason
    gather.py    read the small files the stages wrote: records, stats.json, examples, cards, manifest, run.json
    funnel.py    documents through the stages and why they were dropped
    signals.py   the quality measurements: lines removed, languages, perplexity, P(wiki), any other histogram
    mixture.py   mixture, tokenizer, shards, and the train run
    svg.py       the charts, as inline SVG
    fmt.py       HTML tables whose number cells carry their exact values
    page.py      the page: CSS, header, provenance
    browser.py   load the page in headless Chromium (Selenium): console errors, network requests, screenshot

It reads only small files (never curated/ or rejected/), so it takes seconds on any run.
"""
from __future__ import annotations

REPORT = "report.html"
SCREENSHOT = "report.png"


def write_report(out, train: str | None = None) -> str:
    """Render OUT's report and write it to OUT/report.html; returns its path."""
    from pipeline.report.gather import gather
    from pipeline.report.page import render
    from pipeline.store import Store

    out = out if isinstance(out, Store) else Store(out)
    out.write_bytes(REPORT, render(gather(out, train)).encode("utf-8"))
    return out.path(REPORT)
