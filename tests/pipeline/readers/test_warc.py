"""The WARC/WET reader on real WARC files written by other tools (pywb, warcbench,
warcat, wget, browsertrix), on files with planted corruption, and through ReadDocuments.

Expectations come from independent code: warcio (a different WARC parser) for record
offsets, types, ids and URLs; a zlib walk for gzip member boundaries.
"""
from __future__ import annotations

import gzip
import html
import io
import json
import pickle
import random
import re
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to
from warcio.archiveiterator import ArchiveIterator as WarcioIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from filters.document import Document
from pipeline.read import Malformed, ReadDocuments
from pipeline.readers.base import Skipped
from pipeline.readers.warc import make_parser, parse_warc
from pipeline.readers.warc_records import SKIP_KINDS
import registries
from samples import fixtures

ROOT = Path(__file__).resolve().parents[3]
HTML_TYPES = ("text/html", "application/xhtml+xml")


# ---------------------------------------------------------------- helpers

def read(data: bytes, name: str = "test.warc.gz", **kw) -> list:
    return list(parse_warc(name, io.BytesIO(data), report_skipped=True, **kw))


def read_path(path: Path, **kw) -> list:
    with open(path, "rb") as f:
        return list(parse_warc(str(path), f, report_skipped=True, **kw))


def split(items):
    docs = [i for i in items if isinstance(i, Document)]
    skipped = [i for i in items if isinstance(i, Skipped)]
    bad = [i for i in items if isinstance(i, Malformed)]
    assert len(docs) + len(skipped) + len(bad) == len(items)
    return docs, skipped, bad


def offsets(items) -> list[int]:
    """Record offsets of the well-formed records, in file order."""
    return [i.meta["offset"] if isinstance(i, Document) else i.offset for i in items if not isinstance(i, Malformed)]


def warcio_records(data: bytes) -> list[dict]:
    """Every record as warcio sees it: offset, type, id, uri, HTTP status and type, decoded body."""
    out = []
    it = WarcioIterator(io.BytesIO(data))
    for rec in it:
        http = rec.http_headers if rec.rec_type == "response" else None
        ctype = (http.get_header("Content-Type") or "").split(";")[0].strip().lower() if http else ""
        body = None  # read before get_record_offset(), which consumes the record
        if ctype in HTML_TYPES:
            try:
                body = rec.content_stream().read()
            except AttributeError:  # warcio 1.8 cannot use brotli >= 1.2's decompressor
                pass
        out.append({
            "offset": it.get_record_offset(),
            "type": rec.rec_type,
            "id": rec.rec_headers.get_header("WARC-Record-ID"),
            "uri": rec.rec_headers.get_header("WARC-Target-URI"),
            "status": http.get_statuscode() if http else None,
            "ctype": ctype,
            "body": body,
        })
    return out


def gzip_members(data: bytes) -> list[int]:
    """Offsets of the gzip members of data, found with zlib alone."""
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        z = zlib.decompressobj(31)
        z.decompress(data[pos:])
        assert z.eof, f"member at {pos} does not end"
        pos = len(data) - len(z.unused_data)
    return starts


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text))


def html_words(body: bytes) -> set[str]:
    text = re.sub(rb"<[^>]*>", b" ", body).decode("utf-8", "replace")
    return words(html.unescape(text))


def uuid_of(record_id: str) -> str:
    return record_id.strip("<>").removeprefix("urn:uuid:")


@pytest.fixture(scope="module")
def iana() -> bytes:
    return (fixtures.pywb_warcs() / "iana.warc.gz").read_bytes()


@pytest.fixture(scope="module")
def iana_records(iana) -> list[dict]:
    return warcio_records(iana)


# ---------------------------------------------------------------- real files

