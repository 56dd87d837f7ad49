"""The run configuration: YAML with comments, typed sections, `--set dotted.key=value` overrides.

`load_config(path, overrides)` reads the YAML, applies each `--set` (the value is
parsed as YAML: `--set inputs.cc=[a.warc.gz,b.warc.gz]` is a list, `--set
sample.fraction=0.01` a float) and builds a `RunConfig`: one typed section per
top-level key (`pipeline.settings` checks every key and value, naming it in the
error). The sections and their defaults are defined where they are used: each
source's in its module, `models` with the reference models, `tokenizer` with the
tokenizer stage, `mixture` and `shards` with the mixture, `url_filter`, `decontamination`
and `pii` with their stages (pipeline/stages/). The sources' sections and
`inputs` keys come from the source records (`pipeline.sources.SOURCES`), so a new
source needs no edit here. configs/sample.yaml documents every key.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import yaml

from pipeline.mix import MixtureSettings, ShardsSettings
from pipeline.readers.base import Sampling
from pipeline.models.stage import ModelsSettings
from pipeline.settings import ConfigError, as_plain, at_least, load_section, section, unknown_key
from pipeline.sources import SOURCES
from pipeline.stages.cross_source import DedupSettings
from pipeline.stages.decontamination import DecontaminationSettings
from pipeline.stages.pii import PiiSettings
from pipeline.stages.url_filter import UrlFilterSettings
from pipeline.tokenizer_stage import TokenizerSettings

__all__ = ["ConfigError", "RunConfig", "load_config", "config_from", "section_digest"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class OutputSettings:
    """Config `output`."""

    num_shards: int = at_least(0, 0)  # Parquet files per source; 0 lets the runner decide


@functools.cache
def _inputs_type(sources: tuple[str, ...]):
    """`inputs`: one list of paths or globs per source."""
    return dataclasses.make_dataclass(
        "Inputs", [(s, tuple[str, ...], dataclasses.field(default=())) for s in sources], frozen=True, kw_only=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Common:
    """The sections every run has, whatever its sources."""

    sample: Sampling = section(Sampling)
    strict: bool = False  # true: the first malformed record fails the job
    seed: int = 0
    models: ModelsSettings = section(ModelsSettings)
    output: OutputSettings = section(OutputSettings)
    tokenizer: TokenizerSettings = section(TokenizerSettings)
    mixture: MixtureSettings = section(MixtureSettings)
    shards: ShardsSettings = section(ShardsSettings)
    dedup: DedupSettings = section(DedupSettings)  # across sources (pipeline.stages.cross_source)
    # Optional stages beyond LLaMA-1 (off unless set): a head stage of the CC and C4
    # chains, and two cross-source stages after curation.
    url_filter: UrlFilterSettings = section(UrlFilterSettings)
    decontamination: DecontaminationSettings = section(DecontaminationSettings)
    pii: PiiSettings = section(PiiSettings)

    def __post_init__(self):
        # Relations between a source's section and its inputs (e.g. c4.mode and inputs.c4).
        for name, source in SOURCES.items():
            if hasattr(self, name):
                source.check_inputs(self.source(name), getattr(self.inputs, name))
        self._check_wikiref_positives()

    def _check_wikiref_positives(self):
        cc = getattr(self, "cc", None)
        ref = self.models.train.wikiref
        wanted = cc is not None and cc.wikiref.enabled and getattr(self.inputs, "cc", ()) and not self.models.wikiref
        if wanted and ref.positives == "urls" and not ref.reference_urls:
            raise ConfigError(
                "models.train.wikiref.reference_urls lists no file: the wikiref classifier learns from the "
                "CommonCrawl pages Wikipedia cites, found through Wikipedia's externallinks dumps (give them "
                "here), or set models.wikiref to a trained classifier, cc.wikiref.enabled: false, or for a dry "
                "run models.train.wikiref.positives: wikipedia (article text stands in for cited pages)")

    def source(self, name: str):
        """The config section of source `name`."""
        return getattr(self, name)

    def active_sources(self) -> list[str]:
        """Sources with at least one input, in the canonical order."""
        return [f.name for f in dataclasses.fields(self.inputs) if getattr(self.inputs, f.name)]


@functools.cache
def _run_config_type(sources: tuple[tuple[str, type], ...]):
    inputs = _inputs_type(tuple(name for name, _ in sources))
    return dataclasses.make_dataclass(
        "RunConfig", [("inputs", inputs, section(inputs))] + [(name, t, section(t)) for name, t in sources],
        bases=(_Common,), frozen=True, kw_only=True)


def run_config_type():
    """The RunConfig class for the sources registered now: a section per source, an `inputs` key each."""
    return _run_config_type(tuple((name, source.settings) for name, source in SOURCES.items()))


RunConfig = run_config_type()


def parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ConfigError(f"--set expects dotted.key=value, got {text!r}")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw) if raw.strip() else None


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):  # a scalar or list in the way: the section check names it
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def config_from(data: dict[str, Any], overrides: list[str] = ()) -> RunConfig:
    """A RunConfig from plain data (as read from YAML), after `--set` overrides."""
    data = _deepcopy(data)
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(data, key, value)
    return load_section(run_config_type(), data)


def read_yaml(path: str | Path, seen: tuple[Path, ...] = ()) -> dict:
    """A config file's data; `extends: other.yaml` (relative to the file) is read first and
    this file's keys merged over it, section by section."""
    path = Path(path)
    if path.resolve() in seen:
        raise ConfigError(f"{path}: `extends` loops back to it")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read config {path}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: extends must be the path of another config file, got {base!r}")
    return _merged(read_yaml(path.parent / base, (*seen, path.resolve())), data)


def _merged(base: dict, over: dict) -> dict:
    out = _deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = _deepcopy(value)
    return out


def load_config(path: str | Path | None, overrides: list[str] = ()) -> RunConfig:
    data = read_yaml(path) if path is not None else {}
    try:
        config = config_from(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    if not overrides:
        return config
    try:
        return config_from(data, overrides)
    except ConfigError as e:
        raise ConfigError(f"--set: {e}") from None


def _deepcopy(data):
    if isinstance(data, dict):
        return {k: _deepcopy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deepcopy(v) for v in data]
    return data


def section_digest(config: RunConfig, names: list[str]) -> dict[str, Any]:
    """The named sections (or dotted parts of them, `cc.lid`) as plain data, for completion keys."""
    out = {}
    for name in names:
        node, path = config, ""
        for part in name.split("."):
            fields = {f.name for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else set()
            if part not in fields:
                raise unknown_key(path, part, fields)
            node, path = getattr(node, part), f"{path}.{part}" if path else part
        out[name] = as_plain(node)
    return out
