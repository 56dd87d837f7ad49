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
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline.outputs import publish, staging, write_run_json
from pipeline.state import forget, is_done, record_done, require_done, stage_record
from pipeline.store import Store
from shard_format import faults

log = logging.getLogger("pipeline")

# Each stage: the config sections it reads and the stages whose outputs it reads.
STAGE_INPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # The models stage reads the CC and Wikipedia inputs and the CC settings that pick its training pages.
    "models": (("inputs.cc", "inputs.wikipedia", "sample", "strict", "seed", "models", "cc.main_content",
                "cc.line_dedup", "cc.lid", "cc.perplexity", "cc.wikiref", "wikipedia"), ()),
    "curate": (("inputs", "sample", "strict", "output", "dedup", "url_filter", "decontamination", "pii"),
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


def stage_key(stage: str, config, out: Store) -> str:
    """The key a finished stage is recorded under: its config sections and its upstream stages' keys."""
    _, upstream = STAGE_INPUTS[stage]
    return hashlib.sha256(json.dumps({
        "sections": _sections(stage, config),
        "upstream": {name: stage_key(name, config, out) for name in upstream},
    }, sort_keys=True).encode()).hexdigest()


def _upstream(stage: str, config, out: Store) -> dict[str, dict]:
    """The records of the stages `stage` reads, each finished for this config (else StateError)."""
    _, upstream = STAGE_INPUTS[stage]
    return {name: require_done(out, name, stage_key(name, config, out), _sections(name, config), needed_by=stage)
            for name in upstream}


# ---------------------------------------------------------------- one function a stage

def _models(config, out: Store, tmp: Store, options, upstream: dict) -> dict:
    from pipeline.models.stage import run_models

    if out.remote:  # the models are trained on local disk (lmplz, fastText write local files)
        with tempfile.TemporaryDirectory(prefix="llama-data-models-") as local:
            out.download_tree("models", Path(local) / "models")  # trained models are reused, as locally
            cards = run_models(config, Path(local), options)
            out.upload_tree(Path(local) / "models", "models")
    else:
        cards = run_models(config, Path(out.root), options)
    write_run_json(out, config, cards, ["models"])
    return {"cards": "models/cards.json", "files": out.list("models")}


def _curate(config, out: Store, tmp: Store, options, upstream: dict) -> dict:
    from pipeline.curate import run_curate
    from pipeline.models.stage import load_cards
    from pipeline.report.examples import EXAMPLES

    cards = load_cards(out, upstream["models"], verify=True)
    stats = run_curate(config, cards, tmp, options)
    tmp.write_json("stats.json", stats)
    built = stats["sources_built"]
    faults.point("stage:running:curate")
    publish(out, tmp, [f"curated/{s}" for s in built] + [f"rejected/{s}" for s in built] + ["stats.json", EXAMPLES],
            label="curate")
    write_run_json(out, config, cards, ["curate"])
    outputs = {
        "curated": {s: out.list(f"curated/{s}") for s in built},
        "rejected": {s: out.list(f"rejected/{s}") for s in built},
        "stats": "stats.json",
        "examples": EXAMPLES,  # the report's examples of each drop reason
        "documents": {s: stats["sources"][s][_last_counted(stats["sources"][s])]["kept"]["documents"] for s in built},
    }
    for source, kept in outputs["documents"].items():
        if kept and not outputs["curated"][source]:  # never record a stage whose outputs cannot be found
            raise RuntimeError(f"curate kept {kept} {source} documents but {out.path('curated/' + source)} lists "
                               f"no file")
    return outputs


def _last_counted(stages: dict) -> str:
    return [name for name, entry in stages.items() if "in" in entry][-1]


def curated_files(out: Store, curate_record: dict) -> dict[str, list[str]]:
    """The curated Parquet files the finished curate stage lists, per source in canonical order."""
    return {source: [out.path(f) for f in files] for source, files in curate_record["outputs"]["curated"].items()}


def _tokenizer(config, out: Store, tmp: Store, options, upstream: dict) -> dict:
    from pipeline.models.stage import load_cards
    from pipeline.tokenizer_stage import run_tokenizer_stage

    run_tokenizer_stage(config, curated_files(out, upstream["curate"]), tmp, options)
    faults.point("stage:running:tokenizer")
    publish(out, tmp, ["tokenizer"], label="tokenizer")
    write_run_json(out, config, load_cards(out), ["tokenizer"])
    return {"tokenizer": out.list("tokenizer")}


def _shards(config, out: Store, tmp: Store, options, upstream: dict) -> dict:
    from pipeline.models.stage import load_cards
    from pipeline.shards import run_shards_stage
    from tokenizer_training import MODEL_FILE

    model = f"tokenizer/{MODEL_FILE}"
    if model not in upstream["tokenizer"]["outputs"]["tokenizer"]:
        raise FileNotFoundError(f"{out.path(model)} is not in the tokenizer stage's record: "
                                f"rerun `python -m pipeline tokenizer`")
    run_shards_stage(config, curated_files(out, upstream["curate"]), out.path(model), tmp, options)
    faults.point("stage:running:shards")
    publish(out, tmp, ["shards"], label="shards")
    write_run_json(out, config, load_cards(out), ["shards"])
    return {"shards": out.list("shards"), "manifest": "shards/manifest.json"}


RUNNERS = {"models": _models, "curate": _curate, "tokenizer": _tokenizer, "shards": _shards}


def stored_summary(stage: str, out: Store) -> str:
    """A finished stage's summary, from what it wrote (so a rerun that skips it shows the same)."""
    outputs = stage_record(out, stage)["outputs"]
    if stage == "models":
        from pipeline.models.cards import format_cards

        return "\n".join(["models:", *format_cards(out.read_json(outputs["cards"]))])
    if stage == "curate":
        from pipeline.summary import format_summary

        return format_summary(out.read_json(outputs["stats"]))
    if stage == "tokenizer":
        from pipeline.tokenizer_stage import format_tokenizer_summary
        from tokenizer_training import CARD_FILE

        return format_tokenizer_summary(out.read_json(f"tokenizer/{CARD_FILE}"))
    if stage == "shards":
        from pipeline.mix import format_mixture_table

        return format_mixture_table(out.read_json(outputs["manifest"]))
    raise ValueError(f"unknown stage {stage!r}")


def _finished(stage: str, key: str, out: Store) -> bool:
    """Finished with this key, from upstream records that are still the ones it consumed."""
    if not is_done(out, stage, key):
        return False
    consumed = stage_record(out, stage).get("upstream", {})
    return all((stage_record(out, name) or {}).get("key") == used for name, used in consumed.items())


def run_stage(stage: str, config, out: Store, beam_args: list[str], force: bool) -> None:
    from pipeline.runner import make_options

    key = stage_key(stage, config, out)
    if not force and _finished(stage, key, out):
        log.info("%s: already finished with this config, skipped (--force to redo)", stage)
        print(stored_summary(stage, out), flush=True)
        return
    upstream = _upstream(stage, config, out)
    start = time.perf_counter()
    forget(out, stage)  # from here on its outputs change: not finished until the record is written again
    tmp = staging(out, stage)
    try:
        outputs = RUNNERS[stage](config, out, tmp, make_options(beam_args), upstream)
        faults.point(f"stage:before_record:{stage}")
        record_done(out, stage, key, sections=_sections(stage, config),
                    upstream={name: record["key"] for name, record in upstream.items()},
                    outputs=outputs, seconds=round(time.perf_counter() - start, 2))
    finally:
        out.delete_tree(tmp.root[len(out.root) + 1:])
    print(stored_summary(stage, out), flush=True)
    log.info("%s: done in %.1fs", stage, time.perf_counter() - start)
