"""The MediaWiki dump reader on gensim's real dumps (bz2, UTF-8 and UTF-16), on
damaged copies of them, and the Wikipedia source end to end under Beam.

Expected values come from the raw XML by regular expressions, never from the reader.
"""
from __future__ import annotations

import bz2
import dataclasses
import html
import re
from collections import Counter
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to

from filters.document import Document
from pipeline.read import iter_file
from pipeline.readers.base import Malformed, MalformedInputError
from pipeline.readers import wikipedia as wikipedia_reader
from pipeline.readers.wikipedia import parse_mediawiki
from pipeline.stats import SumStats
from pipeline.config import config_from
from pipeline.curate import curate_source
from samples.fixtures import gensim_wiki_files


@pytest.fixture(scope="module")
def dumps() -> dict[str, Path]:
    return gensim_wiki_files()


def xml_of(path: Path) -> str:
    """The decompressed dump as text, decoded by its BOM (independently of the reader)."""
    raw = bz2.decompress(path.read_bytes())
    return raw.decode("utf-16") if raw[:2] == b"\xff\xfe" else raw.decode("utf-8")


def expected_pages(xml: str) -> list[dict]:
    """Title, id, ns, redirect and text of each <page>, by regex."""
    pages = []
    for body in re.findall(r"<page>(.*?)</page>", xml, re.DOTALL):
        redirect = re.search(r'<redirect title="([^"]*)"', body)
        text = re.search(r"<text[^>]*>(.*?)</text>", body, re.DOTALL)
        pages.append({
            "title": html.unescape(re.search(r"<title>(.*?)</title>", body).group(1)),
            "page_id": int(re.search(r"<id>(\d+)</id>", body).group(1)),  # the first <id> is the page's
            "ns": int(re.search(r"<ns>(-?\d+)</ns>", body).group(1)),
            "redirect": html.unescape(redirect.group(1)) if redirect else None,
            # XML turns CR LF into LF
            "text": html.unescape(text.group(1)).replace("\r\n", "\n") if text else "",
        })
    return pages


def read(path: Path, data: bytes | None = None) -> list[Document | Malformed]:
    if data is not None:
        path.write_bytes(data)
    with open(path, "rb") as f:
        return list(parse_mediawiki(str(path), f))


def docs_of(items):
    return [i for i in items if isinstance(i, Document)]


def bad_of(items):
    return [i for i in items if isinstance(i, Malformed)]


# --- real dumps ---------------------------------------------------------------------

@pytest.mark.parametrize("key, lang, n_pages", [
    ("enwiki", "en", 206), ("enwiki-table-markup", "en", 5), ("bgwiki", "bg", 3),
])
def test_reads_every_page_of_real_dumps(dumps, key, lang, n_pages):
    path = dumps[key]
    expected = expected_pages(xml_of(path))
    assert len(expected) == n_pages == xml_of(path).count("<page>")
    items = read(path)
    assert bad_of(items) == []
    docs = docs_of(items)
    got = [{k: d.meta[k] for k in ("title", "page_id", "ns", "redirect")} | {"text": d.text} for d in docs]
    assert got == expected
    for d in docs:
        assert d.id == f"wikipedia/{lang}/{d.meta['page_id']}"
        assert d.url == f"https://{lang}.wikipedia.org/wiki/{d.meta['title'].replace(' ', '_')}"
        assert d.source == "wikipedia"
        assert d.meta["wiki_lang"] == lang and d.meta["dump_file"] == path.name
    assert len({d.id for d in docs}) == len(docs)


def test_english_sample_redirects_and_namespaces(dumps):
    xml = xml_of(dumps["enwiki"])
    docs = docs_of(read(dumps["enwiki"]))
    assert sum(d.meta["redirect"] is not None for d in docs) == xml.count("<redirect ") == 100
    assert Counter(d.meta["ns"] for d in docs) == Counter(int(n) for n in re.findall(r"<ns>(\d+)</ns>", xml))
    first = docs[0]
    assert (first.meta["title"], first.meta["redirect"]) == ("AccessibleComputing", "Computer accessibility")


def test_bulgarian_utf16_sample(dumps):
    raw = bz2.decompress(dumps["bgwiki"].read_bytes())
    assert raw[:2] == b"\xff\xfe"  # UTF-16-LE with a BOM, as gensim ships it
    docs = docs_of(read(dumps["bgwiki"]))
    assert {d.meta["wiki_lang"] for d in docs} == {"bg"}
    assert docs[0].meta["title"] == "Григориански календар"
    assert docs[0].url == "https://bg.wikipedia.org/wiki/Григориански_календар"
    assert "Григорианският календар" in docs[0].text


