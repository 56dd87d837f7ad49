"""Plant near-duplicate and cross-source cases in the sample, in files of their own.

    python -m samples.build_planted --out data/sample [--force]

    OUT/planted/cc/planted-00000.warc.wet.gz            WET: warcinfo, then one conversion record per page
    OUT/planted/c4/c4-planted.00000-of-00001.json.gz    C4 JSON lines ({"text", "timestamp", "url"})
    OUT/planted/MANIFEST.json                           the cases: URLs, ids, measured Jaccard

Only configs/sample-modern.yaml lists these files, so configs/sample.yaml (the
LLaMA-1 recipe), its golden digest and the other sample statistics stay put. Every
text comes from the sample itself (run after build_sample and build_c4_books):

- CommonCrawl document near-duplicates (stage near_dedup, threshold 0.8): pages of
  Areopagitica's paragraphs (data/sample/books/areopagitica.txt, one paragraph a
  line), copied with words replaced by words of the same paragraph. Every line of a
  copy differs from the original's, as an edited page's would, so cc_net's exact
  line dedup leaves them whole and only document near-dedup can find them:
  `pair_over` (one edit per ~110 words: Jaccard ~0.9, dropped), `pair_under` (one
  per ~32: ~0.7, both kept), and `chain` a ~ b ~ c with a and c under the threshold
  (~0.87, ~0.87, ~0.76). The chain's URLs carry a counter chosen so that b has the
  largest id: Books' pairwise rule would then keep a and c; connected components
  keep one page.
- `wikipedia_mirror`: a CommonCrawl page holding a whole enwiki article of the sample
  (as the wikipedia stage cleans it), under a mirror's title and licence line.
- `c4_and_cc`: the same page in C4 and in CommonCrawl: paragraphs from another
  article, a fifth of it (so neither copy is a near-duplicate of the article itself),
  C4-clean (C4's rules remove nothing from it).

The builder measures every planted pair: the exact Jaccard of word 5-gram shingles
and the MinHash estimate of the pipeline's settings (filters.minhash), printed and
kept in MANIFEST.json, and fails if a case is on the wrong side of the threshold.
Deterministic: fixed choices, fixed dates, gzip without mtimes.
"""
from __future__ import annotations

import argparse
import datetime as dt
import glob
import gzip
import hashlib
import json
import logging
import sys
from pathlib import Path

from filters.base import Drop
from filters.c4 import C4Rules, load_bad_words
from filters.document import digest_id
from filters.minhash import MinHasher, estimated_jaccard, word_shingles
from filters.wikitext import WikipediaFilter
from pipeline.readers.wikipedia import parse_mediawiki
from pipeline.stages.cross_source import CrossSourceSettings
from pipeline.stages.near_dedup import NearDedupSettings
from samples.build_c4_books import fresh_manifest
from samples.build_sample import record_id, sha1_digest, warc_record, warcinfo
from shard_format import atomic_write

log = logging.getLogger("samples.build_planted")

ROOT = Path(__file__).resolve().parent.parent
BAD_WORDS = ROOT / "configs" / "c4_badwords_en.txt"
WET_FILE = "cc/planted-00000.warc.wet.gz"
C4_FILE = "c4/c4-planted.00000-of-00001.json.gz"
BOOK = "books/areopagitica.txt"
WIKI = "wikipedia/enwiki-*.xml.bz2"
MIRROR_ARTICLE = "Aardvark"  # a mid-length article of the sample's enwiki
QUOTED_ARTICLE = "Amphibian"  # a long one, a fifth of it quoted
QUOTED_SHARE = 0.2
DATE = dt.datetime(2026, 7, 3, 12, 0, tzinfo=dt.timezone.utc)
C4_TIMESTAMP = "2019-04-25T10:00:00Z"
HOST = "https://milton.example.org/areopagitica"  # .example: reserved, plainly invented
MIRROR_HOST = "https://wiki-mirror.example.net/wiki"
QUOTE_URL = "https://nature-notes.example.org/amphibians/what-is-an-amphibian"  # not .com: the demo blocklist has it
MIN_PARAGRAPH_WORDS = 60
PARAGRAPHS_PER_PAGE = 5


