"""The LLaMA data mixture: how many passes over each source, and which documents.

Beam-free arithmetic shared by the tokenizer stage (sizes in bytes) and the shard
stage (sizes in tokens):

- `plan_mixture` turns per-source sizes, target proportions and either a total
  budget or "as much as the epoch cap allows" into a rate per source (expected
  copies of each document: the planned epochs).
- `copies` applies a rate to one document: whole epochs first, then a
  deterministic hash-based fraction (downsampling is the same rule with 0 whole
  epochs), so every runner and worker picks the same copies.
- `is_validation` is the held-out split, by document hash, decided before mixing.
- `format_mixture_table` renders a shard manifest's mixture for the summary.

The config sections `mixture` and `shards` are defined here (`MixtureSettings`,
`ShardsSettings`): the tokenizer stage reads them too.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from pipeline.settings import at_least, between, invalid
from pipeline.sources import SOURCES

@dataclass(frozen=True, kw_only=True)
class MixtureSettings:
    """Config `mixture`: LLaMA-1's Table 1 proportions, renormalised over the sources with data."""

    proportions: dict[str, float] = field(
        default_factory=lambda: {name: source.llama.proportion for name, source in SOURCES.items()})
    # Tokens in the training mix; None: as many as fit with no source above epoch_cap passes.
    total_tokens: int | float | None = None
    epoch_cap: float = at_least(2.5, 0, strict=True)  # most passes over any source (LLaMA's most: 2.45)

    def __post_init__(self):
        _check_proportions(self.proportions)
        if self.total_tokens is not None and not self.total_tokens > 0:
            raise invalid("total_tokens", "must be > 0 or null", self.total_tokens)


@dataclass(frozen=True, kw_only=True)
class ShardsSettings:
    """Config `shards`."""

    target_tokens_per_shard: int = at_least(100_000_000, 1)  # production: 100M tokens, 200 MB a shard
    val_fraction: float = between(0.005, 0, 1, high_open=True)  # held out by document hash, before mixing


# ---------------------------------------------------------------- hashing

def hash64(*parts: object) -> int:
    """A stable 64-bit hash of the parts (blake2b; Python's hash() differs per process)."""
    data = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def unit_hash(*parts: object) -> float:
    """hash64 mapped to [0, 1)."""
    return hash64(*parts) / 2.0**64


def is_validation(seed: int, doc_id: str, val_fraction: float) -> bool:
    return val_fraction > 0 and unit_hash(seed, "val", doc_id) < val_fraction


def copies(rate: float, seed: int, doc_id: str, purpose: str = "mix") -> int:
    """Copies of a document at `rate` expected copies: floor(rate), plus one for a hash-chosen fraction."""
    whole = math.floor(rate)
    frac = rate - whole
    return whole + (1 if frac > 0 and unit_hash(seed, purpose, doc_id) < frac else 0)


def shard_key(seed: int, doc_id: str, copy_number: int) -> int:
    """The key that places a document copy: shard `key % n_shards`, ordered by key inside it."""
    return hash64(seed, "shard", doc_id, copy_number)


# ---------------------------------------------------------------- the plan

@dataclass(frozen=True)
class SourcePlan:
    size: int  # tokens (or bytes) available in the source
    requested: float  # proportion from the config
    proportion: float  # renormalised over the sources present
    epochs: float  # planned rate: expected copies per document
    target: float  # size * epochs


@dataclass(frozen=True)
class MixturePlan:
    mode: str  # "budget" (total given) or "max" (epoch cap binds)
    total: float
    epoch_cap: float
    sources: dict[str, SourcePlan]
    missing: list[str] = field(default_factory=list)  # requested sources without data
    unused: list[str] = field(default_factory=list)  # sources with data but proportion 0

    @property
    def renormalised(self) -> bool:
        return bool(self.missing)

    def rate(self, source: str) -> float:
        plan = self.sources.get(source)
        return plan.epochs if plan else 0.0

    def note(self) -> str | None:
        if not self.missing:
            return None
        present = ", ".join(self.sources)
        return (f"no data for {', '.join(self.missing)}: proportions renormalised over {present} "
                f"(sum of their requested proportions {sum(p.requested for p in self.sources.values()):.3f} -> 1)")

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "total": self.total, "epoch_cap": self.epoch_cap,
                "renormalised": self.renormalised, "missing": self.missing, "unused": self.unused,
                "note": self.note(), "sources": {s: asdict(p) for s, p in self.sources.items()}}


