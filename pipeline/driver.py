"""The stages of a run, in order: when each is finished, what it reads, what it writes.

    models     OUT/models/ (cards.json and the model files)      reads the inputs
    curate     OUT/curated/, OUT/rejected/, OUT/stats.json          reads the inputs, models
    tokenizer  OUT/tokenizer/                                       reads curate's files
    shards     OUT/shards/ (the shards and manifest.json)          reads curate's files, the tokenizer

A stage's key is a digest of the config sections it reads and of its upstream
stages' keys: it is skipped when its completion record (pipeline.state) has that
key, so editing shards.* reruns only the shards stage. Before it runs, every upstream
stage must have finished for this config; it reads exactly the files their records
list. It writes into a staging directory in OUT, publishes by renaming, and writes its
record last; a failed stage leaves no staging directory and no record.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from pipeline.outputs import publish, staging_dir, write_json_atomic, write_run_json
from pipeline.state import forget, is_done, record_done, require_done, stage_record
from shard_format import faults

log = logging.getLogger("pipeline")

# Each stage: the config sections it reads and the stages whose outputs it reads.
STAGE_INPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "models": (("inputs", "sample", "strict", "seed", "models", "cc", "wikipedia"), ()),
    "curate": (("inputs", "sample", "strict", "output", "url_filter", "decontamination", "pii"),
               ("models",)),  # and every source's section
    "tokenizer": (("seed", "tokenizer", "mixture", "shards"), ("curate",)),
    "shards": (("seed", "mixture", "shards"), ("tokenizer", "curate")),
}
STAGES = list(STAGE_INPUTS)


def stage_sections(stage: str) -> tuple[str, ...]:
    from pipeline.sources import SOURCES

    sections, _ = STAGE_INPUTS[stage]
    return (*sections, *SOURCES) if stage == "curate" else sections


def _sections(stage: str, config) -> dict[str, Any]:
    from pipeline.config import section_digest

    return section_digest(config, list(stage_sections(stage)))


def stage_key(stage: str, config, out: Path) -> str:
    """The key a finished stage is recorded under: its config sections and its upstream stages' keys."""
    _, upstream = STAGE_INPUTS[stage]
    return hashlib.sha256(json.dumps({
        "sections": _sections(stage, config),
        "upstream": {name: stage_key(name, config, out) for name in upstream},
    }, sort_keys=True).encode()).hexdigest()


def _upstream(stage: str, config, out: Path) -> dict[str, dict]:
    """The records of the stages `stage` reads, each finished for this config (else StateError)."""
    _, upstream = STAGE_INPUTS[stage]
    return {name: require_done(out, name, stage_key(name, config, out), _sections(name, config), needed_by=stage)
            for name in upstream}