def test_iana_documents_match_what_warcio_finds(iana, iana_records):
    docs, skipped, bad = split(read(iana, "iana.warc.gz"))
    assert bad == []
    html_pages = [r for r in iana_records if r["type"] == "response" and r["status"] == "200"
                  and r["ctype"] in HTML_TYPES]
    assert len(html_pages) == 16
    assert [d.url for d in docs] == [r["uri"] for r in html_pages]
    assert [d.id for d in docs] == [f"cc/{uuid_of(r['id'])}" for r in html_pages]
    assert [d.meta["offset"] for d in docs] == [r["offset"] for r in html_pages]
    # Every record is accounted for exactly once, at warcio's offset.
    assert offsets(read(iana)) == [r["offset"] for r in iana_records]
    by_offset = {r["offset"]: r for r in iana_records}
    for s in skipped:
        assert s.kind in SKIP_KINDS
        rec = by_offset[s.offset]
        assert s.kind == (rec["type"] if rec["type"] != "response"
                          else "status_not_200" if rec["status"] != "200" else "not_html")
    for doc, rec in zip(docs, html_pages):
        assert doc.meta == {"warc_file": "iana.warc.gz", "offset": rec["offset"], "date": doc.meta["date"],
                            "content_type": "text/html", "warc_type": "response"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc.meta["date"])
        assert "\r" not in doc.text and "\x00" not in doc.text
        doc.text.encode("utf-8")
        # The text comes from this record's page (decoded from its chunked/gzip body).
        longest = max(doc.text.splitlines(), key=len)
        assert len(longest) > 40 and words(longest) <= html_words(rec["body"]), doc.url


def test_main_content_drops_boilerplate_the_full_extraction_keeps(iana):
    main = {d.url: d.text for d in read(iana) if isinstance(d, Document)}
    full = {d.url: d.text for d in read(iana, main_content=False) if isinstance(d, Document)}
    assert main.keys() == full.keys()
    assert sum(map(len, full.values())) > sum(map(len, main.values()))


def test_dupes_revisits_are_counted_not_read():
    data = (fixtures.pywb_warcs() / "dupes.warc.gz").read_bytes()
    recs = warcio_records(data)
    docs, skipped, bad = split(read(data))
    assert bad == []
    assert [d.url for d in docs] == [r["uri"] for r in recs if r["type"] == "response"
                                     and r["status"] == "200" and r["ctype"] == "text/html"]
    revisits = [r["offset"] for r in recs if r["type"] == "revisit"]
    assert len(revisits) == 9
    assert [s.offset for s in skipped if s.kind == "revisit"] == revisits


@pytest.mark.parametrize("name", [
    "dupes.warc.gz", "example.warc.gz", "example2.warc.gz", "example-wget-1-14.warc.gz",
    "example-wpull.warc.gz", "example-url-agnostic-orig.warc.gz", "post-test.warc.gz",
    "httpbin-resource.warc.gz",
])
def test_well_formed_pywb_files_account_for_every_record(name):
    data = (fixtures.pywb_warcs() / name).read_bytes()
    items = read(data, name)
    assert split(items)[2] == []
    assert offsets(items) == [r["offset"] for r in warcio_records(data)]


def test_other_tools_files_are_read_whole():
    # wget (warcat's at.warc, warcbench's fb.warc.gz with zstd bodies), Scoop
    # (warcbench's example.com.warc) and browsertrix (the WARCs inside the WACZs).
    files = [fixtures.warcat_warcs() / "at.warc", fixtures.warcat_warcs() / "at.warc.gz",
             *sorted(fixtures.warcbench_warcs().iterdir())]
    assert len(files) >= 6
    total_docs = 0
    for path in files:
        data = path.read_bytes()
        recs = warcio_records(data)
        items = read_path(path)
        docs, _, bad = split(items)
        assert bad == [], path.name
        assert offsets(items) == [r["offset"] for r in recs], path.name
        assert [d.url for d in docs] == [r["uri"] for r in recs if r["type"] == "response"
                                         and r["status"] == "200" and r["ctype"] in HTML_TYPES], path.name
        assert all(d.text.strip() for d in docs)
        if path.name == "fb.warc.gz":  # a chunked, zstd-encoded body
            assert "isn’t supported by Facebook" in docs[0].text
        total_docs += len(docs)
    assert total_docs == 9


def test_a_single_gzip_stream_is_read_with_offsets_in_the_decompressed_stream():
    # pywb ships it as "bad" because it cannot be indexed: one gzip stream, not a member per record.
    data = (fixtures.pywb_warcs() / "example-bad.warc.gz.bad").read_bytes()
    assert len(gzip_members(data)) == 1
    plain = gzip.decompress(data)
    recs = warcio_records(plain)
    items = read(data, "example-bad.warc.gz.bad")
    docs, _, bad = split(items)
    assert bad == []
    assert offsets(items) == [r["offset"] for r in recs] and len(recs) == 6
    assert [d.url for d in docs] == ["http://example.com?example=1"]