def test_same_pages_uncompressed_and_multistream(dumps, tmp_path):
    expected = docs_of(read(dumps["bgwiki"]))
    raw = bz2.decompress(dumps["bgwiki"].read_bytes())
    assert docs_of(read(tmp_path / "bgwiki-x.xml", raw)) == [_renamed(d, "bgwiki-x.xml") for d in expected]
    # Wikipedia's "multistream" dumps are bz2 streams concatenated; cut between pages.
    en = bz2.decompress(dumps["enwiki"].read_bytes())
    cuts = [m.start() for m in re.finditer(rb"  <page>", en)]
    parts = [en[:cuts[50]], en[cuts[50]:cuts[120]], en[cuts[120]:]]
    multi = b"".join(bz2.compress(p) for p in parts)
    expected_en = docs_of(read(dumps["enwiki"]))
    got = docs_of(read(tmp_path / "enwiki-multistream.xml.bz2", multi))
    assert [d.text for d in got] == [d.text for d in expected_en] and len(got) == 206


@pytest.mark.parametrize("key", ["enwiki", "bgwiki"])
def test_tags_cut_between_chunks(dumps, key, monkeypatch):
    # 999-byte reads cut tags in two and put UTF-16 characters across odd boundaries.
    expected = docs_of(read(dumps[key]))
    monkeypatch.setattr(wikipedia_reader, "READ_CHUNK", 999)
    assert read(dumps[key]) == expected


def test_oversized_pages_are_skipped_with_bounded_memory(dumps, tmp_path, monkeypatch):
    xml = xml_of(dumps["enwiki-table-markup"])
    pages = re.findall(r"<page>.*?</page>", xml, re.DOTALL)
    sizes = [len(p.encode()) for p in pages]
    assert sizes[1] > 50_000 and sizes[2] > 50_000 and max(sizes[0], sizes[3], sizes[4]) < 50_000
    # 120 kB of junk between pages 3 and 4: no <page> tag within the limit either
    junk = xml.replace(pages[4], "x" * 120_000 + pages[4])
    monkeypatch.setattr(wikipedia_reader, "READ_CHUNK", 4096)
    monkeypatch.setattr(wikipedia_reader, "MAX_PAGE_BYTES", 50_000)
    items = read(tmp_path / "enwiki-big.xml", junk.encode())
    titles = [p["title"] for p in expected_pages(xml)]
    assert [d.meta["title"] for d in docs_of(items)] == [titles[0], titles[3], titles[4]]
    assert [(m.offset, m.error.split(": ", 1)[1]) for m in bad_of(items)] == [
        (1, "no </page> within 50000 bytes"), (2, "no </page> within 50000 bytes"),
        (4, "no <page> within 50000 bytes")]


def _renamed(doc: Document, dump_file: str) -> Document:
    return dataclasses.replace(doc, meta={**doc.meta, "dump_file": dump_file})


# --- damaged input ------------------------------------------------------------------

