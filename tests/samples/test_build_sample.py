"""The sample builder: real pages in valid WARC/WET files, with what the pipeline needs.

The expectations are checked with independent readers (fastwarc and warcio parse the
files; resiliparse's HTML parser reads the lang attributes; hashes are recomputed
here), not with the builder's own bookkeeping.
"""
from __future__ import annotations

import bz2
import copy
import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
from fastwarc.warc import ArchiveIterator as FastIterator
from fastwarc.warc import WarcRecordType
from resiliparse.parse.html import HTMLTree
from warcio.archiveiterator import ArchiveIterator as WarcioIterator

from samples import build_sample, fixtures

FOOTER = "© Copyright 2001-2026, Python Software Foundation."


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sample")
    return out, build_sample.build(out)


@pytest.fixture(scope="module")
def responses(sample) -> dict[str, dict]:
    """Response records read with warcio: URL -> record id, payload, file."""
    out, _ = sample
    found = {}
    for path in sorted((out / "cc").glob("*.warc.gz")):
        if path.name.endswith(".wet.gz"):
            continue
        with open(path, "rb") as f:
            for rec in WarcioIterator(f):
                if rec.rec_type == "response":
                    url = rec.rec_headers.get_header("WARC-Target-URI")
                    assert url not in found, f"{url} crawled twice"
                    found[url] = {"id": rec.rec_headers.get_header("WARC-Record-ID"),
                                  "payload": rec.content_stream().read(), "file": path.name}
    return found


@pytest.fixture(scope="module")
def conversions(sample) -> list[dict]:
    """WET conversion records read with fastwarc."""
    out, _ = sample
    found = []
    for path in sorted((out / "cc").glob("*.warc.wet.gz")):
        with open(path, "rb") as f:
            for rec in FastIterator(f, record_types=WarcRecordType.conversion):
                assert rec.headers["Content-Type"] == "text/plain"
                found.append({"url": rec.headers["WARC-Target-URI"], "refers_to": rec.headers["WARC-Refers-To"],
                              "text": rec.reader.read().decode("utf-8"), "file": path.name})
    return found


def test_layout_and_manifest_hashes(sample):
    out, manifest = sample
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == sorted([*manifest["files"], "MANIFEST.json"])
    warcs = [n for n in names if n.startswith("cc/") and not n.endswith(".wet.gz")]
    assert len(warcs) >= 2
    assert {n.replace(".warc.gz", ".warc.wet.gz") for n in warcs} == {n for n in names if n.endswith(".wet.gz")}
    for rel, meta in manifest["files"].items():
        assert sha256(out / rel) == meta["sha256"], rel
        assert (out / rel).stat().st_size == meta["bytes"], rel


