"""`python -m pipeline`: run the whole job or one stage.

    python -m pipeline run     --config configs/sample.yaml --output OUT [--set k=v ...] [beam options]
    python -m pipeline models     --config ... --output OUT   # LID copy, KenLM + wikiref training
    python -m pipeline curate     --config ... --output OUT   # every source -> curated/, rejected/, stats.json
    python -m pipeline tokenizer  --config ... --output OUT   # SentencePiece BPE on a mixture sample
    python -m pipeline shards     --config ... --output OUT   # mix, tokenize, write shards/ + manifest.json
    python -m pipeline report     --output OUT [--train RUN]  # OUT/report.html (`run` writes it at the end)

Unrecognised flags are Beam pipeline options (--runner, --project, --region,
--temp_location, --job_endpoint, --environment_type, --direct_running_mode,
--direct_num_workers, ...). The default runner is the in-process FnApiRunner.
A stage already finished with the same config is skipped (use --force to redo it).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pipeline.driver import STAGES

log = logging.getLogger("pipeline")

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
    parser.add_argument("command", choices=["run", *STAGES], help="'run' runs every stage in order, then writes "
                        "OUT/report.html ('report --output OUT' writes it alone)")
    parser.add_argument("--config", required=True, help="YAML run config (see configs/)")
    parser.add_argument("--output", required=True,
                        help="output directory OUT: a local path, or a URI such as gs://bucket/run or s3://bucket/run")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, value parsed as YAML (repeatable)")
    parser.add_argument("--force", action="store_true", help="rerun stages even if finished with this config")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    return parser


def _without_gcp_import_notice(record: logging.LogRecord) -> bool:
    # Beam logs this at import when the optional GCP extras are absent: noise for local runs.
    return "apitools not found" not in record.getMessage()


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv)[:1] == ["report"]:  # reads OUT only: no config, no Beam
        from pipeline.report.cli import main as report

        return report((sys.argv[1:] if argv is None else argv)[1:])
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("apache_beam",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger().addFilter(_without_gcp_import_notice)
    # Imported after logging is set up: they import Beam, which logs on import.
    from pipeline.config import ConfigError, load_config
    from pipeline.driver import run_stage
    from pipeline.localize import ModelMismatchError
    from pipeline.preflight import PreflightError, check_inputs, check_output, split_beam_args
    from pipeline.runner import use_filesystem_options
    from pipeline.state import RunLock, StateError, mark_ours, remove_leftovers
    from pipeline.store import Store

    ours = {flag for action in parser._actions for flag in action.option_strings}
    stages = STAGES if args.command == "run" else [args.command]
    out = Store(args.output)
    try:
        beam_args = split_beam_args(unknown, ours)
        use_filesystem_options(beam_args)  # s3_endpoint_url, credentials: for the launcher's own reads too
        config = load_config(args.config, args.overrides)
        check_output(out)
        if {"models", "curate"} & set(stages):
            check_inputs(config)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    except PreflightError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not out.remote:
        Path(out.root).mkdir(parents=True, exist_ok=True)
    command = " ".join(["python -m pipeline", *(argv if argv is not None else sys.argv[1:])])
    try:
        with RunLock(out, command):
            mark_ours(out, command)
            remove_leftovers(out)
            for stage in stages:
                run_stage(stage, config, out, beam_args, args.force)
            if args.command == "run":
                from pipeline.report import write_report

                try:
                    print(f"report: {write_report(out)}", flush=True)
                except Exception:  # every stage finished: say so, and how to retry the page alone
                    log.exception("every stage finished, but writing the report failed; retry it with "
                                  "`python -m pipeline report --output %s`", args.output)
                    return 1
    except (StateError, ModelMismatchError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
