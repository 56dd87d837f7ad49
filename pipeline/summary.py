"""stats.json and the human-readable summary, from the summed stat rows."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def text_bar(count: int, most: int, width: int = 20) -> str:
    """A histogram bar of `count` against the largest count `most`."""
    return "#" * max(1, round(width * count / most)) if count else ""


MALFORMED_SHOWN = 3  # malformed record locations printed per source (stats.json keeps 5 per file)


class AccountingError(RuntimeError):
    """A stage's documents in != kept + dropped: something was lost silently."""


def _cell(value) -> dict[str, int]:
    docs, nbytes = value
    return {"documents": docs, "bytes": nbytes}


def assemble_stats(rows: Iterable[tuple[tuple[str, str, str], tuple[int, int]]],
                   order: Mapping[str, list[str]] | None = None, sampled: dict | None = None) -> dict[str, Any]:
    """Nest (source, stage, metric) -> (count, bytes) rows and check every stage balances.

    `order`: each source's stages in run order (pipeline.curate.stage_order); stages
    it does not list follow in name order."""
    order = order or {}
    by_stage: dict[str, dict[str, dict[str, Any]]] = {}
    for (source, stage, metric), value in rows:
        entry = by_stage.setdefault(source, {}).setdefault(stage, {})
        if metric in ("in", "kept"):
            entry[metric] = _cell(value)
        elif metric.startswith("dropped:"):
            entry.setdefault("dropped", {})[metric.split(":", 1)[1]] = _cell(value)
        elif ":" in metric:  # histogram rows such as lang_before:fr
            name, key = metric.split(":", 1)
            entry.setdefault(name, {})[key] = value[0]
        else:
            entry[metric] = {"count": value[0], "bytes": value[1]}
    sources: dict[str, Any] = {}
    for source, stages in sorted(by_stage.items()):
        known = order.get(source, [])
        ordered = sorted(stages, key=lambda s: (known.index(s) if s in known else len(known), s))
        sources[source] = {}
        for stage in ordered:
            entry = stages[stage]
            if "in" in entry:
                entry.setdefault("kept", {"documents": 0, "bytes": 0})
                entry.setdefault("dropped", {})
                dropped = sum(d["documents"] for d in entry["dropped"].values())
                if entry["in"]["documents"] != entry["kept"]["documents"] + dropped:
                    raise AccountingError(
                        f"{source}/{stage}: {entry['in']['documents']} in != "
                        f"{entry['kept']['documents']} kept + {dropped} dropped"
                    )
                entry["dropped"] = dict(sorted(entry["dropped"].items()))
            for name, value in entry.items():
                if isinstance(value, dict) and name not in ("in", "kept", "dropped") and all(
                    isinstance(v, int) for v in value.values()
                ):
                    entry[name] = dict(sorted(value.items(), key=lambda kv: (-kv[1], kv[0])))
            sources[source][stage] = entry
    return {"sampled": sampled or None, "sources": sources}


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:,.2f} MB"


def _histogram(hist: dict[str, int], top: int = 12) -> str:
    items = list(hist.items())
    shown = ", ".join(f"{k} {v}" for k, v in items[:top])
    rest = sum(v for _, v in items[top:])
    return shown + (f", ... {len(items) - top} more ({rest})" if rest else "")


def format_summary(stats: dict[str, Any]) -> str:
    from pipeline.sources import CROSS_SOURCE, HEAD, SOURCES as sources  # here: the sources' stages import this module

    spanning = {stage.name: stage for stage in (*HEAD, *CROSS_SOURCE)}

    lines = []
    if stats.get("sampled"):
        lines.append(f"NOTE: inputs were sampled ({stats['sampled']}); numbers describe the sample only.")
    for source, stages in stats["sources"].items():
        lines.append(f"== {source} ==")
        read = stages.get("read", {})
        if read:
            docs = read.get("documents", {})
            lines.append(
                f"  read       {docs.get('count', 0):>8,} documents  {_mb(docs.get('bytes', 0)):>12}"
                f"  from {read.get('files', {}).get('count', 0)} files,"
                f" {read.get('malformed_records', {}).get('count', 0)} malformed records skipped"
            )
            if read.get("skipped"):
                lines.append(f"  {'':<10}   other records (not documents): {_histogram(read['skipped'])}")
            for where in list(read.get("malformed_at", {}))[:MALFORMED_SHOWN]:
                lines.append(f"  {'':<10}   malformed: {where}")
        for stage, entry in stages.items():
            if "in" not in entry:
                continue
            kin, kept = entry["in"], entry["kept"]
            share = 100 * kept["documents"] / kin["documents"] if kin["documents"] else 0.0
            lines.append(
                f"  {stage:<10} {kin['documents']:>8,} in -> {kept['documents']:>8,} kept ({share:5.1f}%)"
                f"  {_mb(kin['bytes'])} -> {_mb(kept['bytes'])}"
            )
            for reason, cell in entry["dropped"].items():
                lines.append(f"  {'':<10}   dropped {reason:<22} {cell['documents']:>8,}  {_mb(cell['bytes'])}")
            if "lines_in" in entry and "lines_removed" in entry:
                lin, lrm = entry["lines_in"], entry["lines_removed"]
                pct = 100 * lrm["count"] / lin["count"] if lin["count"] else 0.0
                bpct = 100 * lrm["bytes"] / lin["bytes"] if lin["bytes"] else 0.0
                lines.append(
                    f"  {'':<10}   lines removed {lrm['count']:,} of {lin['count']:,} ({pct:.1f}%),"
                    f" {_mb(lrm['bytes'])} of {_mb(lin['bytes'])} ({bpct:.1f}%)"
                )
            for name in ("lang_before", "lang_after"):
                if name in entry:
                    lines.append(f"  {'':<10}   {name.replace('_', ' ')} LID ({len(entry[name])} languages): {_histogram(entry[name])}")
            if stage in spanning:
                lines.extend(spanning[stage].summary_lines(stage, entry))
            elif source in sources:
                lines.extend(sources[source].summary_lines(stage, entry))
    return "\n".join(lines)