def test_fastwarc_and_warcio_agree_and_digests_verify(sample):
    out, manifest = sample
    for path in sorted((out / "cc").iterdir()):
        with open(path, "rb") as f:
            fast = [(r.record_type, r.verify_block_digest()) for r in FastIterator(f, parse_http=False)]
        with open(path, "rb") as f:
            slow = [r.rec_type for r in WarcioIterator(f)]
        assert len(fast) == len(slow) == manifest["files"][f"cc/{path.name}"]["records"]
        assert slow[0] == "warcinfo" and fast[0][0] == WarcRecordType.warcinfo
        assert all(ok for _, ok in fast), f"{path.name}: a block digest does not verify"
        if path.name.endswith(".wet.gz"):
            assert set(slow[1:]) == {"conversion"}
        else:
            assert slow[1:] == ["request", "response"] * ((len(slow) - 1) // 2)
            with open(path, "rb") as f:
                recs = FastIterator(f, record_types=WarcRecordType.response, parse_http=True)
                assert all(r.verify_payload_digest() for r in recs)


def test_each_wet_record_refers_to_its_response(responses, conversions):
    by_id = {r["id"]: (url, r["file"]) for url, r in responses.items()}
    assert len(conversions) == len(responses)
    for c in conversions:
        url, file = by_id[c["refers_to"]]
        assert url == c["url"]
        assert c["file"] == file.replace(".warc.gz", ".warc.wet.gz")


def test_content_size_languages_and_sites(sample, responses, conversions):
    _, manifest = sample
    text_bytes = sum(len(c["text"].encode("utf-8")) for c in conversions)
    assert len(conversions) >= 1000
    assert text_bytes >= 5_000_000
    assert manifest["cc"]["documents"] == len(conversions)
    assert manifest["cc"]["text_bytes"] == text_bytes
    langs = set()
    for r in responses.values():
        html = HTMLTree.parse_from_bytes(r["payload"]).document.query_selector("html")
        if html is not None and html.getattr("lang"):
            langs.add(html.getattr("lang"))
    assert len(langs) >= 20
    hosts = Counter(url.split("/")[2] for url in responses)
    assert {"docs.python.org", "unicode.org", "www.iana.org", "www.ohchr.org"} <= set(hosts)


def test_navigation_and_footer_repeat_across_pages(conversions):
    docs = [c for c in conversions if c["url"].startswith("https://docs.python.org/")]
    with_footer = [c for c in docs if FOOTER in c["text"]]
    assert len(with_footer) > 0.9 * len(docs) > 300
    nav = Counter(line for c in docs for line in set(c["text"].splitlines()))
    assert nav["  • Python »"] > 300


def test_planted_exact_duplicates(sample, responses):
    _, manifest = sample
    pairs = manifest["cc"]["duplicates"]["planted_pairs"]
    assert manifest["cc"]["duplicates"]["planted"] == len(pairs) >= 50
    for original, duplicate in pairs:
        assert original != duplicate
        assert responses[original]["payload"] == responses[duplicate]["payload"]
    dup_urls = [d for _, d in pairs]
    assert any(u.startswith("https://docs.python.org/3/") for u in dup_urls)
    assert any(u.startswith("https://www.ohchr.org/") for u in dup_urls)
    # Every URL beyond the first with a given payload is an exact duplicate.
    payloads = Counter(hashlib.sha256(r["payload"]).digest() for r in responses.values())
    assert manifest["cc"]["duplicates"]["exact_duplicate_documents"] == sum(n - 1 for n in payloads.values())


def test_boilerplate_pages_are_short_and_mostly_navigation(sample, conversions):
    _, manifest = sample
    text = {c["url"]: c["text"] for c in conversions}
    listed = manifest["cc"]["boilerplate_pages"]
    assert "https://docs.python.org/3.11/search.html" in listed
    for url in listed:
        assert url in text
    search = text["https://docs.python.org/3.11/search.html"]
    assert len(search) < 2000 and FOOTER in search
    stub = text["https://unicode.org/udhr/d/udhr_tzm_tfng.html"]
    assert 0 < len(stub.splitlines()) <= 3


def test_wikipedia_files_are_gensims_as_shipped(sample):
    out, manifest = sample
    shipped = fixtures.gensim_wiki_files()
    en = out / "wikipedia" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.xml.bz2"
    bg = out / "wikipedia" / "bgwiki-latest-pages-articles-shortened.xml.bz2"
    assert sha256(en) == sha256(shipped["enwiki"])
    assert sha256(bg) == sha256(shipped["bgwiki"])
    assert bz2.decompress(en.read_bytes()).startswith(b"<mediawiki")
    bg_xml = bz2.decompress(bg.read_bytes())
    assert bg_xml[:2] == b"\xff\xfe" and bg_xml.decode("utf-16").count("<page>") >= 1
    assert manifest["files"]["wikipedia/" + en.name]["records"] > 100


def test_build_is_reproducible_and_skips_when_up_to_date(tmp_path):
    small = {"max_pages_per_source": 12, "pages_per_file": 10}
    a, b = tmp_path / "a", tmp_path / "b"
    build_sample.build(a, **small)
    build_sample.build(b, **small)
    files_a = {p.relative_to(a).as_posix(): sha256(p) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b).as_posix(): sha256(p) for p in b.rglob("*") if p.is_file()}
    assert files_a == files_b
    assert sum(1 for n in files_a if n.endswith(".warc.gz") and ".wet" not in n) >= 3

    warc = a / "cc" / "crawl-00000.warc.gz"
    before = warc.stat().st_mtime_ns
    build_sample.build(a, **small)
    assert warc.stat().st_mtime_ns == before  # up to date: nothing rewritten
    warc.write_bytes(b"damaged")
    build_sample.build(a, **small)
    assert sha256(warc) == files_a["cc/crawl-00000.warc.gz"]  # a damaged output is rebuilt
    assert json.loads((a / "MANIFEST.json").read_text())["builder"]["params"] == small


def test_content_check_fails_loudly(sample):
    _, manifest = sample
    build_sample.check(manifest)
    small = copy.deepcopy(manifest)
    small["cc"]["documents"] = 999
    small["cc"]["html_lang_attributes"] = 3
    with pytest.raises(RuntimeError, match="999 documents.*3 html lang"):
        build_sample.check(small)
    broken = copy.deepcopy(manifest)
    broken["cc"]["duplicates"]["exact_duplicate_groups"] = []
    with pytest.raises(RuntimeError, match="planted duplicate"):
        build_sample.check(broken)


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as e:
        build_sample.main(["--help"])
    assert e.value.code == 0
    assert "--out" in capsys.readouterr().out