def _check_proportions(proportions: Mapping[str, float]) -> None:
    for source, p in proportions.items():
        if source not in SOURCES:
            raise invalid("proportions", f"names an unknown source {source!r}; sources are {', '.join(SOURCES)}")
        if not isinstance(p, (int, float)) or p < 0:
            raise invalid(f"proportions.{source}", "must be a number >= 0", p)
    if sum(proportions.values()) <= 0:
        raise invalid("proportions", "must have at least one positive proportion")


def max_total(sizes: Mapping[str, int], proportions: Mapping[str, float], epoch_cap: float) -> float:
    """The largest mix with these proportions in which no source exceeds `epoch_cap` passes."""
    return plan_mixture(sizes, proportions, total=None, epoch_cap=epoch_cap).total


def plan_mixture(sizes: Mapping[str, int], proportions: Mapping[str, float], *,
                 total: float | None, epoch_cap: float) -> MixturePlan:
    """Rates per source so the mix has `proportions` (renormalised over sources with data).

    total=None: the largest mix in which no source is read more than epoch_cap times
    (the source that runs out first gets exactly epoch_cap). With a total, a source
    that would need more than epoch_cap passes is an error naming the largest total
    that fits.
    """
    _check_proportions(proportions)
    if not epoch_cap > 0:
        raise invalid("epoch_cap", "must be > 0", epoch_cap)
    if total is not None and not total > 0:
        raise invalid("total", "must be > 0 or None", total)
    wanted = [s for s in SOURCES if proportions.get(s, 0) > 0]
    present = [s for s in wanted if sizes.get(s, 0) > 0]
    missing = [s for s in wanted if s not in present]
    unused = [s for s in SOURCES if sizes.get(s, 0) > 0 and s not in wanted]
    if not present:
        raise ValueError(f"no data for any source with a positive proportion (sizes: {dict(sizes)})")
    norm = sum(proportions[s] for s in present)
    share = {s: proportions[s] / norm for s in present}
    largest = min(epoch_cap * sizes[s] / share[s] for s in present)
    if total is None:
        mode, total = "max", largest
    else:
        mode = "budget"
        over = [s for s in present if share[s] * total / sizes[s] > epoch_cap * (1 + 1e-9)]
        if over:
            raise ValueError(
                f"mixture.total_tokens={total:,.0f} needs more than epoch_cap={epoch_cap} passes over "
                f"{', '.join(over)}; at most {largest:,.0f} fit (or set total_tokens: null for that maximum)"
            )
    plans = {
        s: SourcePlan(size=int(sizes[s]), requested=float(proportions[s]), proportion=share[s],
                      epochs=share[s] * total / sizes[s], target=share[s] * total)
        for s in present
    }
    return MixturePlan(mode=mode, total=float(total), epoch_cap=float(epoch_cap),
                       sources=plans, missing=missing, unused=unused)


# ---------------------------------------------------------------- the summary table

def format_mixture_table(manifest: Mapping[str, Any]) -> str:
    """The mixture of a shard manifest as a text table, with LLaMA's numbers beside it."""
    mix = manifest["mixture"]
    how = f"largest mix with no source above {mix['epoch_cap']} epochs" if mix["mode"] == "max" else "token budget"
    val_tokens = sum(e["tokens"] for e in manifest["shards"]["val"])
    lines = [
        f"mixture ({how}): {mix['achieved_tokens']:,} training tokens in {len(manifest['shards']['train'])} shards, "
        f"{val_tokens:,} validation tokens in {len(manifest['shards']['val'])}",
        f"{'source':<14}{'docs':>9}{'tokens':>14}{'requested':>11}{'achieved':>10}{'LLaMA':>8}"
        f"{'epochs':>9}{'achieved':>10}{'LLaMA':>8}",
    ]
    for source, row in mix["sources"].items():
        lines.append(
            f"{source:<14}{row['documents']:>9,}{row['tokens']:>14,}{row['proportion']:>11.1%}"
            f"{row['achieved_proportion']:>10.1%}{row['llama_proportion']:>8.1%}"
            f"{row['epochs']:>9.2f}{row['achieved_epochs']:>10.2f}{row['llama_epochs']:>8.2f}"
        )
    if mix.get("note"):
        lines.append(f"note: {mix['note']}")
    return "\n".join(lines)
