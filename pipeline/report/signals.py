"""Quality signals each stage measured, from its stats.json entry, found by the metrics it holds (not
by stage name): lines removed (`lines_in`/`lines_removed`), languages before and after LID
(`lang_before`/`lang_after`), perplexity per language with its cutoffs (`ppl_bin`, `cutoff`,
`ppl_percentile`), the wikiref P(wiki) (`score_bin`, `at_least`) and, for any other measurement a
stage records (a new stage's histogram), a plain table."""
from __future__ import annotations

import math

from pipeline.report import svg
from pipeline.report.fmt import Cell, esc, figure, mb, n, nbytes, pct, table
from pipeline.report.funnel import by_size

BINS_PER_DECADE = 4  # pipeline.stages.perplexity.ppl_bin's bins
BUCKETS = ("head", "middle", "tail", "unscored")
LANGS_SHOWN = 16
GENERIC_SHOWN = 15
HANDLED = {"in", "kept", "dropped", "lines_in", "lines_removed", "lang_before", "lang_after", "ppl_bin", "cutoff",
           "ppl_percentile", "percentile_sample", "cutoff_source", "scoring", "bucket", "score_bin", "at_least"}
NOT_SHOWN = {"malformed_at"}  # in the text summary; locations, not measurements


def bin_index(lower: float) -> int:
    """The index k of ppl_bin's bin whose lower bound is 10 ** (k / 4)."""
    return round(math.log10(lower) * BINS_PER_DECADE)


def bin_label(k: int) -> str:
    lower = 10 ** (k / BINS_PER_DECADE)
    return f"{lower:.0f}" if lower >= 10 else f"{lower:.2g}"


def _lines(entry: dict) -> str:
    lin, lrm = entry["lines_in"], entry["lines_removed"]
    rows = [({}, [n("lines_in", lin["count"]), n("lines_removed", lrm["count"]),
                  Cell(pct(lrm["count"], lin["count"]), cls="n"), nbytes("bytes_in", lin["bytes"]),
                  nbytes("bytes_removed", lrm["bytes"]), Cell(pct(lrm["bytes"], lin["bytes"]), cls="n")])]
    def shares(removed: int, total: int, what: str):
        gone = removed / total if total else 0.0
        return [(1 - gone if total else 0.0, "kept", f"{what} kept"), (gone, "drop", f"{what} removed")]

    chart = svg.stacked([("lines", shares(lrm["count"], lin["count"], "lines"),
                          f"{lrm['count']:,} of {lin['count']:,} removed ({pct(lrm['count'], lin['count'])})"),
                         ("bytes", shares(lrm["bytes"], lin["bytes"], "bytes"),
                          f"{mb(lrm['bytes'])} of {mb(lin['bytes'])} ({pct(lrm['bytes'], lin['bytes'])})")],
                        title="Lines removed", label_width=70, note_width=230)
    return (f"<h5>Lines removed</h5>{figure(chart)}"
            + table(["lines in", "lines removed", "share", "bytes in", "bytes removed", "share"], rows,
                    id=None, cls="grid lines-removed"))


def _langs(stage: str, entry: dict) -> str:
    before, after = entry.get("lang_before", {}), entry.get("lang_after", {})
    langs = sorted(set(before) | set(after), key=lambda k: (-before.get(k, 0), -after.get(k, 0), k))
    shown, rest = langs[:LANGS_SHOWN], langs[LANGS_SHOWN:]
    rows = [(lang, [before.get(lang, 0), after.get(lang, 0)]) for lang in shown]
    if rest:
        rows.append((f"{len(rest)} more", [sum(before.get(k, 0) for k in rest), sum(after.get(k, 0) for k in rest)]))
    chart = svg.bars(rows, [("before LID", "s1"), ("after LID", "s0")], title=f"{stage}: languages before and after",
                     label_width=90, bar_h=9)
    return (f"<h5>Languages before and after LID</h5>"
            f"{figure(chart, f'{len(before)} languages predicted among the documents LID saw, {len(after)} kept.')}")


def _perplexity(source: str, stage: str, entry: dict, config: dict) -> str:
    bins, cutoffs, pcts = entry.get("ppl_bin", {}), entry.get("cutoff", {}), entry.get("ppl_percentile", {})
    sample = entry.get("percentile_sample", {})
    keep = ((config.get(source) or {}).get(stage) or {}).get("keep") or []
    out = []
    if entry.get("bucket"):
        b = entry["bucket"]
        order = sorted(b, key=lambda k: (BUCKETS.index(k) if k in BUCKETS else len(BUCKETS), k))
        out.append("<p>buckets: " + ", ".join(f"{esc(k)} <b>{b[k]:,}</b>" for k in order)
                   + (f" · kept: {esc(', '.join(keep))}" if keep else "") + "</p>")
    for lang in sorted({k.split(":")[0] for k in (*bins, *cutoffs)}):
        counts = {bin_index(float(k.split(":")[1])): v for k, v in bins.items() if k.startswith(f"{lang}:")}
        head, tail = cutoffs.get(f"{lang}:head"), cutoffs.get(f"{lang}:tail")
        ks = list(counts) + [bin_index(c) for c in (head, tail) if c]
        if not ks:
            continue
        lo, hi = min(ks), max(ks) + 1
        hist = [(bin_label(k), counts.get(k, 0)) for k in range(lo, hi)]

        def pos(value: float) -> float:
            return math.log10(value) * BINS_PER_DECADE - lo

        marks, regions = [], []
        if head and tail:
            marks = [(pos(head), f"head < {head:g}", "mark", "end"), (pos(tail), f"{tail:g} <= tail", "mark", "start")]
            regions = [(0, pos(head), "head", "region-head"), (pos(head), pos(tail), "middle", "region-middle"),
                       (pos(tail), hi - lo, "tail", "region-tail")]
        chart = svg.histogram(hist, title=f"{stage} {lang}: perplexity histogram", marks=marks, regions=regions,
                              x_title="perplexity (log scale, 4 bins a decade; bin lower bounds)")
        shown = sorted(((float(k.split(":p")[1]), v) for k, v in pcts.items() if k.startswith(f"{lang}:p")))
        caption = (f"<b>{esc(lang)}</b>: {sum(counts.values()):,} documents scored"
                   + (f"; cutoffs from the percentiles of {sample[lang]:,} documents" if lang in sample else "")
                   + ("; percentiles " + ", ".join(f"p{q:g} {v:g}" for q, v in shown) if shown else ""))
        out.append(f'<div class="ppl" data-lang="{esc(lang)}">{figure(chart, caption)}</div>')
    return "<h5>Perplexity</h5>" + "".join(out)


