"""Reading raw files into Documents, shared by every source.

A source provides a Beam-free `parse(path, fileobj)` generator that yields
`Document`s and, for records it cannot read, `Malformed(path, offset, error)`
markers, then keeps going with the next good record. `ReadDocuments` matches the
input patterns (local or any Beam filesystem such as gs://), spreads files across
workers, applies the dry-run sampling options, counts malformed records (logging
the first few with file and offset) and reports read statistics.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from filters.document import Document
from pipeline.stats import STATS, SumStats, stat_row

log = logging.getLogger(__name__)

MALFORMED_LOG_LIMIT = 5  # per worker: enough to locate a problem without flooding logs


@dataclass(frozen=True, slots=True)
class Malformed:
    path: str
    offset: int  # byte offset of the bad record in the (compressed) file, or record index
    error: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A well-formed record that is not a document (a WARC request, a redirect, an image),
    yielded by parsers so that documents + skipped + malformed account for a whole file."""

    path: str
    offset: int
    kind: str  # why: counted in stats as read/skipped:<kind>
    nbytes: int  # the record's payload bytes


class MalformedInputError(RuntimeError):
    """Raised instead of skipping when `strict` is set."""


Parser = Callable[[str, BinaryIO], Iterator["Document | Malformed | Skipped"]]


@dataclass(frozen=True, slots=True)
class Sampling:
    """Dry-run sampling: deterministic by record id, so reruns pick the same records."""

    fraction: float = 1.0
    max_records_per_file: int | None = None

    def __post_init__(self):
        if not 0.0 < self.fraction <= 1.0:
            raise ValueError(f"sample.fraction must be in (0, 1], got {self.fraction}")
        if self.max_records_per_file is not None and self.max_records_per_file < 1:
            raise ValueError(f"sample.max_records_per_file must be >= 1, got {self.max_records_per_file}")

    @property
    def active(self) -> bool:
        return self.fraction < 1.0 or self.max_records_per_file is not None

    def keeps(self, doc_id: str) -> bool:
        if self.fraction >= 1.0:
            return True
        h = int.from_bytes(hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest(), "little")
        return h < self.fraction * 2**64


def iter_file(path: str, parse: Parser, sampling: Sampling = Sampling(), strict: bool = False):
    """Yield the documents and malformed markers of one file, with sampling applied."""
    kept = 0
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        for item in parse(path, f):
            if isinstance(item, Malformed):
                if strict:
                    raise MalformedInputError(f"{item.path} at offset {item.offset}: {item.error}")
                yield item
                continue
            if isinstance(item, Skipped):
                yield item
                continue
            if not sampling.keeps(item.id):
                continue
            yield item
            kept += 1
            if sampling.max_records_per_file is not None and kept >= sampling.max_records_per_file:
                return


class _ReadFile(beam.DoFn):
    """path -> its documents; read stats on the `stats` output: (source, "read", metric)
    with metric "files", "documents", "malformed_records" or "skipped:<kind>"."""

    def __init__(self, parse: Parser, source: str, sampling: Sampling, strict: bool):
        self._parse, self._source, self._sampling, self._strict = parse, source, sampling, strict

    def setup(self):
        self._logged = 0
        self._docs = Metrics.counter(f"read_{self._source}", "documents")
        self._malformed = Metrics.counter(f"read_{self._source}", "malformed_records")

    def process(self, path: str):
        source = self._source
        yield stat_row(source, "read", "files", 1, 0)
        for item in iter_file(path, self._parse, self._sampling, self._strict):
            if isinstance(item, Malformed):
                self._malformed.inc()
                if self._logged < MALFORMED_LOG_LIMIT:
                    log.warning("skipping malformed record in %s at offset %d: %s", item.path, item.offset, item.error)
                    self._logged += 1
                yield stat_row(source, "read", "malformed_records", 1, 0)
            elif isinstance(item, Skipped):
                yield stat_row(source, "read", f"skipped:{item.kind}", 1, item.nbytes)
            else:
                self._docs.inc()
                yield stat_row(source, "read", "documents", 1, item.nbytes)
                yield item


class ReadDocuments(beam.PTransform):
    """Patterns -> PCollection[Document]; `.stats` holds the read statistics.

    Returns the documents; read statistics ((source, "read", metric) -> (count, bytes))
    are available as `self.stats` after expansion.
    """

    def __init__(self, patterns: list[str], parse: Parser, source: str,
                 sampling: Sampling = Sampling(), strict: bool = False):
        super().__init__()
        if not patterns:
            raise ValueError(f"no input patterns for source {source!r}")
        self._patterns, self._parse, self._source = list(patterns), parse, source
        self._sampling, self._strict = sampling, strict
        self.stats = None

    def expand(self, pbegin):
        source = self._source
        paths = (
            pbegin
            | "Patterns" >> beam.Create(self._patterns)
            | "Match" >> fileio.MatchAll(fileio.EmptyMatchTreatment.DISALLOW)
            | "Paths" >> beam.Map(lambda m: m.path)
            # One file per element, redistributed so files spread across workers.
            | "SpreadFiles" >> beam.Reshuffle()
        )
        out = paths | "Parse" >> beam.ParDo(
            _ReadFile(self._parse, source, self._sampling, self._strict)
        ).with_outputs(STATS, main="docs")
        self.stats = out[STATS] | "ReadStats" >> SumStats()
        docs = out.docs
        return docs


def sampling_of(config: dict) -> Sampling:
    """The run config's dry-run sampling (`sample.*`)."""
    return Sampling(fraction=float(config["sample"]["fraction"]),
                    max_records_per_file=config["sample"]["max_records_per_file"])


def read_source(p, config: dict, source: str, parse: Parser):
    """Read `inputs.<source>` with the run's sampling and strictness: (documents, read stats)."""
    read = ReadDocuments(config["inputs"][source], parse, source, sampling_of(config), bool(config["strict"]))
    docs = p | f"Read_{source}" >> read
    return docs, read.stats
