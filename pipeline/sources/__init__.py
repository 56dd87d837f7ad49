"""The sources, one module each; everything per-source elsewhere is derived from this list.

`SOURCES` maps each name to its `Source` record (pipeline.sources.base), in the
canonical order of LLaMA-1's Table 1. The run config's sections and `inputs` keys,
the mixture's default proportions, the stage order of the summary and the curate
stage all read it. `CROSS_SOURCE` is the place for stages that span sources: they
run after every source is curated (pipeline.curate); `HEAD` is the place for stages
set by a top-level section that open the chains of the sources they apply to.
"""
from __future__ import annotations

from pipeline.sources import arxiv, books, c4, cc, github, stackexchange, wikipedia
from pipeline.sources.base import CrossSourceStage, HeadStage, LlamaShare, Source
from pipeline.stages import cross_source, decontamination, pii, url_filter

SOURCES: dict[str, Source] = {
    s.name: s for s in (cc.SOURCE, c4.SOURCE, github.SOURCE, wikipedia.SOURCE, books.SOURCE, arxiv.SOURCE,
                        stackexchange.SOURCE)
}

# Stages over every source's curated documents, in order (none in the LLaMA-1 recipe: each
# is enabled by its config section). The records are made here, not in the stage modules:
# workers import those on their own, and one that imported this package would import
# itself half-loaded.
CROSS_SOURCE: list[CrossSourceStage] = [
    CrossSourceStage(name=cross_source.CROSS_SOURCE, enabled=cross_source.enabled, apply=cross_source.apply,
                     summary_lines=cross_source.summary_lines),
    CrossSourceStage(name=decontamination.DECONTAMINATION, enabled=decontamination.enabled,
                     apply=decontamination.apply, summary_lines=decontamination.summary_lines),
    CrossSourceStage(name=pii.PII, enabled=pii.enabled, apply=pii.apply,  # last: it masks only what is kept
                     summary_lines=pii.summary_lines),
]

# Stages that open the chains of the sources they apply to, before each source's own stages.
HEAD: list[HeadStage] = [
    HeadStage(name=url_filter.URL_FILTER, applies=url_filter.applies, transform=url_filter.transform,
              summary_lines=url_filter.summary_lines),
]


def llama_table1() -> dict[str, LlamaShare]:
    """LLaMA-1 paper, Table 1: sampling proportion, epochs and disk size of each source."""
    return {name: source.llama for name, source in SOURCES.items()}