@pytest.mark.parametrize("name", ["bad.arc", "example.arc", "example.arc.gz"])
def test_an_arc_file_is_one_malformed_at_offset_zero(name):
    path = fixtures.pywb_warcs() / name
    items = read_path(path)
    assert len(items) == 1 and isinstance(items[0], Malformed)
    assert (items[0].path, items[0].offset) == (str(path), 0)
    assert "not a WARC file" in items[0].error and "filedesc://" in items[0].error


def test_a_zip_file_is_one_malformed():
    # warcbench's WACZ test assets, as shipped: zip files holding WARCs.
    with tarfile.open(registries.pypi("warcbench", fixtures.WARCBENCH, sdist=True)) as tar:
        wacz = tar.extractfile(f"warcbench-{fixtures.WARCBENCH}/tests/assets/example.com.wacz").read()
    items = read(wacz, "example.com.wacz")
    assert items == [Malformed("example.com.wacz", 0, "not a WARC file: it starts with " + repr(wacz[:24]))]


def test_pywb_example_warc_content_length_too_short_is_located():
    # Its 5th record declares 3 bytes fewer than it holds; warcio warns and goes on.
    path = fixtures.pywb_warcs() / "example.warc"
    data = path.read_bytes()
    recs = warcio_records(data)
    bad_offset = next(r["offset"] for r in recs if _declared_end_is_off(data, r["offset"]))
    items = read_path(path)
    docs, skipped, bad = split(items)
    assert [(b.path, b.offset) for b in bad] == [(str(path), bad_offset)]
    assert "Content-Length" in bad[0].error
    # The record after the bad one is still read.
    assert offsets(items) == [r["offset"] for r in recs if r["offset"] != bad_offset]
    assert recs[-1]["offset"] > bad_offset and skipped[-1].offset == recs[-1]["offset"]


def _declared_end_is_off(data: bytes, offset: int) -> bool:
    head_end = data.index(b"\r\n\r\n", offset) + 4
    length = int(re.search(rb"Content-Length: (\d+)", data[offset:head_end]).group(1))
    after = data[head_end + length: head_end + length + 4]
    return after not in (b"\r\n\r\n", b"")


def test_pywb_example_extra_bad_http_status_line():
    path = fixtures.pywb_warcs() / "example-extra.warc"
    data = path.read_bytes()
    bad_offset = data.rfind(b"WARC/1.0", 0, data.index(b"\r\nHTTPX/1.1 200"))
    items = read_path(path)
    docs, _, bad = split(items)
    assert [(b.offset, b.error) for b in bad] == [(bad_offset, "no valid HTTP status line: 'HTTPX/1.1 200 OK'")]
    assert offsets(items) == [r["offset"] for r in warcio_records(data) if r["offset"] != bad_offset]
    assert len(docs) == 1


def test_pywb_missing_status_text_with_cr_cr_lf_headers():
    # Header lines end in \r\r\n, so FastWARC finds no blank line ending the WARC
    # header and no HTTP status line: reported, never raised.
    path = fixtures.pywb_warcs() / "missing-status-text.warc"
    items = read_path(path)
    assert [(type(i), i.offset) for i in items] == [(Malformed, 0)]
    assert "HTTP status line" in items[0].error


@pytest.mark.parametrize("name", ["bad_http_chunked_content.warc", "not_utf8_http_header.warc",
                                  "long_url.warc", "c1_warcinfo.warc"])
def test_warcat_odd_files_are_accounted_for(name):
    # A broken chunked body, a non-UTF-8 HTTP header, a long URL, a WARC/0.18 record:
    # none is HTML, so each is one counted skip and nothing raises.
    items = read_path(fixtures.warcat_warcs() / name)
    assert [(type(i), i.offset) for i in items] == [(Skipped, 0)]
    assert items[0].kind == ("warcinfo" if name.startswith("c1_") else "not_html")


# ---------------------------------------------------------------- planted corruption

def _target(records: list[dict], url: str) -> int:
    return next(r["offset"] for r in records if r["type"] == "response" and r["uri"] == url)


