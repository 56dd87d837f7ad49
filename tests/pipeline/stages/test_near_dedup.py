"""The near_dedup stage on Beam's FnApiRunner: planted near-duplicates of real books, clusters,
oversized buckets. Expected similarities are exact Jaccard values computed here."""
from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # not collected by pytest
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to

from filters.document import Document
from filters.minhash import MinHashParams, word_shingles
from pipeline.stages.near_dedup import NearDedup

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def sample() -> Path:
    from samples.build_c4_books import build

    build(ROOT / "data" / "sample")
    return ROOT / "data" / "sample" / "books"


def as_text(data: bytes) -> str:
    return data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n")


def edit_lines(text: str, every: tuple[int, ...], period: int) -> tuple[str, float]:
    """Change the middle word of each selected line (of those with >= 3 words)."""
    lines = text.split("\n")
    eligible = [i for i, line in enumerate(lines) if len(line.split()) >= 3]
    for k, i in enumerate(eligible):
        if k % period in every:
            words = lines[i].split()
            words[len(words) // 2] = f"edited{k}"
            lines[i] = " ".join(words)
    edited = sum(1 for k in range(len(eligible)) if k % period in every)
    return "\n".join(lines), edited / len(eligible)


def exact_jaccard(a: str, b: str) -> float:
    x, y = word_shingles(a), word_shingles(b)
    return len(x & y) / len(x | y)


def book(doc_id: str, text: str) -> Document:
    return Document(id=f"books/{doc_id}", source="books", text=text)


def test_planted_near_duplicates_2_percent_removed_30_percent_kept(sample):
    original = as_text((sample / "areopagitica.txt").read_bytes())
    two, share2 = edit_lines(original, (0,), 50)
    thirty, share30 = edit_lines(original, (0, 3, 6), 10)
    assert share2 == pytest.approx(0.02, abs=0.002) and share30 == pytest.approx(0.30, abs=0.005)
    assert exact_jaccard(original, two) > 0.95  # independent of MinHash: the planted truth
    assert exact_jaccard(original, thirty) < 0.85
    hamlet = as_text((sample / "hamlet_gut.txt").read_bytes())
    folio = as_text((sample / "hamlet_gut_f.txt").read_bytes())
    assert exact_jaccard(hamlet, folio) < 0.3  # two editions: not near-duplicates
    docs = [book("areopagitica", original), book("areopagitica_edit02", two), book("areopagitica_edit30", thirty),
            book("hamlet", hamlet), book("hamlet_folio", folio), book("no_words", "... !!!")]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | NearDedup(MinHashParams(), "books")
        assert_that(result.kept | beam.Map(lambda d: d.id), equal_to([
            "books/areopagitica", "books/areopagitica_edit30", "books/hamlet", "books/hamlet_folio",
            "books/no_words"]), label="kept")

        def check_rejected(rows):
            [(doc_id, stage, reason, meta)] = rows
            if (doc_id, stage, reason) != ("books/areopagitica_edit02", "near_dedup", "near_duplicate"):
                raise BeamAssertException(f"rejected {rows}")
            if meta["duplicate_of"] != "books/areopagitica" or not 0.9 <= meta["similarity"] <= 1.0:
                raise BeamAssertException(f"meta {meta}")

        assert_that(result.rejected | beam.Map(lambda r: (r.doc.id, r.stage, r.reason, r.doc.meta)),
                    check_rejected, label="rejected")

        def check_stats(rows):
            got = dict(rows)
            want = {("books", "near_dedup", "in"): 6, ("books", "near_dedup", "kept"): 5,
                    ("books", "near_dedup", "dropped:near_duplicate"): 1, ("books", "near_dedup", "verified_pairs"): 1}
            for key, n in want.items():
                if got.get(key, (None,))[0] != n:
                    raise BeamAssertException(f"{key}: {got.get(key)} != {n}")
            # The 30% edit may or may not share a band with the original; the 2% edit must.
            if not 1 <= got[("books", "near_dedup", "candidate_pairs")][0] <= 3:
                raise BeamAssertException(f"candidate_pairs {got[('books', 'near_dedup', 'candidate_pairs')]}")

        assert_that(result.stats, check_stats, label="stats")


def words(start: int, n: int = 400) -> str:
    """n distinct words spelled in letters (shingling maps every digit to 0)."""
    def word(i: int) -> str:
        letters = ""
        while True:
            i, r = divmod(i, 26)
            letters += chr(ord("a") + r)
            if i == 0:
                return "w" + letters
    return " ".join(word(i) for i in range(start, start + n))


def test_cluster_resolution_and_oversized_buckets():
    # c ~ a and c ~ b (J = 0.5 each), a and b share nothing: c goes, a and b both stay.
    a, b_ = words(0), words(1000)
    c = a + " " + b_
    # x, y, z are identical: with max_bucket_size 2 every bucket is oversized, and each is
    # paired with the smallest id only; both y and z are still caught.
    x = words(5000)
    params = MinHashParams(num_perm=128, bands=64, rows=2, threshold=0.35, max_bucket_size=2)
    docs = [book("a", a), book("b", b_), book("c", c), book("x", x), book("y", x), book("z", x)]
    with BeamTestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | NearDedup(params, "books")
        assert_that(result.kept | beam.Map(lambda d: d.id), equal_to(["books/a", "books/b", "books/x"]), label="kept")
        assert_that(result.rejected | beam.Map(lambda r: (r.doc.id, r.doc.meta["duplicate_of"])), equal_to([
            ("books/c", "books/a"), ("books/y", "books/x"), ("books/z", "books/x")]), label="rejected")
        assert_that(result.stats | beam.Filter(lambda kv: kv[0][2].startswith("oversized")), equal_to([
            (("books", "near_dedup", "oversized_buckets"), (64, 0)),  # every band of x, y, z
            (("books", "near_dedup", "oversized_bucket_documents"), (3 * 64, 0)),
        ]), label="oversized")
