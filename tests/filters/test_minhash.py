"""MinHash signatures and LSH band keys, checked against exact Jaccard computed here."""
import pickle
from pathlib import Path

import numpy as np
import pytest

from filters.minhash import (
    MinHasher, MinHashParams, band_keys, candidate_probability, estimated_jaccard, s_curve_threshold,
    word_shingles,
)

ROOT = Path(__file__).resolve().parents[2]


def exact_jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def test_word_shingles_are_normalised_five_grams():
    assert word_shingles("The cat, the HAT; and 2 dogs!", 5) == {
        b"the cat the hat and", b"cat the hat and 0", b"the hat and 0 dogs"}
    assert word_shingles("Only three words", 5) == {b"only three words"}
    assert word_shingles("... !!", 5) == set()


def test_identical_texts_have_identical_signatures_across_instances_and_pickling():
    text = "It is a truth universally acknowledged that a single man in possession of a good fortune"
    a = MinHasher(num_perm=64, seed=3).signature(text)
    b = pickle.loads(pickle.dumps(MinHasher(num_perm=64, seed=3))).signature(text)
    assert a.dtype == np.dtype("<u4") and a.shape == (64,)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, MinHasher(num_perm=64, seed=4).signature(text))
    assert MinHasher().signature("  ...  ") is None


@pytest.fixture(scope="module")
def book() -> str:
    from samples.build_c4_books import build

    build(ROOT / "data" / "sample")
    return (ROOT / "data" / "sample" / "books" / "areopagitica.txt").read_text(encoding="utf-8")


def test_estimate_tracks_exact_jaccard_on_a_real_book(book):
    lines = book.split("\n")
    edited = [("changed " + line) if i % 4 == 0 and line.strip() else line for i, line in enumerate(lines)]
    other = "\n".join(edited)
    exact = exact_jaccard(word_shingles(book), word_shingles(other))
    hasher = MinHasher(num_perm=256)
    estimate = estimated_jaccard(hasher.signature(book), hasher.signature(other))
    assert 0.4 < exact < 0.9
    # The estimator's standard deviation is sqrt(J(1-J)/256) < 0.032: allow four of them.
    assert abs(estimate - exact) < 0.13


def test_band_keys_match_only_equal_bands_in_the_same_position():
    sig = np.arange(20, dtype="<u4")
    other = sig.copy()
    other[7] += 1  # changes band 1 of (4 bands x 5 rows)
    a, b = band_keys(sig, 4, 5), band_keys(other, 4, 5)
    assert [x == y for x, y in zip(a, b)] == [True, False, True, True]
    same_values = np.concatenate([sig[:5], sig[:5]])  # band 1 holds band 0's values
    keys = band_keys(same_values, 2, 5)
    assert keys[0] != keys[1]


def test_s_curve_of_the_defaults():
    p = MinHashParams()
    assert (p.shingle_size, p.num_perm, p.bands, p.rows, p.threshold) == (5, 128, 12, 10, 0.9)
    assert s_curve_threshold(12, 10) == pytest.approx((1 / 12) ** 0.1)
    assert s_curve_threshold(12, 10) == pytest.approx(0.7799, abs=1e-4)
    # A pair at the 0.9 threshold is a candidate 99.4% of the time; one at 0.5, 1.2%.
    assert candidate_probability(0.9, 12, 10) == pytest.approx(1 - (1 - 0.9 ** 10) ** 12)
    assert candidate_probability(0.9, 12, 10) > 0.99
    assert candidate_probability(0.5, 12, 10) < 0.02


@pytest.mark.parametrize("kwargs, message", [
    ({"bands": 20, "rows": 10}, "must not exceed num_perm"),
    ({"threshold": 0}, "threshold"),
    ({"shingle_size": 0}, "shingle_size"),
    ({"max_bucket_size": 1}, "max_bucket_size"),
])
def test_invalid_params(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MinHashParams(**kwargs)
