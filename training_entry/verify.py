"""Every shard's sha256 is checked against the manifest before its tokens train anything.

A flipped token that stays inside the vocabulary would otherwise train silently. The
shards still to check are dealt over the processes (the i-th to rank i mod world size),
and the verdicts are summed over the process group, so every process raises the same
error. The shards verified (path, size, mtime, sha256) are recorded in
``RUN/verified_shards.json``: a resume hashes only shards that are new or have changed.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import torch

from shard_format import SPLITS, ShardFormatError, atomic_write, file_sha256
from training_entry import distributed

log = logging.getLogger("training_entry")
RECORD = "verified_shards.json"


def _identity(path: Path, sha256: str) -> dict:
    stat = path.stat()
    return {"path": str(path.resolve()), "sha256": sha256, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _key(identity: dict) -> tuple:
    return identity["path"], identity["sha256"], identity["bytes"], identity["mtime_ns"]


def _recorded(run: Path) -> set[tuple]:
    try:
        return {_key(identity) for identity in json.loads((run / RECORD).read_text())["shards"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()  # none yet, or unreadable: hash again


def verify_shards(data_dir: Path, manifest: dict, run: Path, d: distributed.Dist) -> list[dict]:
    """Hash the shards not yet verified for this run (every process calls it); returns what to record.

    Raises ShardFormatError naming the shards whose sha256 differs from the manifest's.
    """
    shards = [(data_dir / e["file"], e["sha256"]) for split in SPLITS for e in manifest["shards"].get(split, [])]
    identities = [_identity(path, sha) for path, sha in shards]
    done = _recorded(run)
    todo = [i for i, identity in enumerate(identities) if _key(identity) not in done]
    if not todo:
        log.info("shards: sha256 of all %d already verified for this run", len(shards))
        return identities
    start = time.perf_counter()
    log.info("shards: verifying the sha256 of %d (%.2f GB) against the manifest, over %d process(es)", len(todo),
             sum(identities[i]["bytes"] for i in todo) / 1e9, d.world_size)
    bad = torch.zeros(len(shards), dtype=torch.int32, device=d.device)
    for i in todo[d.rank::d.world_size]:
        path, sha = shards[i]
        bad[i] = int(file_sha256(path) != sha)
    wrong = [str(shards[i][0]) for i in distributed.sum_over_ranks(bad).nonzero().flatten().tolist()]
    if wrong:
        more = f" (and {len(wrong) - 1} more shard(s))" if len(wrong) > 1 else ""
        raise ShardFormatError(f"{wrong[0]}{more}: sha256 differs from the manifest's: the file changed or is "
                               f"corrupt; rebuild the shards (python -m pipeline shards) or restore them")
    log.info("shards: verified in %.1f s", time.perf_counter() - start)
    return identities


def record(run: Path, identities: list[dict]) -> None:
    """Main process: remember the verified shards in the run directory."""
    with atomic_write(run / RECORD, "w") as f:
        json.dump({"shards": identities}, f, indent=1)
        f.write("\n")
