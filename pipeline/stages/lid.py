"""Stage "lid": fastText language identification (filters.lid.LanguageIdFilter) on Beam.

Used by CommonCrawl and C4. Extra stat rows: "lang_before:<lang>" for every
document that got a prediction (all but `empty` ones) and "lang_after:<lang>" for
kept ones.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from collections.abc import Mapping
from pathlib import Path

import apache_beam as beam

from filters.lid import LanguageIdFilter
from pipeline.localize import ModelFile, model_file
from pipeline.settings import between
from pipeline.stages.judge import FilterStage
from pipeline.stats import StageResult

LID = "lid"


@dataclass(frozen=True, kw_only=True)
class LidSettings:
    """Config `cc.lid` and `c4.lid`: fastText's top language must be listed, with this probability."""

    languages: tuple[str, ...] = ("en",)
    threshold: float = between(0.5, 0, 1)  # cc_net's


class LanguageId(FilterStage):
    """`model`: the LID model's card from the models stage (checked by sha256 on each worker), or a path."""

    def __init__(self, source: str, settings: LidSettings, model: ModelFile | Mapping | str | Path):
        path, sha256 = model_file(model)
        super().__init__(LanguageIdFilter(path, settings.languages, settings.threshold), source,
                         {"model_path": sha256} if sha256 else None)

    def expand(self, docs) -> StageResult:
        # The filter annotates the document it is given; Beam forbids mutating inputs.
        return super().expand(docs | "Copy" >> beam.Map(dataclasses.replace))