# --------------------------------------------------------------------------- text

def paragraphs(book_text: str) -> list[str]:
    """The book's prose paragraphs of at least MIN_PARAGRAPH_WORDS words, each on one line."""
    blocks = book_text.replace("\r\n", "\n").split("\n\n")
    out = [" ".join(block.split()) for block in blocks]
    return [p for p in out if len(p.split()) >= MIN_PARAGRAPH_WORDS]


def edited(paragraph: str, every: int, phase: float) -> str:
    """One word in every `every` replaced by the word 7 places on (a different word), starting at phase * every."""
    words = paragraph.split()
    start = int(phase * every)
    for i in range(start, len(words), every):
        for step in (7, -7, 3, -3):
            j = i + step
            if 0 <= j < len(words) and words[j].lower() != words[i].lower():
                words[i] = words[j]
                break
    return " ".join(words)


def page(title: str, body: list[str]) -> str:
    """WET text: a title line (cc_net takes the first line as the title), then the body lines."""
    return "\n".join([title, *body]) + "\n"


def body_of(text: str) -> str:
    """What the pipeline compares: the lines after the title, stripped (cc_net's reading)."""
    return "\n".join(line.strip() for line in text.split("\n")[1:] if line.strip())


def wiki_articles(sample: Path) -> dict[str, str]:
    """Title -> text of the sample's enwiki articles, as the wikipedia stage keeps them."""
    keep = WikipediaFilter()
    articles = {}
    for path in sorted(sample.glob(WIKI)):
        with open(path, "rb") as f:
            for doc in parse_mediawiki(str(path), f):
                kept = keep.apply(doc) if hasattr(doc, "text") else None
                if kept is not None and not isinstance(kept, Drop):
                    articles[doc.meta["title"]] = (doc.id, kept.text)
    return articles


# --------------------------------------------------------------------------- measuring

class Measure:
    """Exact Jaccard of word shingles and the MinHash estimate, as the pipeline computes them."""

    def __init__(self, settings):
        self.hasher = MinHasher(settings.num_perm, settings.seed, settings.shingle_size)
        self.n, self.threshold = settings.shingle_size, settings.threshold

    def __call__(self, a: str, b: str) -> dict:
        x, y = word_shingles(a, self.n), word_shingles(b, self.n)
        exact = len(x & y) / len(x | y)
        estimate = estimated_jaccard(self.hasher.signature(a), self.hasher.signature(b))
        return {"jaccard": round(exact, 4), "minhash": round(estimate, 4)}


def expect(name: str, measured: dict, over: bool, threshold: float) -> None:
    """Fail the build when a planted pair is on the wrong side of the threshold."""
    ok = all((value >= threshold) == over for value in measured.values())
    log.info("  %-28s Jaccard %.3f, MinHash %.3f (%s %.2f)", name, measured["jaccard"], measured["minhash"],
             ">=" if over else "<", threshold)
    if not ok:
        raise RuntimeError(f"planted case {name} is not {'over' if over else 'under'} the threshold: {measured}")


def wet_record_id(url: str) -> str:
    return record_id("planted-conversion", url)


def cc_id(url: str) -> str:
    """The id the WET reader gives the page: "cc/" and the uuid of its WARC-Record-ID."""
    return "cc/" + wet_record_id(url).strip("<>").removeprefix("urn:uuid:")


def chain_urls() -> list[str]:
    """URLs a, b, c with b's id the largest (the first counter that gives it), so the rules differ."""
    for k in range(1000):
        urls = [f"{HOST}/chain-{part}.html?v={k}" for part in "abc"]
        ids = [cc_id(u) for u in urls]
        if ids[1] > max(ids[0], ids[2]):
            return urls
    raise RuntimeError("no counter orders the chain's ids")


# --------------------------------------------------------------------------- the cases