def _wikiref(source: str, stage: str, entry: dict, config: dict) -> str:
    hist = sorted(entry["score_bin"].items(), key=lambda kv: float(kv[0]))
    labels = {f"{i / 10:.1f}": 0 for i in range(10)}
    labels.update(dict(hist))
    threshold = ((config.get(source) or {}).get(stage) or {}).get("threshold")
    marks = [(threshold * 10, f"threshold {threshold:g}", "mark", "end")] if isinstance(threshold, (int, float)) else []
    marks += [(float(cut) * 10, f"{float(cut):g}", "mark2", "start") for cut in entry.get("at_least", {})
              if not marks or float(cut) != threshold]
    chart = svg.histogram(list(labels.items()), title=f"{stage}: P(wiki) histogram", marks=marks,
                          x_title="P(wiki) (0.1 bins)")
    scored = entry["in"]["documents"] if "in" in entry else sum(labels.values())
    rows = [({}, [Cell(f"P(wiki) >= {cut}"), n("documents", count), Cell(pct(count, scored), cls="n")])
            for cut, count in sorted(entry.get("at_least", {}).items(), key=lambda kv: float(kv[0]))]
    return (f"<h5>Wikipedia-reference classifier</h5>{figure(chart)}"
            + (table(["kept at", "documents", "of scored"], rows, cls="grid small") if rows else ""))


def _generic(measurements: dict[str, dict]) -> str:
    """Any other measurements, in one table: `name` {count, bytes} rows, and `name:key` histograms
    (largest first, the rest summed)."""
    rows = []
    for name, value in measurements.items():
        if set(value) == {"count", "bytes"}:
            rows.append(({"data-metric": name}, [Cell(name), Cell(""), n("count", value["count"]),
                                                 nbytes("bytes", value["bytes"])]))
        elif all(isinstance(v, int) for v in value.values()):  # a histogram: key -> count
            items = sorted(value.items(), key=lambda kv: (-kv[1], kv[0]))
            for i, (key, count) in enumerate(items[:GENERIC_SHOWN]):
                rows.append(({"data-metric": name, "data-key": key},
                             [Cell(name if i == 0 else ""), Cell(key), n("count", count), Cell("")]))
            if len(items) > GENERIC_SHOWN:
                rows.append(({"data-metric": name}, [Cell(""), Cell(f"{len(items) - GENERIC_SHOWN} more"),
                                                     n("count", sum(v for _, v in items[GENERIC_SHOWN:])), Cell("")]))
    if not rows:
        return ""
    return "<h5>Other measurements</h5>" + table(["measurement", "", "count", "bytes"], rows, cls="grid small")


def stage_signals(source: str, stage: str, entry: dict, config: dict) -> str:
    parts = []
    if "lines_in" in entry and "lines_removed" in entry:
        parts.append(_lines(entry))
    if "lang_before" in entry or "lang_after" in entry:
        parts.append(_langs(stage, entry))
    if "ppl_bin" in entry or "cutoff" in entry:
        parts.append(_perplexity(source, stage, entry, config))
    if "score_bin" in entry:
        parts.append(_wikiref(source, stage, entry, config))
    parts.append(_generic({name: value for name, value in entry.items()
                           if name not in HANDLED and name not in NOT_SHOWN and isinstance(value, dict) and value}))
    return "".join(p for p in parts if p)


def signals(stats: dict | None, config: dict) -> str:
    if not stats:
        return ""
    out = []
    for source, stages in by_size(stats):
        blocks = []
        for stage, entry in stages.items():
            if stage == "read":
                html = _generic({k: v for k, v in entry.items() if isinstance(v, dict) and v and k not in NOT_SHOWN
                                 and k not in ("documents", "files", "malformed_records")})
            else:
                html = stage_signals(source, stage, entry, config)
            if html:
                blocks.append(f'<div class="stage" data-stage="{esc(stage)}"><h4>{esc(stage)}</h4>{html}</div>')
        if blocks:
            out.append(f'<div class="source" id="signals-{esc(source)}"><h3>{esc(source)}</h3>{"".join(blocks)}</div>')
    return "".join(out)
