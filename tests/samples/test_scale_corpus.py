"""The scale corpus generator (samples/scale_corpus.py) at a small size.

Two runs with the same arguments (one in-process, one with two worker processes) must
give byte-identical files. The crawl is read back with warcio and with the project's
own WET reader, and its statistics are recomputed here from the files (languages from
the WARC headers, duplicates from the texts, lines with the pipeline's normalisation),
not taken from the generator's bookkeeping.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import tarfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import py7zr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from filters.c4 import END_MARKS
from filters.normalize import line_hash, line_hashes
from pipeline.read import Malformed, Skipped
from pipeline.readers.warc import parse_warc
from samples import scale_corpus, scale_text
from samples.build_sample import sha1_digest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
CC_MB, SEED = 2, 2


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> tuple[Path, Path]:
    if not (SAMPLE / "MANIFEST.json").exists():
        pytest.fail("data/sample is missing: `make test` builds it (make sample)")
    a, b = tmp_path_factory.mktemp("scale-a"), tmp_path_factory.mktemp("scale-b")
    scale_corpus.generate(a, CC_MB, SEED, sample=SAMPLE, workers=1)
    scale_corpus.generate(b, CC_MB, SEED, sample=SAMPLE, workers=2)
    return a, b


@pytest.fixture(scope="module")
def corpus(corpora) -> Path:
    return corpora[0]


@pytest.fixture(scope="module")
def manifest(corpus) -> dict:
    return json.loads((corpus / "MANIFEST.json").read_text())


@pytest.fixture(scope="module")
def pages(corpus) -> list[dict]:
    """The WET conversion records, read with warcio."""
    found = []
    for path in sorted((corpus / "cc").glob("*.warc.wet.gz")):
        with open(path, "rb") as f:
            for i, rec in enumerate(ArchiveIterator(f)):
                if i == 0:
                    assert rec.rec_type == "warcinfo", path
                    continue
                assert rec.rec_type == "conversion"
                text = rec.content_stream().read()
                h = rec.rec_headers
                assert h.get_header("WARC-Block-Digest") == sha1_digest(text)
                assert h.get_header("Content-Type") == "text/plain"
                found.append({"url": h.get_header("WARC-Target-URI"), "id": h.get_header("WARC-Record-ID"),
                              "lang": h.get_header("WARC-Identified-Content-Language"),
                              "date": h.get_header("WARC-Date"), "text": text.decode("utf-8")})
    return found


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- determinism, files

def test_same_args_give_byte_identical_files(corpora):
    a, b = corpora
    digests = tree_digest(a)
    assert digests == tree_digest(b)
    assert len(digests) > 10


def test_manifest_lists_every_file_with_size_and_sha256(corpus, manifest):
    listed = {e["path"]: e for entries in manifest["files"].values() for e in entries}
    on_disk = tree_digest(corpus)
    assert set(listed) == set(on_disk) - {"MANIFEST.json"}
    for rel, entry in listed.items():
        assert entry["sha256"] == on_disk[rel], rel
        assert entry["bytes"] == (corpus / rel).stat().st_size, rel
    assert manifest["args"] == {"cc_mb": CC_MB, "seed": SEED, "file_mb": scale_corpus.FILE_MB}


def test_wet_files_are_one_gzip_member_per_record(corpus, pages, manifest):
    members = 0
    for path in sorted((corpus / "cc").glob("*.warc.wet.gz")):
        data = path.read_bytes()
        while data:
            z = zlib.decompressobj(31)
            assert z.decompress(data).startswith(b"WARC/1.0\r\n")
            data = z.unused_data
            members += 1
    assert members == len(pages) + len(manifest["files"]["cc"])  # + one warcinfo per file


def test_records_have_seeded_ids_and_dates(pages):
    assert len({p["id"] for p in pages}) == len(pages)
    assert len({p["url"] for p in pages}) == len(pages)
    assert all(p["date"].startswith("2026-") for p in pages)  # CRAWL_EPOCH + seed days, no wall clock


def test_project_reader_reads_the_wet_files(corpus, pages):
    docs, skipped = [], Counter()
    for path in sorted((corpus / "cc").glob("*.warc.wet.gz")):
        with open(path, "rb") as f:
            for item in parse_warc(str(path), f, report_skipped=True):
                assert not isinstance(item, Malformed), item
                if isinstance(item, Skipped):
                    skipped[item.kind] += 1
                else:
                    docs.append(item)
    assert skipped == {"warcinfo": 1}
    assert [d.text for d in docs] == [p["text"] for p in pages]
    assert [d.url for d in docs] == [p["url"] for p in pages]


# --------------------------------------------------------------------------- the crawl's shape

def test_about_half_the_pages_are_english(pages, manifest):
    english = sum(p["lang"] == "eng" for p in pages) / len(pages)
    assert 0.42 <= english <= 0.58
    assert manifest["statistics"]["cc"]["english_share"] == round(english, 4)
    assert len({p["lang"] for p in pages}) >= 20


def test_exact_duplicates_are_5_to_10_percent(pages, manifest):
    by_text = Counter(p["text"] for p in pages)
    duplicates = len(pages) - len(by_text)
    assert 0.05 <= duplicates / len(pages) <= 0.10
    assert manifest["statistics"]["cc"]["planted_exact_duplicates"] == duplicates


def test_near_duplicates_share_most_lines_with_another_page(pages, manifest):
    """A near-duplicate copies an earlier page's content with a few edits: some page
    with a different text shares at least half of its long lines."""
    texts = list(dict.fromkeys(p["text"] for p in pages))
    owners: dict[int, set[int]] = {}
    long_lines = []
    for i, text in enumerate(texts):
        lines = {line_hash(x) for x in text.split("\n") if len(x) > 100}
        long_lines.append(lines)
        for h in lines:
            owners.setdefault(h, set()).add(i)
    near = 0
    for i, lines in enumerate(long_lines):
        shared = Counter(j for h in lines for j in owners[h] if j != i)
        if lines and shared and max(shared.values()) >= 0.5 * len(lines):
            near += 1
    planted = manifest["statistics"]["cc"]["planted_near_duplicates"]
    assert planted >= 0.015 * len(pages)
    assert near >= 0.5 * planted  # a copy, and its original if long lines are most of it


def test_lines_are_distinct_except_site_boilerplate(pages, manifest):
    """Content lines almost never repeat; menus and footers repeat across a site's pages."""
    stats = manifest["statistics"]["cc"]
    assert stats["distinct_body_lines_of_originals"]["distinct_share"] >= 0.97
    hashes = np.array([h for p in pages for h in line_hashes(p["text"]) if h is not None], dtype=np.int64)
    assert len(hashes) == stats["lines"]
    distinct = len(np.unique(hashes)) / len(hashes)
    assert distinct == pytest.approx(stats["distinct_lines"]["distinct_share"], abs=1e-4)
    assert 0.5 <= distinct <= 0.85
    menus = Counter(p["text"].split("\n", 1)[0] for p in pages)
    assert sum(n for n in menus.values() if n > 1) >= 0.5 * len(pages)  # site names shared by pages