def near_duplicate_pages(book_text: str, measure: Measure) -> tuple[list[tuple[str, str]], dict]:
    paras = paragraphs(book_text)
    groups = [paras[i * PARAGRAPHS_PER_PAGE:(i + 1) * PARAGRAPHS_PER_PAGE] for i in range(3)]
    if any(len(g) < PARAGRAPHS_PER_PAGE for g in groups):
        raise RuntimeError(f"{BOOK}: too few paragraphs of {MIN_PARAGRAPH_WORDS}+ words")
    title = "Areopagitica, by John Milton ({})"
    pages, cases = [], {}
    threshold = measure.threshold

    over = [f"{HOST}/part-1.html", f"{HOST}/part-1-print.html"]
    texts = [page(title.format("part 1"), groups[0]),
             page(title.format("part 1, printable"), [edited(p, 110, 0.5) for p in groups[0]])]
    cases["pair_over"] = {"urls": over, "ids": [cc_id(u) for u in over], **measure(*map(body_of, texts))}
    expect("pair_over", {k: cases["pair_over"][k] for k in ("jaccard", "minhash")}, True, threshold)
    pages += zip(over, texts)

    under = [f"{HOST}/part-2.html", f"{HOST}/part-2-annotated.html"]
    texts = [page(title.format("part 2"), groups[1]),
             page(title.format("part 2, annotated"), [edited(p, 32, 0.5) for p in groups[1]])]
    cases["pair_under"] = {"urls": under, "ids": [cc_id(u) for u in under], **measure(*map(body_of, texts))}
    expect("pair_under", {k: cases["pair_under"][k] for k in ("jaccard", "minhash")}, False, threshold)
    pages += zip(under, texts)

    urls = chain_urls()
    a = groups[2]
    b = [edited(p, 70, 0.3) for p in a]
    c = [edited(p, 70, 0.75) for p in b]
    texts = [page(title.format(f"part 3, {v}"), body) for v, body in zip(("first", "second", "third"), (a, b, c))]
    bodies = [body_of(t) for t in texts]
    links = {"a~b": measure(bodies[0], bodies[1]), "b~c": measure(bodies[1], bodies[2]),
             "a~c": measure(bodies[0], bodies[2])}
    for name, over_ in (("a~b", True), ("b~c", True), ("a~c", False)):
        expect(f"chain {name}", links[name], over_, threshold)
    cases["chain"] = {"urls": urls, "ids": [cc_id(u) for u in urls], "pairs": links}
    pages += zip(urls, texts)
    return pages, cases


def mirror_page(articles: dict, measure: Measure) -> tuple[tuple[str, str], dict]:
    article_id, text = articles[MIRROR_ARTICLE]
    url = f"{MIRROR_HOST}/{MIRROR_ARTICLE}"
    licence = (f"This article uses material from the Wikipedia article {MIRROR_ARTICLE}, which is released "
               "under the Creative Commons Attribution-Share-Alike License 3.0.")
    wet = page(f"{MIRROR_ARTICLE} - Wiki Mirror", [*text.split("\n"), licence])
    case = {"url": url, "id": cc_id(url), "duplicate_of": article_id, **measure(body_of(wet), text)}
    expect("wikipedia_mirror", {k: case[k] for k in ("jaccard", "minhash")}, True, measure.threshold)
    return (url, wet), case


def quoted_page(articles: dict, measure: Measure) -> tuple[tuple[str, str], dict, dict]:
    """A fifth of an article's prose, C4-clean: one C4 record and one CommonCrawl page."""
    article_id, text = articles[QUOTED_ARTICLE]
    rules = C4Rules(bad_words=load_bad_words(BAD_WORDS))
    prose = [line.strip() for line in text.split("\n") if line.strip().endswith(".") and len(line.split()) >= 20]
    wanted = QUOTED_SHARE * len(word_shingles(text))
    body, size = [], 0
    for line in prose:  # the article's first prose paragraphs, each kept whole by C4's line rules
        if rules.clean(line).text.strip() != line:
            continue
        body.append(line)
        size = len(word_shingles("\n".join(body)))
        if size >= wanted:
            break
    c4_text = "\n".join(body)
    cleaned = rules.clean(c4_text)
    if cleaned.reason is not None or cleaned.text != c4_text:
        raise RuntimeError(f"the quoted page is not C4-clean: {cleaned.reason}")
    record = {"text": c4_text, "timestamp": C4_TIMESTAMP, "url": QUOTE_URL}
    cc_url = QUOTE_URL + "?utm_source=feed"  # the crawl found it under another URL
    wet = page("What is an amphibian? | Nature Notes", body)
    against_article = measure(c4_text, text)
    expect("c4_and_cc vs the article", against_article, False, measure.threshold)
    copies = measure(body_of(wet), c4_text)
    expect("c4_and_cc", copies, True, measure.threshold)
    case = {"c4_url": QUOTE_URL, "c4_id": digest_id("c4", QUOTE_URL), "cc_url": cc_url, "cc_id": cc_id(cc_url),
            "article": article_id, **copies, "vs_article": against_article}
    return (cc_url, wet), record, case


