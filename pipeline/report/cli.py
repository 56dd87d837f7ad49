"""`python -m pipeline report` (and `python -m pipeline.report`): write OUT/report.html, optionally its screenshot."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from pipeline.report import REPORT, SCREENSHOT, write_report


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipeline report",
        description="Write OUT/report.html: the run as one self-contained page (funnels, drop reasons with "
                    "examples, quality histograms, mixture, tokenizer, shards, training, provenance). Other flags "
                    "are Beam filesystem options for a remote OUT (--s3_endpoint_url, ...).")
    p.add_argument("--output", required=True, help="the run's OUT: a local path or a URI")
    p.add_argument("--train", help="a train run directory (python -m training_entry train --out RUN) to include")
    p.add_argument("--screenshot", nargs="?", const="", metavar="PNG",
                   help=f"also save a full-page screenshot taken in headless Chromium (default OUT/{SCREENSHOT}); "
                        "skipped with the reason when Chromium or Selenium is missing")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    from pipeline.report.gather import has_state
    from pipeline.store import Store, is_uri

    if is_uri(args.output) or (args.train and is_uri(args.train)):
        from pipeline.preflight import PreflightError, split_beam_args
        from pipeline.runner import use_filesystem_options

        try:
            use_filesystem_options(split_beam_args(unknown, {f for a in parser._actions for f in a.option_strings}))
        except PreflightError as e:
            parser.error(str(e))
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    out = Store(args.output)
    if not has_state(out):
        print(f"error: {args.output} holds no pipeline run (no {out.path('.stages')}); "
              f"run `python -m pipeline run --config ... --output {args.output}` first", file=sys.stderr)
        return 2
    if args.train and not Store(args.train).is_file("metrics.jsonl"):
        print(f"error: --train {args.train} has no metrics.jsonl: not a train run directory", file=sys.stderr)
        return 2
    start = time.perf_counter()
    path = write_report(out, args.train)
    print(f"report: {path} ({time.perf_counter() - start:.2f}s)")
    if args.screenshot is not None:
        return _screenshot(out, args.screenshot or None)
    return 0


def _screenshot(out, png: str | None) -> int:
    from pipeline.report import browser

    missing = browser.unavailable()
    if missing:
        print(f"screenshot skipped: {missing}")
        return 0
    with tempfile.TemporaryDirectory(prefix="llama-data-report-") as local:
        html, shot = Path(local) / REPORT, Path(local) / SCREENSHOT
        out.download(REPORT, html)
        result = browser.check_page(html, shot)
        if png:
            Path(png).parent.mkdir(parents=True, exist_ok=True)
            Path(png).write_bytes(shot.read_bytes())
            where = png
        else:
            out.upload(shot, SCREENSHOT)
            where = out.path(SCREENSHOT)
    print(f"screenshot: {where} ({result.width}x{result.height}px, {len(result.console_errors)} console errors, "
          f"{len(result.requests)} network requests)")
    problems = result.console_errors + [f"network request: {url}" for url in result.requests]
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1 if problems else 0