def test_truncated_bz2_yields_pages_read_so_far_then_malformed(dumps, tmp_path):
    data = dumps["enwiki"].read_bytes()
    items = read(tmp_path / "enwiki-cut.xml.bz2", data[: len(data) // 2])
    docs, bad = docs_of(items), bad_of(items)
    full = docs_of(read(dumps["enwiki"]))
    assert 0 < len(docs) < len(full)
    assert [d.id for d in docs] == [d.id for d in full[: len(docs)]]
    assert len(bad) == 1 and items[-1] is bad[0]
    assert bad[0].offset == len(docs)  # the index of the page being read
    assert "truncated" in bad[0].error and "cannot decompress" in bad[0].error


def test_truncated_xml_inside_a_page_and_between_pages(dumps, tmp_path):
    xml = bz2.decompress(dumps["enwiki-table-markup"].read_bytes())
    third_end = [m.end() for m in re.finditer(rb"</page>", xml)][2]
    inside = read(tmp_path / "enwiki-a.xml", xml[: third_end + 200])
    assert len(docs_of(inside)) == 3
    assert [(m.offset, "file ends inside this page (truncated file)" in m.error) for m in bad_of(inside)] == [(3, True)]
    between = read(tmp_path / "enwiki-b.xml", xml[:third_end])
    assert len(docs_of(between)) == 3
    assert [(m.offset, "without </mediawiki>" in m.error) for m in bad_of(between)] == [(3, True)]


def test_broken_page_is_skipped_and_reading_resumes(dumps, tmp_path):
    xml = xml_of(dumps["bgwiki"])
    pages = expected_pages(xml)
    # UTF-16 input, page 1 (of 0..2) with a mismatched tag
    title = pages[1]["title"]
    broken = xml.replace(f"<title>{title}</title>", f"<title>{title}</titel>")
    items = read(tmp_path / "bgwiki-broken.xml", broken.encode("utf-16"))
    assert [d.meta["title"] for d in docs_of(items)] == [pages[0]["title"], pages[2]["title"]]
    (bad,) = bad_of(items)
    assert bad.offset == 1 and "mismatched tag" in bad.error and "page 1" in bad.error
    assert isinstance(items[1], Malformed)


def test_missing_end_tag_and_damaged_start_tag(dumps, tmp_path):
    xml = xml_of(dumps["enwiki-table-markup"])
    titles = [p["title"] for p in expected_pages(xml)]
    ends = [m.start() for m in re.finditer("</page>", xml)]
    no_end = xml[: ends[1]] + xml[ends[1] + len("</page>"):]  # page 1 runs into page 2
    items = read(tmp_path / "enwiki-noend.xml", no_end.encode())
    assert [d.meta["title"] for d in docs_of(items)] == titles[:1] + titles[2:]
    assert [(m.offset, "without </page>" in m.error) for m in bad_of(items)] == [(1, True)]
    starts = [m.start() for m in re.finditer("<page>", xml)]
    no_start = xml[: starts[3]] + "<pag>" + xml[starts[3] + len("<page>"):]
    items = read(tmp_path / "enwiki-nostart.xml", no_start.encode())
    assert [d.meta["title"] for d in docs_of(items)] == titles[:3] + titles[4:]
    assert [(m.offset, "between pages" in m.error) for m in bad_of(items)] == [(3, True)]


def test_corrupt_bz2_data(dumps, tmp_path):
    data = bytearray(dumps["enwiki"].read_bytes())
    data[1_000_000:1_000_100] = bytes(100)  # zeros inside a bz2 block past the first
    items = read(tmp_path / "enwiki-corrupt.xml.bz2", bytes(data))
    full = docs_of(read(dumps["enwiki"]))
    docs = docs_of(items)
    assert 0 < len(docs) < len(full) and [d.id for d in docs] == [d.id for d in full[: len(docs)]]
    assert len(bad_of(items)) == 1 and "cannot decompress: Invalid data stream" in items[-1].error
    # a damaged first block: nothing can be read, one error at offset 0
    head = bytearray(dumps["enwiki-table-markup"].read_bytes())
    head[30_000:30_100] = bytes(100)
    (bad,) = read(tmp_path / "enwiki-corrupt-head.xml.bz2", bytes(head))
    assert bad.offset == 0 and "Invalid data stream" in bad.error


def test_unknown_language_is_a_located_error(tmp_path):
    xml = ('<mediawiki><page><title>T</title><ns>0</ns><id>1</id><revision><id>2</id>'
           '<text>body</text></revision></page></mediawiki>')
    items = read(tmp_path / "dump.xml", xml.encode())
    assert len(items) == 1 and items[0].offset == 0 and "language" in items[0].error
    # the file name is the last resort, as in "enwiki-20240101-pages-articles.xml"
    (doc,) = read(tmp_path / "dewiki-20240101-pages-articles.xml", xml.encode())
    assert doc.id == "wikipedia/de/1" and doc.text == "body"


def test_empty_file_and_bad_siteinfo(dumps, tmp_path):
    assert [(m.offset, m.error) for m in read(tmp_path / "enwiki-empty.xml.bz2", bz2.compress(b""))] == [
        (0, "empty file")]
    xml = xml_of(dumps["bgwiki"]).replace("</dbname>", "</dbnme>")
    items = read(tmp_path / "bgwiki-badinfo.xml", xml.encode("utf-16"))
    assert "bad <siteinfo>" in items[0].error and items[0].offset == 0
    # still read, the language then coming from <mediawiki xml:lang="bg">
    assert [d.id for d in docs_of(items)] == [d.id for d in docs_of(read(dumps["bgwiki"]))]


def test_old_dumps_without_ns_take_it_from_the_title_prefix(dumps, tmp_path):
    xml = xml_of(dumps["enwiki"])
    expected = [p["ns"] for p in expected_pages(xml)]
    assert 4 in expected
    docs = docs_of(read(tmp_path / "enwiki-nons.xml", re.sub(r"<ns>\d+</ns>", "", xml).encode()))
    assert [d.meta["ns"] for d in docs] == expected


def test_strict_mode_raises_on_the_first_malformed_page(dumps, tmp_path):
    xml = xml_of(dumps["enwiki-table-markup"]).replace("</title>", "</titel>", 1)
    path = tmp_path / "enwiki-strict.xml"
    path.write_text(xml)
    with pytest.raises(MalformedInputError, match="page 0"):
        list(iter_file(str(path), parse_mediawiki, strict=True))


# --- the source under Beam -----------------------------------------------------

def test_curate_wikipedia_on_real_dumps(dumps, tmp_path):
    # The three real dumps plus a damaged copy of one (its page 2 has bad XML).
    table_xml = xml_of(dumps["enwiki-table-markup"])
    page2 = expected_pages(table_xml)[2]["title"]
    damaged = tmp_path / "enwiki-damaged.xml.bz2"
    damaged.write_bytes(bz2.compress(
        table_xml.replace(f"<title>{page2}</title>", f"<title>{page2}</titel>").encode()))
    files = [dumps["enwiki"], dumps["enwiki-table-markup"], dumps["bgwiki"], damaged]

    # Expected decisions, from the raw XML: ns, <redirect>, the disambiguation
    # templates this sample uses, and the language of each dump.
    expected = Counter()
    kept_ids = []
    for path, lang in zip(files, ["en", "en", "bg", "en"]):
        if path == damaged:
            pages = [p for p in expected_pages(table_xml) if p["title"] != page2]
        else:
            pages = expected_pages(xml_of(path))
        for p in pages:
            expected["in"] += 1
            if p["ns"] != 0:
                expected["dropped:namespace"] += 1
            elif p["redirect"] is not None:
                expected["dropped:redirect"] += 1
            elif re.search(r"\{\{\s*(disambiguation|disambig|dab|geodis)\s*[|}]", p["text"], re.I):
                expected["dropped:disambiguation"] += 1
            else:
                expected["kept"] += 1
                kept_ids.append(f"wikipedia/{lang}/{p['page_id']}")
    assert expected == Counter({"in": 218, "kept": 108, "dropped:redirect": 99,
                                "dropped:disambiguation": 8, "dropped:namespace": 3})

    def no_markup(docs):
        for d in docs:
            for mark in ("{{", "}}", "[[", "]]", "<ref", "{|"):
                if mark in d.text:
                    raise BeamAssertException(f"{d.id} keeps {mark!r}: {d.text[d.text.index(mark) - 60:][:120]!r}")
            if len(d.text) < 100:
                raise BeamAssertException(f"{d.id} is shorter than min_chars")

    with TestPipeline(runner="FnApiRunner") as p:
        result, read_stats = curate_source(p, config_from({"inputs": {"wikipedia": [str(f) for f in files]}}), "wikipedia", {})
        stats = (result.stats, read_stats) | SumStats()
        counts = stats | "Docs" >> beam.MapTuple(lambda key, value: (key, value[0]))
        want = [(("wikipedia", "wikipedia", k), n) for k, n in expected.items()]
        want += [(("wikipedia", "read", "files"), 4), (("wikipedia", "read", "documents"), 218),
                 (("wikipedia", "read", "malformed_records"), 1)]
        # The location stats.json keeps: the reader's own Malformed (its text is tested above).
        (bad,) = [m for m in iter_file(str(damaged), parse_mediawiki) if isinstance(m, Malformed)]
        want += [(("wikipedia", "read", f"malformed_at:{damaged}@{bad.offset}: {bad.error}"), 1)]
        assert_that(counts, equal_to(want), label="Stats")
        assert_that(result.kept | "Ids" >> beam.Map(lambda d: d.id), equal_to(kept_ids), label="KeptIds")
        assert_that(result.kept, no_markup, label="NoMarkup")
        assert_that(result.rejected | "Reasons" >> beam.Map(lambda r: r.reason), equal_to(
            ["disambiguation"] * 8 + ["namespace"] * 3 + ["redirect"] * 99), label="Reasons")

