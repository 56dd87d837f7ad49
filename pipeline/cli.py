"""`python -m pipeline`: run the whole job or one stage.

    python -m pipeline run     --config configs/sample.yaml --output OUT [--set k=v ...] [beam options]
    python -m pipeline models     --config ... --output OUT   # LID copy, KenLM + wikiref training
    python -m pipeline curate     --config ... --output OUT   # every source -> curated/, rejected/, stats.json
    python -m pipeline tokenizer  --config ... --output OUT   # SentencePiece BPE on a mixture sample
    python -m pipeline shards     --config ... --output OUT   # mix, tokenize, write shards/ + manifest.json

Unrecognised flags are Beam pipeline options (--runner, --project, --region,
--temp_location, --job_endpoint, --environment_type, --direct_running_mode,
--direct_num_workers, ...). The default runner is the in-process FnApiRunner.
A stage already finished with the same config is skipped (use --force to redo it).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger("pipeline")

# Stages in run order, each with the config sections it reads and the stages whose
# outputs it reads: its completion key is a digest of those sections and of the
# upstream stages' keys, so editing shards.* reruns only the shards stage.
STAGE_INPUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "models": (("inputs", "sample", "strict", "seed", "models", "cc", "wikipedia"), ()),
    "curate": (("inputs", "sample", "strict", "output"), ("models",)),  # and every source's section
    "tokenizer": (("seed", "tokenizer", "mixture", "shards"), ("curate",)),
    "shards": (("seed", "mixture", "shards"), ("tokenizer", "curate")),
}
STAGES = list(STAGE_INPUTS)


def stage_sections(stage: str) -> tuple[str, ...]:
    from pipeline.sources import SOURCES

    sections, _ = STAGE_INPUTS[stage]
    return (*sections, *SOURCES) if stage == "curate" else sections


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="LLaMA pre-training data pipeline (Apache Beam). Flags not listed here are passed to Beam.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  python -m pipeline run --config configs/sample.yaml --output out/demo\n"
            "  python -m pipeline run --config configs/sample.yaml --output out/dry --set sample.fraction=0.01\n"
            "  python -m pipeline curate --config configs/sample.yaml --output out/demo \\\n"
            "      --direct_running_mode multi_processing --direct_num_workers 2\n"
        ),
    )
    parser.add_argument("command", choices=["run", *STAGES], help="'run' runs every stage in order")
    parser.add_argument("--config", required=True, help="YAML run config (see configs/)")
    parser.add_argument("--output", required=True, type=Path, help="output directory OUT")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, value parsed as YAML (repeatable)")
    parser.add_argument("--force", action="store_true", help="rerun stages even if finished with this config")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    return parser


def _cards(out: Path) -> dict:
    cards_path = out / "models" / "cards.json"
    if not cards_path.exists():
        raise SystemExit(f"{out}/models is missing: run `python -m pipeline models` first (or `run`)")
    return json.loads(cards_path.read_text())


def _stored_summary(stage: str, out: Path) -> str:
    """A finished stage's summary, from what it wrote (so a rerun that skips it shows the same)."""
    if stage == "models":
        from pipeline.models.cards import format_cards

        return "\n".join(["models:", *format_cards(_cards(out))])
    if stage == "curate":
        from pipeline.summary import format_summary

        return format_summary(json.loads((out / "stats.json").read_text()))
    if stage == "tokenizer":
        from pipeline.tokenizer_stage import format_tokenizer_summary
        from tokenizer_training import CARD_FILE

        return format_tokenizer_summary(json.loads((out / "tokenizer" / CARD_FILE).read_text()))
    if stage == "shards":
        from pipeline.mix import format_mixture_table

        return format_mixture_table(json.loads((out / "shards" / "manifest.json").read_text()))
    raise ValueError(f"unknown stage {stage!r}")


def stage_key(stage: str, config, out: Path) -> str:
    """The digest a finished stage is recorded under: its config sections and its upstream stages' keys."""
    from pipeline.config import section_digest
    from pipeline.outputs import stage_record

    _, upstream = STAGE_INPUTS[stage]
    return hashlib.sha256(json.dumps({
        "sections": section_digest(config, list(stage_sections(stage))),
        "upstream": {name: (stage_record(out, name) or {}).get("key") for name in upstream},
    }, sort_keys=True).encode()).hexdigest()


def run_stage(stage: str, config, out: Path, beam_args: list[str], force: bool) -> None:
    from pipeline.models.stage import run_models
    from pipeline.outputs import mark_done, publish, stage_done, staging_dir, write_json_atomic, write_run_json

    digest = stage_key(stage, config, out)
    if not force and stage_done(out, stage, digest):
        log.info("%s: already finished with this config, skipped (--force to redo)", stage)
        print(_stored_summary(stage, out), flush=True)
        return
    start = time.perf_counter()
    from pipeline.runner import make_options

    if stage == "models":
        cards = run_models(config, out, make_options(beam_args))
        write_run_json(out, config, cards, ["models"])
    elif stage == "curate":
        from pipeline.curate import run_curate

        cards = _cards(out)
        tmp = staging_dir(out, stage)
        stats = run_curate(config, cards, tmp, make_options(beam_args))
        write_json_atomic(tmp / "stats.json", stats)
        publish(tmp, out, [f"curated/{s}" for s in stats["sources_built"]]
                + [f"rejected/{s}" for s in stats["sources_built"]] + ["stats.json"])
        write_run_json(out, config, cards, ["curate"])
    elif stage == "tokenizer":
        from pipeline.tokenizer_stage import run_tokenizer_stage

        run_tokenizer_stage(config, out, make_options(beam_args))
        write_run_json(out, config, _cards(out), ["tokenizer"])
    elif stage == "shards":
        from pipeline.shards import run_shards_stage

        run_shards_stage(config, out, make_options(beam_args))
        write_run_json(out, config, _cards(out), ["shards"])
    print(_stored_summary(stage, out), flush=True)
    mark_done(out, stage, stage_key(stage, config, out), seconds=round(time.perf_counter() - start, 2))
    log.info("%s: done in %.1fs", stage, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    args, beam_args = _parser().parse_known_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("apache_beam",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from pipeline.config import ConfigError, load_config  # after logging is set up: it imports Beam

    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    args.output.mkdir(parents=True, exist_ok=True)
    stages = STAGES if args.command == "run" else [args.command]
    for stage in stages:
        run_stage(stage, config, args.output, beam_args, args.force)
    return 0
