"""Checks made before any work: the output path, the inputs, and the flags meant for Beam.

Each failure is one line naming the path or flag (`PreflightError`), never a Beam
traceback minutes into a run:

- `--output` that is an existing file;
- an input pattern that matches nothing, or names a directory instead of files (and
  so for the files optional stages read: url_filter.blocklists, decontamination.eval_sets);
- a flag that neither we nor any of Beam's registered option classes (standard,
  Google Cloud, portable, Flink, Spark, direct, worker, ...) define, with the nearest
  known flag suggested. Arguments after `--` pass to Beam verbatim, unchecked, for
  runner-specific options Beam forwards.
"""
from __future__ import annotations

import argparse
import difflib
import glob
import importlib
import os
from pathlib import Path

from pipeline.state import STATE_DIR, is_ours
from pipeline.store import Store

# Runner modules that register option classes of their own when imported.
_OPTION_MODULES = (
    "apache_beam.options.pipeline_options",
    "apache_beam.runners.portability.flink_runner",
    "apache_beam.runners.portability.spark_runner",
    "apache_beam.runners.direct.direct_runner",
)


class PreflightError(ValueError):
    """A bad path or flag, found before any work."""


def check_output(out: Store) -> None:
    """OUT is new, empty, or an earlier run's: never a folder of someone else's files we would mix into."""
    if not out.remote and Path(out.root).exists() and not Path(out.root).is_dir():
        raise PreflightError(f"--output {out.root} is a file; give a directory (it is created if missing)")
    try:
        foreign = not is_ours(out) and out.exists() and bool(out.list())
    except Exception as e:  # a bucket we cannot list: say which
        raise PreflightError(f"--output {out.root}: cannot list it: {e}") from None
    if foreign:
        raise PreflightError(f"--output {out.root} holds files that are not a pipeline output "
                             f"(no {STATE_DIR}/); choose a new or empty directory")


def check_inputs(config) -> None:
    """Every input pattern of every active source, and every file pattern of an enabled optional
    stage, matches at least one file, and no directory."""
    for source in config.active_sources():
        for pattern in getattr(config.inputs, source):
            _check_pattern(f"inputs.{source}", pattern)
    for key, pattern in _stage_file_patterns(config):
        _check_pattern(key, pattern)


def _stage_file_patterns(config):
    if config.url_filter.enabled:
        yield from (("url_filter.blocklists", p) for p in config.url_filter.blocklists)
    if config.decontamination.enabled:
        for name, patterns in config.decontamination.eval_sets.items():
            yield from ((f"decontamination.eval_sets.{name}", p) for p in patterns)


def _check_pattern(key: str, pattern: str) -> None:
    from apache_beam.io.filesystems import FileSystems

    if "://" not in pattern and os.path.isdir(pattern):
        raise PreflightError(f"{key}: {pattern!r} is a directory; list its files or a glob "
                             f"such as {os.path.join(pattern, '*')!r}")
    try:
        found = FileSystems.match([pattern])[0].metadata_list
    except Exception as e:  # a scheme with no filesystem, credentials, ...: say which pattern
        raise PreflightError(f"{key}: cannot list {pattern!r}: {e}") from None
    if not found:
        raise PreflightError(f"{key}: no file matches {pattern!r}")
    if "://" not in pattern:
        dirs = [m.path for m in found if os.path.isdir(m.path)]
        if dirs and not glob.has_magic(pattern):
            raise PreflightError(f"{key}: {dirs[0]!r} is a directory")


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def beam_flags() -> set[str]:
    """Every flag one of Beam's registered PipelineOptions classes defines."""
    from apache_beam.options.pipeline_options import PipelineOptions

    for module in _OPTION_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:  # an optional runner not installed: its flags are simply unknown
            pass
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, conflict_handler="resolve")
    for cls in {*_subclasses(PipelineOptions)}:
        cls._add_argparse_args(parser)
    return {flag for action in parser._actions for flag in action.option_strings}


def split_beam_args(unknown: list[str], ours: set[str]) -> list[str]:
    """The arguments our parser did not take, checked: Beam's own flags, then anything after `--`."""
    if "--" in unknown:
        cut = unknown.index("--")
        checked, verbatim = unknown[:cut], unknown[cut + 1:]
    else:
        checked, verbatim = unknown, []
    known = beam_flags()
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    for flag in sorted(known):
        parser.add_argument(flag, nargs="?")
    _, rest = parser.parse_known_args(checked)
    for arg in rest:
        if arg.startswith("-"):
            flag = arg.split("=", 1)[0]
            near = difflib.get_close_matches(flag, sorted(ours | known), n=1)
            hint = f"; did you mean {near[0]}?" if near else ""
            raise PreflightError(f"unknown flag {flag}{hint} (Beam runner options Beam does not define go after --)")
        raise PreflightError(f"unexpected argument {arg!r}")
    return checked + verbatim
