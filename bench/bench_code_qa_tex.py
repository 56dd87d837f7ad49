"""Throughput of the GitHub, StackExchange and ArXiv readers and cleaners.

    .venv/bin/python -m bench.bench_code_qa_tex [--repeat 3] [--min-seconds 1]

On the real sample (data/sample/{github,stackexchange,arxiv}; built first if missing),
in one process, without Beam: for each source the reader (documents/s and MB/s of
input file bytes) and the per-document cleaner (documents/s and MB/s of document
text), best of `--repeat` runs, each run looping over the sample until it has taken
at least `--min-seconds`. The cleaners are what a worker runs per document:

  github         LicenseFilter + CodeFileFilter (licence header strip, line rules)
  stackexchange  pairing one thread (html_to_text of every post, numeric sort) + filter
  arxiv          ArxivFilter (comments, macros, preamble, bibliography)

The shuffles (GitHub exact dedup, StackExchange pairing) are not included: their
cost is the runner's.
"""
from __future__ import annotations

import argparse
import glob
import logging
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


def timed(fn, min_seconds: float, repeat: int) -> tuple[float, int]:
    """(best seconds per loop, loops) over `repeat` runs of at least min_seconds each."""
    best = float("inf")
    for _ in range(repeat):
        loops = 0
        start = time.perf_counter()
        while True:
            fn()
            loops += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / loops)
    return best, loops


def read_all(paths, parse) -> list:
    from pipeline.read import Malformed

    out = []
    for p in paths:
        with open(p, "rb") as f:
            out += [d for d in parse(p, f) if not isinstance(d, Malformed)]
    return out


def row(name: str, what: str, docs: int, nbytes: int, seconds: float) -> str:
    return f"{name:<14} {what:<8} {docs / seconds:>12,.0f} docs/s {nbytes / seconds / 1e6:>9.2f} MB/s  ({docs} docs, {nbytes / 1e6:.2f} MB)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_code_qa_tex", description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from samples.build_code_qa_tex import build

    build(SAMPLE)
    from filters.github import CodeFileFilter, LicenseFilter
    from filters.latex import ArxivFilter
    from filters.stackexchange import StackExchangeFilter
    from pipeline.readers.arxiv import parse_arxiv
    from pipeline.readers.github import make_parser
    from pipeline.readers.stackexchange import parse_posts
    from pipeline.sources.stackexchange import build_threads, thread_key

    lines = []
    # GitHub
    paths = sorted(glob.glob(str(SAMPLE / "github" / "*")))
    parse = make_parser()
    file_bytes = sum(Path(p).stat().st_size for p in paths)
    docs = read_all(paths, parse)
    t, _ = timed(lambda: read_all(paths, parse), args.min_seconds, args.repeat)
    lines.append(row("github", "read", len(docs), file_bytes, t))
    lic, code = LicenseFilter(), CodeFileFilter()
    text_bytes = sum(d.nbytes for d in docs)
    t, _ = timed(lambda: [code.apply(d) for d in docs if not hasattr(lic.apply(d), "reason")] and None,
                 args.min_seconds, args.repeat)
    lines.append(row("github", "clean", len(docs), text_bytes, t))

    # StackExchange
    paths = sorted(glob.glob(str(SAMPLE / "stackexchange" / "*.7z")) + glob.glob(str(SAMPLE / "stackexchange" / "*" / "Posts.xml")))
    plain = sorted(glob.glob(str(SAMPLE / "stackexchange_plain" / "*" / "Posts.xml")))
    for label, ps in (("read 7z", [p for p in paths if p.endswith(".7z")]), ("read xml", plain)):
        posts = read_all(ps, parse_posts)
        t, _ = timed(lambda: read_all(ps, parse_posts), args.min_seconds, args.repeat)
        lines.append(row("stackexchange", label, len(posts), sum(Path(p).stat().st_size for p in ps), t))
    posts = read_all(paths, parse_posts)
    groups = defaultdict(list)
    for d in posts:
        groups[thread_key(d)].append(d)
    se = StackExchangeFilter(None)
    t, _ = timed(lambda: [se.apply(x) for k, v in groups.items() for x in build_threads(k, v)],
                 args.min_seconds, args.repeat)
    lines.append(row("stackexchange", "clean", len(posts), sum(d.nbytes for d in posts), t))

    # ArXiv
    paths = sorted(glob.glob(str(SAMPLE / "arxiv" / "*")))
    papers = read_all(paths, parse_arxiv)
    t, _ = timed(lambda: read_all(paths, parse_arxiv), args.min_seconds, args.repeat)
    lines.append(row("arxiv", "read", len(papers), sum(Path(p).stat().st_size for p in paths), t))
    ax = ArxivFilter()
    t, _ = timed(lambda: [ax.apply(d) for d in papers], args.min_seconds, args.repeat)
    lines.append(row("arxiv", "clean", len(papers), sum(d.nbytes for d in papers), t))

    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
