"""Reading raw files into Documents on Beam, shared by every source.

Parsers are Beam-free (`pipeline.readers`, whose `base` module says what they
yield). `ReadDocuments` matches the
input patterns (local or any Beam filesystem such as gs://), spreads files across
workers, applies the dry-run sampling options, counts malformed records (logging
the first few with file and offset) and reports read statistics.
"""
from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from pipeline.readers.base import Malformed, MalformedInputError, Parser, Sampling, Skipped
from pipeline.stats import STATS, SumStats, stat_row

log = logging.getLogger(__name__)

MALFORMED_LOG_LIMIT = 5  # per worker: enough to locate a problem without flooding logs
MALFORMED_EXAMPLES = 5  # per file, kept in stats.json (read.malformed_at) with their offsets


def iter_file(path: str, parse: Parser, sampling: Sampling = Sampling(), strict: bool = False):
    """Yield the documents and malformed markers of one file, with sampling applied.

    A file that yields nothing at all (zero bytes, an empty gzip stream, a JSON-lines
    file without a line) is itself reported as malformed: a silent empty input is
    usually a failed download."""
    kept = 0
    seen = False
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        for item in parse(path, f):
            seen = True
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
    if not seen:
        empty = Malformed(path, 0, "no records: the file is empty, or an empty compressed stream")
        if strict:
            raise MalformedInputError(f"{path}: {empty.error}")
        yield empty


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
        malformed = 0
        for item in iter_file(path, self._parse, self._sampling, self._strict):
            if isinstance(item, Malformed):
                self._malformed.inc()
                if self._logged < MALFORMED_LOG_LIMIT:
                    log.warning("skipping malformed record in %s at offset %d: %s", item.path, item.offset, item.error)
                    self._logged += 1
                yield stat_row(source, "read", "malformed_records", 1, 0)
                malformed += 1
                if malformed <= MALFORMED_EXAMPLES:
                    where = f"{item.path}@{item.offset}: {' '.join(item.error.split())[:200]}"
                    yield stat_row(source, "read", f"malformed_at:{where}", 1, 0)
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


def read_source(p, config, source: str, parse: Parser):
    """Read `inputs.<source>` with the run's sampling and strictness: (documents, read stats)."""
    read = ReadDocuments(getattr(config.inputs, source), parse, source, config.sample, config.strict)
    docs = p | f"Read_{source}" >> read
    return docs, read.stats