def test_page_lengths_spread_like_real_pages(pages, manifest):
    sizes = np.array([len(p["text"].encode("utf-8")) for p in pages])
    p10, p50, p90 = np.percentile(sizes, [10, 50, 90])
    assert scale_corpus.PAGE_MIN_BYTES <= sizes.min() and sizes.max() <= scale_corpus.PAGE_MAX_BYTES + 5000
    assert p10 < 1_200 and 1_500 < p50 < 5_000 and p90 > 7_000
    assert sizes.max() > 20_000
    assert manifest["statistics"]["cc"]["page_bytes_percentiles"]["p50"] == int(np.percentile(sizes, 50))


# --------------------------------------------------------------------------- the other sources

def test_other_sources_in_llama_proportions(manifest):
    text = manifest["text_bytes"]
    for src, gb in scale_corpus.LLAMA_DISK_GB.items():
        want = gb / scale_corpus.LLAMA_DISK_GB["cc"]
        assert text[src] / text["cc"] == pytest.approx(want, rel=0.4), src
        assert manifest["files"][src], f"no {src} files"


def test_c4_is_json_lines_of_english_pages(corpus, manifest):
    (path,) = sorted((corpus / "c4").glob("c4-train.*-of-*.json.gz"))
    rows = [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
    assert {tuple(sorted(r)) for r in rows} == {("text", "timestamp", "url")}
    assert sum(len(r["text"].encode("utf-8")) for r in rows) == manifest["text_bytes"]["c4"]
    assert all(line.endswith(END_MARKS) for r in rows for line in r["text"].split("\n"))
    assert len({(r["url"], r["text"]) for r in rows}) < len(rows)  # some pages read twice


def test_github_archives_and_rows(corpus):
    archives = sorted((corpus / "github").glob("*.tar.gz"))
    assert archives
    for path in archives:
        with tarfile.open(path) as tar:
            names = tar.getnames()
        root = path.name.removesuffix(".tar.gz")
        assert all(n.startswith(root + "/") for n in names)
    rows = [json.loads(x) for p in (corpus / "github").glob("*.jsonl") for x in p.read_text().splitlines()]
    assert rows and all({"repo_name", "path", "content", "license"} <= set(r) for r in rows)


def test_wikipedia_exports(corpus):
    files = sorted((corpus / "wikipedia").glob("*wiki-*.xml.bz2"))
    assert files
    for path in files:
        xml = bz2.decompress(path.read_bytes()).decode("utf-8")
        lang = path.name.split("wiki-")[0]
        assert f"<dbname>{lang}wiki</dbname>" in xml and xml.rstrip().endswith("</mediawiki>")
        assert xml.count("<page>") == xml.count("</page>") > 0


def test_books_and_arxiv_forms(corpus):
    books = [p.name for p in (corpus / "books").iterdir()]
    assert any(n.endswith(".txt") for n in books) and any(n.endswith(".tar.gz") for n in books)
    assert any("*** START OF THE PROJECT GUTENBERG EBOOK" in p.read_text(encoding="utf-8")
               for p in (corpus / "books").glob("*.txt"))
    papers = sorted((corpus / "arxiv").iterdir())
    assert papers and all(p.name[:4].isdigit() and p.name[4] == "." for p in papers)
    tex = [gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") and not p.name.endswith(".tar.gz")
           else p.read_bytes() for p in papers if not p.name.endswith(".tar.gz")]
    assert all(b"\\documentclass" in t for t in tex)


def test_stackexchange_dumps(corpus, tmp_path):
    archives = sorted((corpus / "stackexchange").glob("*.7z"))
    plain = sorted((corpus / "stackexchange").glob("*/Posts.xml"))
    assert archives and plain
    with py7zr.SevenZipFile(archives[0]) as z:
        assert z.getnames() == ["Posts.xml"]
        z.extractall(tmp_path)
    for data in ((tmp_path / "Posts.xml").read_bytes(), plain[0].read_bytes()):
        assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>') and b'PostTypeId="2"' in data


# --------------------------------------------------------------------------- CLI and guards

def test_help_names_every_option(capsys):
    with pytest.raises(SystemExit) as e:
        scale_corpus.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for option in ("--out", "--cc-mb", "--seed", "--workers", "--file-mb", "--sample"):
        assert option in out


def test_refuses_a_directory_it_did_not_write(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="did not write"):
        scale_corpus.generate(tmp_path, 0.1, sample=SAMPLE)
    assert (tmp_path / "notes.txt").read_text() == "mine"


# --------------------------------------------------------------------------- the text helpers

@given(st.text(max_size=60))
@settings(max_examples=200, deadline=None)
def test_host_labels_are_valid_for_any_name(name):
    import random

    label = scale_text.ascii_label(name, random.Random(0))
    assert 3 <= len(label) <= 63
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in label)
    assert not label.startswith("-") and not label.endswith("-")


@given(st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=30), st.integers(0, 2 ** 32))
@settings(max_examples=50, deadline=None)
def test_any_text_gives_a_model_whose_walks_end(lines, seed):
    import random

    lines = [x for x in (" ".join(line.split()) for line in lines) if x]
    if not lines:
        return
    model = scale_text.WordModel("xxx", lines)
    rng = random.Random(seed)
    vocab = set(model.vocab)
    for _ in range(5):
        assert set(model.walk(rng, model.prose)) <= vocab
        assert len(model.walk(rng, model.labels, 7)) <= 7
    assert isinstance(model.paragraph(rng, 3), str)


def test_sentences_keep_every_token():
    line = "1. Everyone has the right to life. Article 3 says so! And J. Smith agrees"
    parts = list(scale_text.sentences(line, chars=False))
    assert [t for p in parts for t in p] == line.split()
    assert [" ".join(p) for p in parts] == ["1. Everyone has the right to life.", "Article 3 says so!",
                                           "And J. Smith agrees"]
