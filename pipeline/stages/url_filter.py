"""Stage "url_filter": pages whose host or a parent domain is on a blocklist are dropped (`url_blocklist`).

Config `url_filter`: `blocklists` lists files of domains in the format of public
blocklists such as UT1's (`filters.url_blocklist`); `sources` the sources whose
chain it opens (CommonCrawl and C4 by default). It runs first in those chains,
before any dedup, so a blocked copy of a page never takes its clean duplicates down
with it (cc_net's line dedup removes a line shared by two pages from both).

pipeline.sources registers it (HEAD); like every stage module, this one imports
nothing of pipeline.sources at load time, since workers import it on their own.

Each worker reads the lists once (in `setup`, shared by every source's DoFn in the
process), as models are loaded: a list is static input, not something computed over
the corpus. A dropped page carries `meta.blocked_by`, the listed domain. Stat rows:
"blocked_domain:<listed domain>" (pages, bytes; the summary shows the top ones),
"no_url" (pages kept because they have no URL), and "list_entries:<file>" (the lines
each list holds, counted on the pipeline).
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import time
from dataclasses import dataclass

import apache_beam as beam

from filters.document import Document
from filters.url_blocklist import DomainBlocklist, parse_blocklist
from pipeline.stages.files import match_files, read_lines
from pipeline.stages.judge import Judge, judged
from pipeline.stats import StageResult, SumStats

log = logging.getLogger(__name__)

URL_FILTER = "url_filter"
URL_BLOCKLIST = "url_blocklist"
TOP_SHOWN = 10  # blocked domains in the summary


@dataclass(frozen=True, kw_only=True)
class UrlFilterSettings:
    """Config `url_filter`."""

    blocklists: tuple[str, ...] = ()  # files of domains, one a line (UT1's format); none: no stage
    sources: tuple[str, ...] = ("cc", "c4")  # the sources whose chain it opens

    def __post_init__(self):
        from pipeline.sources.base import check_source_names  # here: pipeline.sources registers this stage

        check_source_names("sources", self.sources)

    @property
    def enabled(self) -> bool:
        return bool(self.blocklists) and bool(self.sources)


@functools.lru_cache(maxsize=2)
def load_blocklists(paths: tuple[str, ...]) -> DomainBlocklist:
    """The union of the lists' domains, read once per process."""
    start = time.perf_counter()
    domains: set[str] = set()
    for path in paths:
        parsed = parse_blocklist(read_lines(path))
        domains |= parsed.domains
        if parsed.ignored:
            log.warning("url_filter: %s: %d lines are not domains and were ignored", path, parsed.ignored)
    log.info("url_filter: %d domains from %d lists in %.2fs", len(domains), len(paths), time.perf_counter() - start)
    return DomainBlocklist(domains)


class _Screen(beam.DoFn):
    def __init__(self, source: str, paths: tuple[str, ...]):
        self._source, self._paths = source, paths

    def setup(self):
        self._blocklist = load_blocklists(self._paths)
        self._judge = Judge(self._source, URL_FILTER, [URL_BLOCKLIST])

    def process(self, doc: Document):
        yield from self._judge.arrived(doc)
        if not doc.url:
            yield from self._judge.keep(doc, ("no_url", 1, doc.nbytes))
            return
        listed = self._blocklist.blocked_by(doc.url)
        if listed is None:
            yield from self._judge.keep(doc)
        else:
            blocked = dataclasses.replace(doc, meta={**doc.meta, "blocked_by": listed})
            yield from self._judge.drop(blocked, URL_BLOCKLIST, (f"blocked_domain:{listed}", 1, doc.nbytes))


def _list_rows(path: str, source: str):
    """The entries a list holds (lines that are neither blank nor a comment): a quick count, not a parse."""
    entries = sum(1 for line in read_lines(path) if line.strip() and not line.lstrip().startswith("#"))
    label = "/".join(path.rsplit("/", 2)[-2:])  # UT1 names its files <category>/domains: keep the category
    yield (source, URL_FILTER, f"list_entries:{label}"), (entries, 0)


class UrlFilter(beam.PTransform):
    """Stage "url_filter" for one source: see the module docstring."""

    def __init__(self, source: str, settings: UrlFilterSettings):
        super().__init__()
        self._source = source
        self._paths = tuple(match_files("url_filter.blocklists", settings.blocklists))

    def expand(self, docs) -> StageResult:
        out = judged(docs, "Screen", _Screen(self._source, self._paths))
        lists = (docs.pipeline | "Lists" >> beam.Create(self._paths)
                 | "ListSizes" >> beam.FlatMap(_list_rows, self._source))
        return StageResult(out.kept, out.rejected, (out.stats, lists) | "Stats" >> SumStats())


def summary_lines(stage: str, entry: dict, indent: str = " " * 15) -> list[str]:
    lines = []
    if entry.get("list_entries"):
        lists = ", ".join(f"{name} ({n:,} entries)" for name, n in entry["list_entries"].items())
        lines.append(f"{indent}blocklists: {lists}")
    blocked = list(entry.get("blocked_domain", {}).items())
    if blocked:
        shown = ", ".join(f"{domain} {n}" for domain, n in blocked[:TOP_SHOWN])
        more = f", ... {len(blocked) - TOP_SHOWN} more" if len(blocked) > TOP_SHOWN else ""
        lines.append(f"{indent}top blocked domains: {shown}{more}")
    return lines


def applies(config, source: str) -> bool:
    """Whether `source`'s chain starts with this stage (HeadStage.applies)."""
    return config.url_filter.enabled and source in config.url_filter.sources


def transform(config, source: str) -> UrlFilter:
    return UrlFilter(source, config.url_filter)