def _corrupt_member(data: bytes, members: list[int], k: int, how: str) -> tuple[bytes, int, int]:
    """(corrupted data, offset expected in the Malformed, byte shift of later members)."""
    start, end = members[k], members[k + 1]
    if how == "deflate_zeroed":
        return data[:start + 40] + bytes(64) + data[start + 104:], start, 0
    if how == "member_truncated":
        cut = (end - start) // 2
        return data[:start + cut] + data[end:], start, -((end - start) - cut)
    if how == "gzip_header_overwritten":
        return data[:start] + b"NOT GZIP!!" + data[start + 10:], start, 0
    if how == "garbage_between_members":
        junk = b"<html>stray bytes</html>\n" * 3
        return data[:start] + junk + data[start:], start, len(junk)
    if how == "content_length_wrong":
        record = zlib.decompress(data[start:end], 31)
        length = re.search(rb"Content-Length: (\d+)", record)
        bad = record[:length.start(1)] + str(int(length.group(1)) + 500).encode() + record[length.end(1):]
        member = gzip.compress(bad, mtime=0)
        return data[:start] + member + data[end:], start, len(member) - (end - start)
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["deflate_zeroed", "member_truncated", "gzip_header_overwritten",
                                 "garbage_between_members", "content_length_wrong"])
def test_one_corrupt_gzip_member_costs_exactly_that_record(iana, iana_records, how):
    members = gzip_members(iana)
    assert members == [r["offset"] for r in iana_records]  # one record per member
    target = _target(iana_records, "http://www.iana.org/about")  # an HTML page mid-file
    k = members.index(target)
    assert 10 < k < len(members) - 10
    data, expected_offset, shift = _corrupt_member(iana, members, k, how)

    items = read(data)
    docs, _, bad = split(items)
    assert [b.offset for b in bad] == [expected_offset], [b.error for b in bad]
    # Every other record, before and after the bad one, is still read, at its offset.
    lost = how != "garbage_between_members"
    expected = members[:k] + [m + shift for m in members[k + lost:]]
    assert offsets(items) == expected
    clean = [r["uri"] for r in iana_records if r["type"] == "response" and r["status"] == "200"
             and r["ctype"] == "text/html"]
    assert [d.url for d in docs] == [u for u in clean if u != "http://www.iana.org/about" or not lost]


def test_a_truncated_last_gzip_member_is_reported(iana, iana_records):
    members = gzip_members(iana)
    data = iana[:members[-1] + (len(iana) - members[-1]) // 2]
    items = read(data)
    _, _, bad = split(items)
    assert [b.offset for b in bad] == [members[-1]]
    assert "truncated" in bad[0].error
    assert offsets(items) == members[:-1]


def test_random_damage_costs_only_the_damaged_records(iana):
    # Seeded random byte damage anywhere in the file: never an exception, one
    # Malformed, and every member the damage did not touch is read at its offset.
    members = gzip_members(iana)
    rng = random.Random(20260701)
    for _ in range(12):
        pos, n = rng.randrange(len(iana)), rng.choice([1, 4, 50, 500])
        how = rng.choice(["zero", "delete", "insert"])
        data, shift = {"zero": (iana[:pos] + bytes(n) + iana[pos + n:], 0),
                       "delete": (iana[:pos] + iana[pos + n:], -n),
                       "insert": (iana[:pos] + b"J" * n + iana[pos:], n)}[how]
        last_hit = pos if how == "insert" else min(pos + n, len(iana)) - 1
        first = max(i for i, m in enumerate(members) if m <= pos)
        last = max(i for i, m in enumerate(members) if m <= last_hit)
        items = read(data)
        assert len(split(items)[2]) == 1, (how, pos, n)
        kept = set(offsets(items))
        assert set(members[:first]) <= kept, (how, pos, n)
        assert {m + shift for m in members[last + 1:]} <= kept, (how, pos, n)


@pytest.fixture(scope="module")
def iana_plain(iana) -> bytes:
    return gzip.decompress(iana)


@pytest.mark.parametrize("how", ["garbage_line", "content_length_too_long", "record_cut_short"])
def test_plain_warc_resyncs_on_the_next_warc_line(iana_plain, how):
    recs = warcio_records(iana_plain)
    starts = [r["offset"] for r in recs]
    k = starts.index(_target(recs, "http://www.iana.org/domains"))
    start, end = starts[k], starts[k + 1]
    if how == "garbage_line":  # junk between records k-1 and k: reported where it starts
        junk = b"this line is not a WARC record\r\n"
        data, shift = iana_plain[:start] + junk + iana_plain[start:], len(junk)
        want = starts[:k] + [s + shift for s in starts[k:]]
    elif how == "content_length_too_long":  # record k claims 100 bytes of record k+1
        length = re.search(rb"Content-Length: (\d+)", iana_plain[start:start + 2000])
        new = str(int(length.group(1)) + 100).encode()
        data = iana_plain[:start + length.start(1)] + new + iana_plain[start + length.end(1):]
        want = starts[:k] + [s + len(new) - len(length.group(1)) for s in starts[k + 1:]]
    else:  # record k loses its last 1000 bytes
        data = iana_plain[:end - 1000] + iana_plain[end:]
        want = starts[:k] + [s - 1000 for s in starts[k + 1:]]
    items = read(data, "iana.warc")
    _, _, bad = split(items)
    assert [b.offset for b in bad] == [start], [b.error for b in bad]
    assert offsets(items) == want


def test_truncated_plain_warc_reports_the_last_record(iana_plain):
    starts = [r["offset"] for r in warcio_records(iana_plain)]
    items = read(iana_plain[:starts[-1] + 200], "iana.warc")
    _, _, bad = split(items)
    assert [b.offset for b in bad] == [starts[-1]] and "truncated" in bad[0].error
    assert offsets(items) == starts[:-1]


@pytest.mark.parametrize("how", ["zeroed", "truncated"])
def test_a_damaged_single_gzip_stream_is_read_up_to_the_damage(iana_plain, how):
    data = gzip.compress(iana_plain, mtime=0)
    half = len(data) // 2
    damaged = data[:half] + bytes(200) + data[half + 200:] if how == "zeroed" else data[:half]
    # The records that decompress whole from the bytes before the damage.
    intact = len(zlib.decompressobj(31).decompress(data[:half]))
    starts = [r["offset"] for r in warcio_records(iana_plain)]
    before = [s for s, nxt in zip(starts, starts[1:]) if nxt <= intact]
    assert 10 < len(before) < len(starts) - 10
    items = read(damaged)
    assert offsets(items)[:len(before)] == before
    bad = split(items)[2]
    assert bad and all(b.path == "test.warc.gz" and b.offset >= before[-1] for b in bad)


# ---------------------------------------------------------------- written with warcio

def _warc(records, gzip_members_: bool = True) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gzip_members_)
    writer.write_record(writer.create_warcinfo_record("test.warc.gz", {"software": "warcio"}))
    for rec in records:
        writer.write_record(rec(writer))
    return buf.getvalue()