def _relative(out: Path, root: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------- one function a stage

def _models(config, out: Path, tmp: Path, options, upstream: dict) -> dict:
    from pipeline.models.stage import run_models

    cards = run_models(config, out, options)
    write_run_json(out, config, cards, ["models"])
    return {"cards": "models/cards.json", "files": _relative(out, out / "models")}


def _curate(config, out: Path, tmp: Path, options, upstream: dict) -> dict:
    from pipeline.curate import run_curate
    from pipeline.models.stage import load_cards

    cards = load_cards(out, upstream["models"], verify=True)
    stats = run_curate(config, cards, tmp, options)
    write_json_atomic(tmp / "stats.json", stats)
    built = stats["sources_built"]
    faults.point("stage:running:curate")
    publish(tmp, out, [f"curated/{s}" for s in built] + [f"rejected/{s}" for s in built] + ["stats.json"],
            label="curate")
    write_run_json(out, config, cards, ["curate"])
    return {
        "curated": {s: _relative(out, out / "curated" / s) for s in built},
        "rejected": {s: _relative(out, out / "rejected" / s) for s in built},
        "stats": "stats.json",
        "documents": {s: stats["sources"][s][_last_counted(stats["sources"][s])]["kept"]["documents"] for s in built},
    }


def _last_counted(stages: dict) -> str:
    return [name for name, entry in stages.items() if "in" in entry][-1]


def curated_files(out: Path, curate_record: dict) -> dict[str, list[Path]]:
    """The curated Parquet files the finished curate stage lists, per source in canonical order."""
    return {source: [out / f for f in files] for source, files in curate_record["outputs"]["curated"].items()}


def _tokenizer(config, out: Path, tmp: Path, options, upstream: dict) -> dict:
    from pipeline.models.stage import load_cards
    from pipeline.tokenizer_stage import run_tokenizer_stage

    run_tokenizer_stage(config, curated_files(out, upstream["curate"]), tmp)
    faults.point("stage:running:tokenizer")
    publish(tmp, out, ["tokenizer"], label="tokenizer")
    write_run_json(out, config, load_cards(out), ["tokenizer"])
    return {"tokenizer": _relative(out, out / "tokenizer")}


def _shards(config, out: Path, tmp: Path, options, upstream: dict) -> dict:
    from pipeline.models.stage import load_cards
    from pipeline.shards import run_shards_stage
    from tokenizer_training import MODEL_FILE

    model = out / "tokenizer" / MODEL_FILE
    if f"tokenizer/{MODEL_FILE}" not in upstream["tokenizer"]["outputs"]["tokenizer"]:
        raise FileNotFoundError(f"{model} is not in the tokenizer stage's record: rerun `python -m pipeline tokenizer`")
    run_shards_stage(config, curated_files(out, upstream["curate"]), model, tmp, options)
    faults.point("stage:running:shards")
    publish(tmp, out, ["shards"], label="shards")
    write_run_json(out, config, load_cards(out), ["shards"])
    return {"shards": _relative(out, out / "shards"), "manifest": "shards/manifest.json"}


RUNNERS = {"models": _models, "curate": _curate, "tokenizer": _tokenizer, "shards": _shards}


def stored_summary(stage: str, out: Path) -> str:
    """A finished stage's summary, from what it wrote (so a rerun that skips it shows the same)."""
    outputs = stage_record(out, stage)["outputs"]
    if stage == "models":
        from pipeline.models.cards import format_cards

        return "\n".join(["models:", *format_cards(json.loads((out / outputs["cards"]).read_text()))])
    if stage == "curate":
        from pipeline.summary import format_summary

        return format_summary(json.loads((out / outputs["stats"]).read_text()))
    if stage == "tokenizer":
        from pipeline.tokenizer_stage import format_tokenizer_summary
        from tokenizer_training import CARD_FILE

        return format_tokenizer_summary(json.loads((out / "tokenizer" / CARD_FILE).read_text()))
    if stage == "shards":
        from pipeline.mix import format_mixture_table

        return format_mixture_table(json.loads((out / outputs["manifest"]).read_text()))
    raise ValueError(f"unknown stage {stage!r}")


def _finished(stage: str, key: str, out: Path) -> bool:
    """Finished with this key, from upstream records that are still the ones it consumed."""
    if not is_done(out, stage, key):
        return False
    consumed = stage_record(out, stage).get("upstream", {})
    return all((stage_record(out, name) or {}).get("key") == used for name, used in consumed.items())


def run_stage(stage: str, config, out: Path, beam_args: list[str], force: bool) -> None:
    from pipeline.runner import make_options

    key = stage_key(stage, config, out)
    if not force and _finished(stage, key, out):
        log.info("%s: already finished with this config, skipped (--force to redo)", stage)
        print(stored_summary(stage, out), flush=True)
        return
    upstream = _upstream(stage, config, out)
    start = time.perf_counter()
    forget(out, stage)  # from here on its outputs change: not finished until the record is written again
    tmp = staging_dir(out, stage)
    try:
        outputs = RUNNERS[stage](config, out, tmp, make_options(beam_args), upstream)
        faults.point(f"stage:before_record:{stage}")
        record_done(out, stage, key, sections=_sections(stage, config),
                    upstream={name: record["key"] for name, record in upstream.items()},
                    outputs=outputs, seconds=round(time.perf_counter() - start, 2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(stored_summary(stage, out), flush=True)
    log.info("%s: done in %.1fs", stage, time.perf_counter() - start)
