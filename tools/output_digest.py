"""A digest of a pipeline run's outputs, to prove a refactor changed nothing.

    python tools/output_digest.py OUT                       # print the digest
    python tools/output_digest.py OUT --write tests/golden/sample.json
    python tools/output_digest.py OUT --check tests/golden/sample.json

What it covers: every model file's sha256 (from the cards), per source the sorted
(id, sha256 of text) of curated/ and rejected/ (with stage and reason), stats.json
without timings, the tokenizer model's sha256, and each shard's and the manifest's
sha256. Anything that differs is listed by path, so a failed check says where.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

TIMING_KEYS = {"seconds", "train_seconds", "finished_at"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _rows_digest(folder: Path, rejected: bool) -> str:
    """sha256 over the sorted (id, text sha256[, stage, reason, meta]) rows of a Parquet folder."""
    columns = ["id", "text", "meta"] + (["stage", "reason"] if rejected else [])
    rows = []
    for path in sorted(folder.glob("*.parquet")):
        for row in pq.read_table(path, columns=columns).to_pylist():
            rows.append([row["id"], _sha(row["text"].encode("utf-8")), row["meta"] or ""]
                        + ([row["stage"], row["reason"]] if rejected else []))
    rows.sort()
    return f"{len(rows)} rows {_sha(json.dumps(rows).encode())}"


def digest(out: Path) -> dict:
    out = Path(out)
    result: dict = {"curated": {}, "rejected": {}}
    for kind in ("curated", "rejected"):
        for folder in sorted(p for p in (out / kind).iterdir() if p.is_dir()):
            result[kind][folder.name] = _rows_digest(folder, rejected=kind == "rejected")
    result["stats"] = _without_timings(json.loads((out / "stats.json").read_text()))
    models = {}
    for path in sorted((out / "models").rglob("*")):
        if path.is_file() and path.name not in ("card.json", "cards.json") and not path.name.endswith(".txt"):
            models[str(path.relative_to(out))] = _sha(path.read_bytes())
    result["models"] = models
    result["tokenizer"] = _sha((out / "tokenizer" / "tokenizer.model").read_bytes())
    result["shards"] = {p.name: _sha(p.read_bytes()) for p in sorted((out / "shards").iterdir()) if p.is_file()}
    return result


def differences(expected, actual, path: str = "") -> list[str]:
    """Every path at which two digests differ."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(expected) | set(actual), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in actual:
                out.append(f"{where}: missing")
            elif key not in expected:
                out.append(f"{where}: not in the golden digest")
            else:
                out.extend(differences(expected[key], actual[key], where))
        return out
    return [] if expected == actual else [f"{path}: {expected!r} != {actual!r}"[:400]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="a finished run's output directory")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, help="write the digest to this file")
    group.add_argument("--check", type=Path, help="compare with this digest; exit 1 listing what differs")
    args = parser.parse_args(argv)
    got = digest(args.out)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.write}")
    elif args.check:
        diff = differences(json.loads(args.check.read_text()), got)
        if diff:
            print(f"{args.out} differs from {args.check} at {len(diff)} places:", *diff[:50], sep="\n  ")
            return 1
        print(f"{args.out} matches {args.check}")
    else:
        print(json.dumps(got, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
