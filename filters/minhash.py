"""MinHash signatures and LSH band keys for near-duplicate detection (the per-document half).

"90% content overlap" is the Jaccard similarity of two documents' sets of word
n-gram shingles (n = 5), estimated from datasketch MinHash signatures. Locality-
sensitive hashing splits a signature of `bands * rows` values into `bands` bands;
two documents become a candidate pair when any band matches exactly, which happens
with probability 1 - (1 - J^rows)^bands (the S-curve, steepest near
(1 / bands)^(1 / rows)). Candidates are then verified on the full signature. The
global half (bucketing by band key, pairing, verifying, resolving) is a Beam
shuffle in pipeline.stages.near_dedup.

Words are those of `filters.normalize.normalize_line` (lower case, no punctuation,
digits as 0), so re-typeset copies of a book shingle alike. Signatures use
datasketch's "affine32" scheme with a fixed seed, as uint32 values; every worker
must use the same datasketch version (>= 2.0) for signatures to agree.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from filters.normalize import normalize_line

__all__ = [
    "MinHashParams", "MinHasher", "word_shingles", "band_keys", "estimated_jaccard",
    "s_curve_threshold", "candidate_probability",
]

SCHEME = "affine32"
SIGNATURE_DTYPE = np.dtype("<u4")


@dataclass(frozen=True, slots=True)
class MinHashParams:
    """Near-duplicate settings (config `books.near_dedup`); see configs for the defaults' origin."""

    shingle_size: int = 5
    num_perm: int = 128
    bands: int = 12
    rows: int = 10
    threshold: float = 0.9
    seed: int = 1
    max_bucket_size: int = 1000

    def __post_init__(self):
        for name in ("shingle_size", "num_perm", "bands", "rows", "max_bucket_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.max_bucket_size < 2:
            raise ValueError(f"max_bucket_size must be >= 2, got {self.max_bucket_size}")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands * rows ({self.bands} * {self.rows}) must not exceed num_perm ({self.num_perm})"
            )
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")


def s_curve_threshold(bands: int, rows: int) -> float:
    """The similarity where the LSH S-curve is steepest: (1 / bands) ** (1 / rows)."""
    return (1.0 / bands) ** (1.0 / rows)


def candidate_probability(jaccard: float, bands: int, rows: int) -> float:
    """Probability that two documents with this Jaccard similarity share a band."""
    return 1.0 - (1.0 - jaccard ** rows) ** bands


def word_shingles(text: str, n: int = 5) -> set[bytes]:
    """The set of word n-grams of the normalised text (UTF-8, words joined by a space).

    A text with fewer than n words (but at least one) is a single shingle.
    """
    words = normalize_line(text).split()
    if not words:
        return set()
    if len(words) <= n:
        return {" ".join(words).encode("utf-8", "surrogatepass")}
    return {" ".join(words[i:i + n]).encode("utf-8", "surrogatepass") for i in range(len(words) - n + 1)}


class MinHasher:
    """datasketch MinHash signatures with fixed permutations, built once per process."""

    def __init__(self, num_perm: int = 128, seed: int = 1, shingle_size: int = 5):
        self.num_perm, self.seed, self.shingle_size = num_perm, seed, shingle_size
        self._template = None

    def __getstate__(self):
        return {**self.__dict__, "_template": None}  # permutations are rebuilt from the seed

    def _minhash(self):
        from datasketch import MinHash

        if self._template is None:
            self._template = MinHash(num_perm=self.num_perm, seed=self.seed, scheme=SCHEME)
        return MinHash(num_perm=self.num_perm, seed=self.seed, scheme=SCHEME,
                       permutations=self._template.permutations)

    def signature(self, text: str) -> np.ndarray | None:
        """uint32 array of num_perm values, or None for a text with no words."""
        shingles = word_shingles(text, self.shingle_size)
        if not shingles:
            return None
        m = self._minhash()
        m.update_batch(list(shingles))
        return np.asarray(m.hashvalues, dtype=SIGNATURE_DTYPE)


def band_keys(signature: np.ndarray, bands: int, rows: int) -> list[int]:
    """One signed 64-bit key per band: a hash of (band index, the band's values).

    The band index is hashed in, so equal values in different bands never meet.
    """
    sig = np.ascontiguousarray(signature, dtype=SIGNATURE_DTYPE)
    keys = []
    for b in range(bands):
        h = hashlib.blake2b(sig[b * rows:(b + 1) * rows].tobytes(), digest_size=8, salt=b.to_bytes(8, "little"))
        keys.append(int.from_bytes(h.digest(), "little", signed=True))
    return keys


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """The MinHash estimate: the share of positions where the two signatures agree."""
    if len(a) != len(b):
        raise ValueError(f"signatures of different lengths: {len(a)} and {len(b)}")
    return float(np.count_nonzero(np.asarray(a) == np.asarray(b))) / len(a)