# --------------------------------------------------------------------------- files

def wet_file(pages: list[tuple[str, str]]) -> bytes:
    name = Path(WET_FILE).name
    date = DATE.strftime("%Y-%m-%dT%H:%M:%SZ")
    info_id, info = warcinfo(name, date, {"isPartOf": "llama-data-sample-planted",
                                          "publisher": "llama-data (samples/build_planted.py)",
                                          "description": "planted near-duplicate and cross-source cases"})
    parts = [info]
    for i, (url, text) in enumerate(pages):
        block = text.encode("utf-8")
        when = (DATE + dt.timedelta(seconds=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts.append(warc_record([
            ("WARC-Type", "conversion"), ("WARC-Target-URI", url), ("WARC-Date", when),
            ("WARC-Record-ID", wet_record_id(url)),
            ("WARC-Refers-To", record_id("planted-response", url, i)), ("WARC-Warcinfo-ID", info_id),
            ("WARC-Block-Digest", sha1_digest(block)), ("Content-Type", "text/plain")], block))
    return b"".join(parts)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(sample: Path) -> str:
    """Changes with this builder or the sample files it reads."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    for rel in (BOOK, *sorted(str(p.relative_to(sample)) for p in sample.glob(WIKI))):
        h.update((sample / rel).read_bytes())
    return h.hexdigest()


def build(out: Path, force: bool = False) -> dict:
    """Write OUT/planted/ from the sample in OUT (built first by the other builders)."""
    out = Path(out)
    target = out / "planted"
    builder = fingerprint(out)
    if not force and (manifest := fresh_manifest(target, builder)):
        log.info("planted cases are up to date")
        return manifest
    near = Measure(NearDedupSettings())
    cross = Measure(CrossSourceSettings())
    log.info("planted cases, measured (word %d-gram shingles; MinHash %d permutations):",
             near.n, near.hasher.num_perm)
    book_text = (out / BOOK).read_bytes().decode("utf-8").removeprefix("\ufeff")
    pages, cases = near_duplicate_pages(book_text, near)
    articles = wiki_articles(out)
    mirror, cases["wikipedia_mirror"] = mirror_page(articles, cross)
    quoted, c4_record, cases["c4_and_cc"] = quoted_page(articles, cross)
    files = {WET_FILE: wet_file([*pages, mirror, quoted]),  # each record is its own gzip member
             C4_FILE: _gzip((json.dumps(c4_record, ensure_ascii=False) + "\n").encode("utf-8"))}
    for rel, data in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            f.write(data)
    manifest = {
        "builder": builder,
        "threshold": near.threshold,
        "files": {rel: {"bytes": len(data), "sha256": _sha256(data)} for rel, data in files.items()},
        "cases": cases,
        "origin": {"near_duplicates": f"data/sample/{BOOK} (Gutenberg, public domain)",
                   "wikipedia": f"data/sample/{WIKI} (gensim's enwiki sample, CC BY-SA): {MIRROR_ARTICLE}, "
                                f"{QUOTED_ARTICLE}"},
    }
    (target / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log.info("wrote %s: %d CommonCrawl pages, 1 C4 page", target, len(pages) + 2)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "sample",
                        help="the sample directory (built by the other builders); gets planted/")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)  # Beam's import set a handler
    missing = [rel for rel in (BOOK,) if not (args.out / rel).exists()] + ([] if glob.glob(str(args.out / WIKI))
                                                                          else [WIKI])
    if missing:
        print(f"error: {args.out} lacks {missing}: build the sample first (make sample)", file=sys.stderr)
        return 2
    build(args.out, force=args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