def _conversion(uri: str, text: bytes, refers_to: str, lang: str | None = None):
    headers = {"WARC-Refers-To": refers_to, "Content-Type": "text/plain",
               "WARC-Date": "2026-07-01T00:00:07Z"}
    if lang:
        headers["WARC-Identified-Content-Language"] = lang
    return lambda w: w.create_warc_record(uri, "conversion", payload=io.BytesIO(text),
                                          warc_headers_dict=headers)


@pytest.mark.parametrize("gz", [True, False])
def test_wet_conversion_records(gz):
    texts = [
        ("https://example.org/a", b"First line\r\nSecond line\r\n",
         "<urn:uuid:00000000-0000-4000-8000-000000000001>"),
        ("https://example.org/b", "Zwölf Boxkämpfer\x00 jagen Viktor\rquer über den Sylter Deich".encode(),
         "<urn:uuid:00000000-0000-4000-8000-000000000002>"),
        ("https://example.org/c", b"   \n\n", "<urn:uuid:00000000-0000-4000-8000-000000000003>"),
        ("https://example.org/d", b"broken utf-8: \xff\xfe end", "<urn:uuid:00000000-0000-4000-8000-000000000004>"),
    ]
    data = _warc([_conversion(u, t, r, "deu,eng" if u.endswith("b") else None) for u, t, r in texts], gz)
    name = "CC-MAIN-x.warc.wet.gz" if gz else "CC-MAIN-x.warc.wet"
    recs = warcio_records(data)
    items = read(data, f"/data/{name}")
    docs, skipped, bad = split(items)
    assert bad == []
    assert [s.kind for s in skipped] == ["warcinfo", "no_text"]
    assert [d.text for d in docs] == ["First line\nSecond line\n",
                                      "Zwölf Boxkämpfer jagen Viktor\nquer über den Sylter Deich",
                                      "broken utf-8: \ufffd\ufffd end"]
    convs = [r for r in recs if r["type"] == "conversion" and r["uri"] != "https://example.org/c"]
    for doc, rec, (_, _, refers) in zip(docs, convs, [texts[0], texts[1], texts[3]]):
        assert doc.id == f"cc/{uuid_of(rec['id'])}" and doc.source == "cc"
        assert doc.url == rec["uri"]
        expected_meta = {"warc_file": name, "offset": rec["offset"], "date": "2026-07-01T00:00:07Z",
                         "content_type": "text/plain", "warc_type": "conversion",
                         "refers_to": refers.strip("<>")}
        if rec["uri"].endswith("b"):
            expected_meta["identified_languages"] = "deu,eng"
        assert doc.meta == expected_meta
    assert len({d.id for d in docs}) == 3


