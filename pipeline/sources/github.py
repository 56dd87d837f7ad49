"""GitHub curation: licence, per-file rules, exact dedup across repositories.

    files -> license -> code_rules -> exact_dedup -> kept
               \\___________\\______________\\______-> rejected, stats

The two filters are Beam-free (filters/github.py) and run through the generic
FilterStage. Exact dedup is global, so it goes through Beam's shuffle: files are
keyed by a 128-bit hash of their exact text (after the licence header is stripped,
so copies that differ only in a header's year or holder still match), grouped, and
the file with the smallest id is kept. Code is compared byte for byte, not
normalised as prose is (filters.normalize): in code, case and punctuation matter.
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import apache_beam as beam

from filters.github import (
    EXTENSIONS, FILENAMES, MAX_FILE_BYTES, MAX_LINE_LENGTH, MEAN_LINE_LENGTH, MIN_ALNUM_FRACTION, CodeFileFilter,
    LicenseFilter,
)
from filters.licenses import COMMON_LICENSES, DEFAULT_THRESHOLD, PERMISSIVE
from pipeline.readers.github import ArchiveLimits, make_parser
from pipeline.settings import at_least, between, section
from pipeline.sources.base import LlamaShare, Source
from pipeline.stages.judge import FilterStage, Judge, judged
from pipeline.stats import StageResult, run_stages

NAME = "github"
EXACT_DEDUP = "exact_dedup"
DUPLICATE = "duplicate_file"


@dataclass(frozen=True, kw_only=True)
class GitHubSettings:
    """Config `github` (commented in configs/llama.yaml); defaults are the filters' constants."""

    licenses: tuple[str, ...] = PERMISSIVE  # SPDX ids; LLaMA-1: Apache, BSD, MIT
    license_texts_dir: str = COMMON_LICENSES  # reference licence texts (Debian base-files)
    license_threshold: float = between(DEFAULT_THRESHOLD, 0, 1)
    extensions: tuple[str, ...] | None = None  # None: RedPajama's whitelist (filters.github.EXTENSIONS)
    filenames: tuple[str, ...] | None = None  # None: filters.github.FILENAMES
    max_file_bytes: int = at_least(MAX_FILE_BYTES, 1)
    max_line_length: int = at_least(MAX_LINE_LENGTH, 1)
    mean_line_length: float = at_least(MEAN_LINE_LENGTH, 1)
    min_alnum_fraction: float = between(MIN_ALNUM_FRACTION, 0, 1)
    archive: ArchiveLimits = section(ArchiveLimits)


def content_key(text: str) -> bytes:
    """128 bits of blake2b over the exact UTF-8 text: collisions are out of reach."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class _KeepSmallestId(beam.DoFn):
    """(content key, files with that content) -> the smallest id kept, the others rejected."""

    def __init__(self, source: str):
        self._source = source

    def setup(self):
        self._judge = Judge(self._source, EXACT_DEDUP, [DUPLICATE])

    def process(self, element):
        _, docs = element
        it = iter(docs)
        first = next(it)
        if next(it, None) is None:  # the common case: content seen once
            yield from self._judge.arrived(first)
            yield from self._judge.keep(first)
            return
        # Two passes: a runner may page a large group back in rather than hold it.
        winner = min(d.id for d in docs)
        kept = False
        for doc in docs:
            yield from self._judge.arrived(doc)
            if doc.id == winner and not kept:
                kept = True
                yield from self._judge.keep(doc)
            else:
                dup = dataclasses.replace(doc, meta={**doc.meta, "duplicate_of": winner})
                yield from self._judge.drop(dup, DUPLICATE)


class ExactFileDedup(beam.PTransform):
    """Stage "exact_dedup": one file per exact content, across all repositories."""

    def __init__(self, source: str = NAME):
        super().__init__()
        self._source = source

    def expand(self, docs) -> StageResult:
        grouped = (
            docs
            | "KeyByContent" >> beam.Map(lambda d: (content_key(d.text), d))
            | "GroupByContent" >> beam.GroupByKey()
        )
        return judged(grouped, "KeepSmallestId", _KeepSmallestId(self._source))


class CurateGitHub(beam.PTransform):
    """license -> code_rules -> exact_dedup on file documents from pipeline.readers.github."""

    def __init__(self, license_filter: LicenseFilter, code_filter: CodeFileFilter, source: str = NAME):
        super().__init__()
        self._license, self._code, self._source = license_filter, code_filter, source

    def expand(self, docs) -> StageResult:
        return run_stages(docs, [
            ("License", FilterStage(self._license, self._source)),
            ("CodeRules", FilterStage(self._code, self._source)),
            ("ExactDedup", ExactFileDedup(self._source)),
        ])


def filters_from_config(gh: GitHubSettings) -> tuple[LicenseFilter, CodeFileFilter]:
    code = CodeFileFilter(
        extensions=gh.extensions if gh.extensions is not None else EXTENSIONS,
        filenames=gh.filenames if gh.filenames is not None else FILENAMES,
        max_file_bytes=gh.max_file_bytes, max_line_length=gh.max_line_length,
        mean_line_length=gh.mean_line_length, min_alnum_fraction=gh.min_alnum_fraction,
    )
    return LicenseFilter(gh.licenses), code


def parser_from_config(gh: GitHubSettings):
    return make_parser(gh.archive, max_file_bytes=gh.max_file_bytes,
                       license_texts_dir=gh.license_texts_dir, license_threshold=gh.license_threshold)


def parser_for(gh: GitHubSettings):
    """The reader of inputs.github; a missing reference licence text fails here, on the launcher."""
    parse = parser_from_config(gh)
    parse.keywords["detector"].setup()
    return parse


SOURCE = Source(
    name=NAME,
    settings=GitHubSettings,
    parser=parser_for,
    curate=lambda gh, cards: CurateGitHub(*filters_from_config(gh)),
    stages=lambda gh: (LicenseFilter.stage, CodeFileFilter.stage, EXACT_DEDUP),
    llama=LlamaShare(0.045, 0.64, "328 GB"),
)
