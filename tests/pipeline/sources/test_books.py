"""Books: the reader on the real sample and broken copies of it, MinHash LSH near-duplicate
removal on Beam (planted edits of a real book, cluster resolution, oversized buckets), and
the whole source through `curate_source` on FnApiRunner.

Expectations come from the files read with the standard library, or from exact Jaccard
similarities computed here.
"""
import gzip
import io
import tarfile
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # not collected by pytest
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to

from pipeline.config import config_from
from pipeline.curate import curate_source
from pipeline.readers.base import Malformed
from pipeline.readers.books import parse_books

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample" / "books"


@pytest.fixture(scope="module")
def sample() -> Path:
    from samples.build_c4_books import build

    build(ROOT / "data" / "sample")
    return SAMPLE


def parse(path: str, data: bytes) -> list:
    return list(parse_books(path, io.BytesIO(data)))


def as_text(data: bytes) -> str:
    return data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")


# ---------------------------------------------------------------- reader

def test_reader_on_the_real_text_files(sample):
    files = sorted(sample.glob("*.txt"))
    assert len(files) == 8
    for f in files:
        [doc] = parse(str(f), f.read_bytes())
        assert doc.id == f"books/{f.stem}"
        assert doc.text == as_text(f.read_bytes())
        assert "\r" not in doc.text
        assert doc.meta == {"file": f.name}


def test_reader_on_the_real_tarball(sample):
    tarball = sample / "plain-texts.tar.gz"
    with tarfile.open(tarball) as tar:
        expected = [(f"books/plain-texts/{m.name.removesuffix('.txt')}", as_text(tar.extractfile(m).read()))
                    for m in tar.getmembers()]
    docs = parse(str(tarball), tarball.read_bytes())
    assert [(d.id, d.text) for d in docs] == expected
    assert len(docs) == 3 and docs[0].meta == {"file": "plain-texts.tar.gz", "member": "sonnets_gut.txt"}


def test_invalid_utf8_book_is_skipped_with_its_byte_offset(sample):
    data = bytearray((sample / "allegro.txt").read_bytes())
    data[5000:5001] = b"\xff"
    [bad] = parse("allegro-bad.txt", bytes(data))
    assert isinstance(bad, Malformed) and bad.offset == 5000
    assert "invalid UTF-8 at byte 5000" in bad.error


def test_truncated_gzip_book_is_skipped(sample):
    data = gzip.compress((sample / "allegro.txt").read_bytes())
    [bad] = parse("allegro.txt.gz", data[: len(data) // 2])
    assert isinstance(bad, Malformed) and "truncated or corrupt gzip" in bad.error
    [doc] = parse("allegro.txt.gz", data)  # the whole file reads fine
    assert doc.id == "books/allegro"


def test_truncated_tarball_yields_the_whole_members_then_one_malformed(sample):
    data = (sample / "plain-texts.tar.gz").read_bytes()
    out = parse("plain-texts.tar.gz", data[: len(data) // 2])
    assert [d.id for d in out[:-1]] == ["books/plain-texts/sonnets_gut"]
    assert isinstance(out[-1], Malformed) and "truncated or corrupt archive" in out[-1].error
    assert out[-1].offset > 0


def test_tar_member_with_invalid_utf8_is_skipped_and_the_rest_read(sample):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("good.txt", b"A good book.\n"), ("bad.txt", b"caf\xe9\n"), ("notes.md", b"skip"),
                           ("also-good.txt", b"Another book.\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = parse("shelf.tar.gz", buf.getvalue())
    assert [getattr(d, "id", None) for d in out] == ["books/shelf/good", None, "books/shelf/also-good"]
    assert "member bad.txt: invalid UTF-8 at byte 3" in out[1].error


# ---------------------------------------------------------------- the source end to end

def test_build_books_on_the_sample(sample):
    config = config_from({
        "inputs": {"books": [str(sample / "*.txt"), str(sample / "*.tar.gz")]},
        "books": {"near_dedup": {"shingle_size": 5, "num_perm": 128, "bands": 12, "rows": 10,
                                 "threshold": 0.9, "seed": 1, "max_bucket_size": 1000}},
    })
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result, read_stats = curate_source(p, config, "books", {})
        assert_that(result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.meta.get("duplicate_of"))),
                    equal_to([
                        # Milton's editions ship twice, byte-identical; the smaller id of each pair stays.
                        ("books/areopagitica_gut", "near_dedup", "near_duplicate", "books/areopagitica"),
                        ("books/paradiseregained", "near_dedup", "near_duplicate", "books/paradise_regained_gut"),
                        ("books/lallegro_il_penseroso_comus_and_lycidas_gut", "near_dedup", "near_duplicate",
                         "books/allegro"),
                    ]), label="rejected")
        assert_that(result.kept | beam.Map(lambda d: (d.id, d.meta["gutenberg_markers"], "Project Gutenberg" in d.text)),
                    equal_to([
                        ("books/allegro", "none", False),
                        ("books/areopagitica", "none", False),
                        ("books/hamlet_gut", "both", False),  # wrapped in the sample: stripped
                        ("books/hamlet_gut_f", "none", False),
                        ("books/paradise_regained_gut", "both", False),
                        ("books/plain-texts/sonnets_gut", "none", False),
                        ("books/plain-texts/tempest_gut", "none", False),
                        ("books/plain-texts/macbeth_gut", "none", False),
                    ]), label="kept")

        def check_stats(rows):
            got = {k: v[0] for k, v in rows}
            want = {
                ("books", "gutenberg", "in"): 11, ("books", "gutenberg", "kept"): 11,
                ("books", "gutenberg", "markers:both"): 3, ("books", "gutenberg", "markers:none"): 8,
                ("books", "near_dedup", "in"): 11, ("books", "near_dedup", "kept"): 8,
                ("books", "near_dedup", "dropped:near_duplicate"): 3,
            }
            for key, n in want.items():
                if got.get(key) != n:
                    raise BeamAssertException(f"{key}: {got.get(key)} != {n}")

        assert_that(result.stats, check_stats, label="stats")
        assert_that(read_stats | beam.Map(lambda kv: (kv[0], kv[1][0])), equal_to([
            (("books", "read", "documents"), 11), (("books", "read", "files"), 9),
        ]), label="read")