def _response(uri: str, body: bytes, headers: list[tuple[str, str]], status: str = "200 OK"):
    http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
    return lambda w: w.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=http)


PAGE = ("<html><head><title>T</title>{meta}</head><body><nav><ul><li><a href='/'>Home</a></li>"
        "<li><a href='/x'>Menu entry</a></li></ul></nav><main><h1>{title}</h1><p>{text}</p>"
        "<p>A second paragraph, long enough to count as the main content of this page.</p></main>"
        "<footer>Copyright footer</footer></body></html>")


def _page(title: str, text: str, meta: str = "") -> str:
    return PAGE.format(meta=meta, title=title, text=text)


def test_html_charsets_encodings_and_non_documents():
    cyrillic = "Всеобщая декларация прав человека"
    latin = "Déclaration universelle des droits de l’homme"
    japanese = "世界人権宣言は全ての人民と全ての国とが達成すべき共通の基準"
    utf8 = _page("utf8", "Plain UTF-8 page: naïve café").encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (utf8[:50], utf8[50:])) + b"0\r\n\r\n"
    records = [
        # charset from the HTTP header
        _response("http://a.test/1", _page("cp1251", cyrillic).encode("cp1251"),
                  [("Content-Type", "text/html; charset=windows-1251")]),
        # charset from the meta tag only
        _response("http://a.test/2", _page("sjis", japanese, '<meta charset="shift_jis">').encode("shift_jis"),
                  [("Content-Type", "text/html")]),
        # no charset at all: detected (cp1252 here)
        _response("http://a.test/3", _page("latin", latin).encode("cp1252"), [("Content-Type", "text/html")]),
        # gzip content coding and chunked transfer coding, stored as sent
        _response("http://a.test/4", gzip.compress(utf8, mtime=0),
                  [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")]),
        _response("http://a.test/5", chunked, [("Content-Type", "application/xhtml+xml"),
                                               ("Transfer-Encoding", "chunked")]),
        # headers claim gzip, but the crawler stored the body decoded
        _response("http://a.test/6", utf8, [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]),
        # char references to a surrogate and NUL: still valid UTF-8 out
        _response("http://a.test/7", _page("refs", "bad &#xD800; refs &#0; here").encode(),
                  [("Content-Type", "text/html")]),
        # not documents
        _response("http://a.test/404", utf8, [("Content-Type", "text/html")], "404 Not Found"),
        _response("http://a.test/img.png", b"\x89PNG\r\n\x1a\n", [("Content-Type", "image/png")]),
        _response("http://a.test/empty", b"<html><body></body></html>", [("Content-Type", "text/html")]),
        lambda w: w.create_warc_record("http://a.test/1", "request", payload=io.BytesIO(b""),
                                       http_headers=StatusAndHeaders("GET /1 HTTP/1.1", [], is_http_request=True)),
    ]
    data = _warc(records)
    docs, skipped, bad = split(read(data))
    assert bad == []
    text = {d.url: d.text for d in docs}
    assert list(text) == [f"http://a.test/{i}" for i in range(1, 8)]
    assert cyrillic in text["http://a.test/1"]
    assert japanese in text["http://a.test/2"]
    assert latin in text["http://a.test/3"]
    for i in (4, 5, 6):
        assert "Plain UTF-8 page: naïve café" in text[f"http://a.test/{i}"]
    assert "\ufffd" in text["http://a.test/7"] and "\x00" not in text["http://a.test/7"]
    for t in text.values():
        t.encode("utf-8")
        assert "Menu entry" not in t and "Copyright footer" not in t  # main content only
    assert [s.kind for s in skipped] == ["warcinfo", "status_not_200", "not_html", "no_text", "request"]
    assert {d.meta["content_type"] for d in docs} == {"text/html", "application/xhtml+xml"}

    full = [d for d in read(data, main_content=False) if isinstance(d, Document)]
    assert all("Menu entry" in d.text for d in full)


# ---------------------------------------------------------------- Beam

def test_make_parser_is_picklable_and_bound():
    parse = pickle.loads(pickle.dumps(make_parser(main_content=False, source="cc2")))
    data = _warc([_conversion("https://x.test/", b"hello", "<urn:uuid:00000000-0000-4000-8000-000000000009>")])
    (doc,) = list(parse("x.wet.gz", io.BytesIO(data)))
    assert doc.source == "cc2" and doc.id.startswith("cc2/")


def test_read_documents_through_beam(tmp_path, iana, iana_records):
    pywb = fixtures.pywb_warcs()
    paths = [pywb / "iana.warc.gz", pywb / "example.warc", pywb / "bad.arc"]
    expected_ids = [f"cc/{uuid_of(r['id'])}" for r in iana_records if r["type"] == "response"
                    and r["status"] == "200" and r["ctype"] == "text/html"]
    expected_ids += [f"cc/{uuid_of(r['id'])}" for r in warcio_records((pywb / "example.warc").read_bytes())
                     if r["type"] == "response" and r["status"] == "200"]
    assert len(expected_ids) == 17
    with test_pipeline.TestPipeline(runner="FnApiRunner") as p:
        read = ReadDocuments([str(x) for x in paths], make_parser(main_content=True, source="cc"), "cc")
        docs = p | read
        assert_that(docs | beam.Map(lambda d: d.id), equal_to(expected_ids), label="ids")
        assert_that(read.stats, equal_to([
            (("cc", "read", "documents"), (17, sum(len(d.text.encode()) for d in _docs_of(paths)))),
            (("cc", "read", "files"), (3, 0)),
            (("cc", "read", "malformed_records"), (2, 0)),  # example.warc's bad record, bad.arc
            # ...and where they are, kept for stats.json: file@offset: the error
            (("cc", "read", f"malformed_at:{pywb / 'example.warc'}@4061: Content-Length 320 does not end the record: "
                            "b'm\\r\\n\\r\\n\\r\\nWARC/1.0\\r' follows it (OSError: Invalid WARC header)"), (1, 0)),
            (("cc", "read", f"malformed_at:{pywb / 'bad.arc'}@0: not a WARC file: it starts with "
                            "b'filedesc://bad.arc.gz 12'"), (1, 0)),
        ]), label="stats")


def _docs_of(paths):
    return [d for path in paths for d in read_path(path) if isinstance(d, Document)]


# ---------------------------------------------------------------- the bundled sample

@pytest.fixture(scope="module")
def cc_sample(tmp_path_factory) -> Path:
    """data/sample (the bundled CommonCrawl-like sample), built into a temp dir if absent."""
    sample = ROOT / "data" / "sample"
    if not (sample / "MANIFEST.json").exists():
        sample = tmp_path_factory.mktemp("sample")
        subprocess.run([sys.executable, "-m", "samples.build_sample", "--out", str(sample)],
                       cwd=ROOT, check=True, capture_output=True, timeout=300)
    return sample


def test_sample_warc_and_its_wet_describe_the_same_pages(cc_sample):
    manifest = json.loads((cc_sample / "MANIFEST.json").read_text())
    warc = sorted((cc_sample / "cc").glob("*.warc.gz"))
    warc = [w for w in warc if not w.name.endswith(".wet.gz")][0]
    wet = warc.with_name(warc.name.replace(".warc.gz", ".warc.wet.gz"))
    warc_docs, warc_skipped, warc_bad = split(read_path(warc))
    wet_docs, wet_skipped, wet_bad = split(read_path(wet))
    assert warc_bad == [] and wet_bad == []
    w_info = manifest["files"][f"cc/{warc.name}"]
    assert len(warc_docs) + sum(s.kind == "no_text" for s in warc_skipped) == w_info["responses"]
    assert len(warc_docs) + len(warc_skipped) == w_info["records"]
    assert len(wet_docs) == manifest["files"][f"cc/{wet.name}"]["documents"]
    # Each WARC document has the WET document that refers to it, for the same URL.
    url_of = {f"urn:uuid:{d.id.removeprefix('cc/')}": d.url for d in warc_docs}
    matched = [d for d in wet_docs if d.meta["refers_to"] in url_of]
    assert len(matched) == len(warc_docs)
    assert all(d.url == url_of[d.meta["refers_to"]] for d in matched)


# ---------------------------------------------------------------- cc_net's reading (cc.line_dedup.mode cc_net)

def _reference_wet(data: bytes, gz: bool = True) -> list[tuple[str, str, str]]:
    """(url, title, raw_content) of every conversion record, as cc_net's group_by_docs and
    parse_doc read the file's text line by line (tests/cc_net_reference.py)."""
    from tests import cc_net_reference as ref

    raw = gzip.decompress(data) if gz else data
    lines = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", errors="replace")  # universal newlines
    return [(d["url"], d["title"], d["raw_content"]) for d in ref.read_wet(lines, min_len=0)]


def _ours(data: bytes, **kw) -> list[tuple[str, str, str]]:
    docs, _, bad = split(read(data, "x.warc.wet.gz", cc_net=True, **kw))
    assert bad == []
    return [(d.url, d.meta["title"], d.text) for d in docs]


CC_NET_BLOCKS = [
    # (text of the WET block, cc_net's title, cc_net's raw_content)
    (b"Title\nline one\n\n  indented  \nlast", "Title", "line one\n\nindented\nlast\n"),  # no final newline
    (b"Title\nA\n", "Title", "A"),  # a final newline: the last two (empty) lines go
    (b"Title\nA\n\n", "Title", "A\n"),
    (b"Title\r\nA\r\nB", "Title", "A\nB\n"),  # CRLF and a lone CR end lines too
    (b"Ti\rtle\nA", "Ti", "tle\nA\n"),
    (b"\nFirst real line\nSecond", "", "First real line\nSecond\n"),  # a blank first line is the title
    (b"Only a title", "Only a title", ""),  # a document with no text: min_length drops it
    ("  Zwölf\u00a0\nBoxkämpfer\t \n\x0bjagen".encode(), "Zwölf", "Boxkämpfer\njagen\n"),  # str.strip()
]


@pytest.mark.parametrize("gz", [True, False])
def test_cc_net_reading_equals_cc_nets_group_by_docs_and_parse_doc(gz):
    data = _warc([_conversion(f"https://cc.test/{i}", block, f"<urn:uuid:00000000-0000-4000-8000-{i:012d}>")
                  for i, (block, _, _) in enumerate(CC_NET_BLOCKS)], gz)
    expected = [(f"https://cc.test/{i}", title, text) for i, (_, title, text) in enumerate(CC_NET_BLOCKS)]
    assert _reference_wet(data, gz) == expected  # the hand-written expectations are cc_net's
    assert _ours(data) == expected


def test_cc_net_reading_skips_a_blank_page_and_keeps_the_other_metadata():
    data = _warc([_conversion("https://cc.test/blank", b" \n\t\n", "<urn:uuid:00000000-0000-4000-8000-000000000001>"),
                  _conversion("https://cc.test/page", b"T\nBody", "<urn:uuid:00000000-0000-4000-8000-000000000002>")])
    docs, skipped, _ = split(read(data, "x.warc.wet.gz", cc_net=True))
    assert [s.kind for s in skipped] == ["warcinfo", "no_text"]  # cc_net's raw_content "" fails any min_len
    (doc,) = docs
    assert doc.text == "Body\n" and doc.meta["title"] == "T"
    assert doc.meta["refers_to"] == "urn:uuid:00000000-0000-4000-8000-000000000002"
    assert doc.meta["warc_type"] == "conversion"


def test_cc_net_reading_of_the_sample_crawl_equals_cc_nets():
    paths = sorted((ROOT / "data" / "sample" / "cc").glob("*.warc.wet.gz"))
    assert paths, "data/sample is missing: `make test` builds it (make sample)"
    for path in paths:
        data = path.read_bytes()
        expected = _reference_wet(data)
        assert len(expected) >= 280
        assert _ours(data) == expected


def test_cc_net_reading_refuses_warc_responses_with_what_to_do():
    from pipeline.readers.warc_records import CcNetInputError

    data = _warc([_response("http://a.test/1", _page("t", "text").encode(), [("Content-Type", "text/html")])])
    with pytest.raises(CcNetInputError, match=r"WET.*cc\.line_dedup\.mode: normalized"):
        read(data, "crawl.warc.gz", cc_net=True)
    assert [d.url for d in split(read(data))[0]] == ["http://a.test/1"]  # mode normalized reads it


def test_the_cc_net_parser_is_picklable_and_bound():
    parse = pickle.loads(pickle.dumps(make_parser(source="cc", cc_net=True)))
    data = _warc([_conversion("https://x.test/", b"Title\nhello", "<urn:uuid:00000000-0000-4000-8000-000000000009>")])
    items = list(parse("x.wet.gz", io.BytesIO(data)))
    assert [(d.text, d.meta["title"]) for d in items] == [("hello\n", "Title")]
