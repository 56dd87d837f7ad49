"""The curation sections: each source's funnel (documents and bytes through its stages) and its drop
reasons with example rejected documents. Both read stats.json and report/examples.json only, and
show whatever stages and reasons those hold."""
from __future__ import annotations

from pipeline.report import svg
from pipeline.report.fmt import Cell, esc, figure, mb, n, nbytes, pct, section, table

READ = "read"


def by_size(stats: dict) -> list[tuple[str, dict]]:
    """The sources, the most documents read first (CommonCrawl, on a LLaMA mix), then by name."""
    return sorted(stats["sources"].items(), key=lambda kv: (-read_docs(kv[1])[0], kv[0]))


def counted(stages: dict) -> list[tuple[str, dict]]:
    """The stages of one source that account for documents (in = kept + dropped), in run order."""
    return [(name, entry) for name, entry in stages.items() if "in" in entry]


def read_docs(stages: dict) -> tuple[int, int]:
    cell = stages.get(READ, {}).get("documents", {})
    return cell.get("count", 0), cell.get("bytes", 0)


def curated(stages: dict) -> tuple[int, int]:
    """Documents and bytes the source's last counted stage kept."""
    steps = counted(stages)
    if not steps:
        return 0, 0
    kept = steps[-1][1]["kept"]
    return kept["documents"], kept["bytes"]


def _dropped(entry: dict) -> tuple[int, int]:
    cells = entry.get("dropped", {}).values()
    return sum(c["documents"] for c in cells), sum(c["bytes"] for c in cells)


def overview(stats: dict) -> str:
    rows, chart = [], []
    for source, stages in by_size(stats):
        docs, size = read_docs(stages)
        kept_docs, kept_bytes = curated(stages)
        steps = counted(stages)
        first_in = steps[0][1]["in"]["documents"] if steps else docs
        kept_share = kept_docs / first_in if first_in else 0.0
        chart.append((source, [(kept_share, "kept", f"{source}: {kept_docs:,} documents curated"),
                               (1 - kept_share if first_in else 0.0, "drop",
                                f"{source}: {first_in - kept_docs:,} dropped")],
                      f"{kept_docs:,} of {first_in:,} kept ({pct(kept_docs, first_in)})"))
        rows.append(({"data-source": source}, [
            Cell(source), n("read_docs", docs), nbytes("read_bytes", size), n("curated_docs", kept_docs),
            nbytes("curated_bytes", kept_bytes), Cell(pct(kept_bytes, size), cls="n")]))
    total_docs = sum(read_docs(s)[0] for s in stats["sources"].values())
    total_bytes = sum(read_docs(s)[1] for s in stats["sources"].values())
    kept = [curated(s) for s in stats["sources"].values()]
    rows.append(({"data-source": "all", "class": "total"}, [
        Cell("all sources"), n("read_docs", total_docs), nbytes("read_bytes", total_bytes),
        n("curated_docs", sum(d for d, _ in kept)), nbytes("curated_bytes", sum(b for _, b in kept)),
        Cell(pct(sum(b for _, b in kept), total_bytes), cls="n")]))
    body = figure(svg.stacked(chart, title="Share of documents kept per source"),
                  "Of the documents entering each source's first stage, the share kept to the end (dark) and "
                  "dropped on the way (light).")
    body += table(["source", "documents read", "bytes read", "documents curated", "bytes curated", "bytes kept"],
                  rows, id="overview")
    return body


def _funnel_chart(source: str, stages: dict) -> str:
    steps = counted(stages)
    rows = []
    docs, _ = read_docs(stages)
    if docs:
        rows.append((READ, [(docs, "s1", f"{docs:,} documents read")], f"{docs:,} read"))
    for name, entry in steps:
        kin, kept = entry["in"]["documents"], entry["kept"]["documents"]
        rows.append((name, [(kept, "kept", f"{name}: {kept:,} kept"), (kin - kept, "drop", f"{name}: {kin - kept:,} dropped")],
                     f"{kept:,} / {kin:,} ({pct(kept, kin)}) · {mb(entry['kept']['bytes'])}"))
    return figure(svg.stacked(rows, title=f"{source}: documents through each stage"))


def funnel_table(source: str, stages: dict) -> str:
    rows = []
    docs, size = read_docs(stages)
    read = stages.get(READ, {})
    if read:
        files = read.get("files", {}).get("count", 0)
        malformed = read.get("malformed_records", {}).get("count", 0)
        rows.append(({"data-stage": READ}, [
            Cell(READ), n("docs_in", docs), Cell(""), Cell(""), Cell(""), nbytes("bytes_in", size), Cell(""), Cell(""),
            Cell(f"{files:,} files, {malformed:,} malformed records skipped")]))
    for name, entry in counted(stages):
        kin, kept = entry["in"], entry["kept"]
        dropped_docs, _ = _dropped(entry)
        note = ""
        if "lines_removed" in entry and "lines_in" in entry:
            lines = entry["lines_removed"]
            note = f"{lines['count']:,} lines ({mb(lines['bytes'])}) removed from kept documents"
        rows.append(({"data-stage": name}, [
            Cell(name), n("docs_in", kin["documents"]), n("docs_kept", kept["documents"]),
            Cell(pct(kept["documents"], kin["documents"]), cls="n"), n("docs_dropped", dropped_docs),
            nbytes("bytes_in", kin["bytes"]), nbytes("bytes_kept", kept["bytes"]),
            Cell(pct(kept["bytes"], kin["bytes"]), cls="n"), Cell(note)]))
    return table(["stage", "documents in", "kept", "kept %", "dropped", "bytes in", "bytes kept", "bytes kept %", ""],
                 rows, id=f"funnel-{source}")


def funnels(stats: dict) -> str:
    parts = []
    for source, stages in by_size(stats):
        parts.append(f'<div class="source" id="funnel-section-{esc(source)}"><h3>{esc(source)}</h3>'
                     f"{_funnel_chart(source, stages)}{funnel_table(source, stages)}</div>")
    return "".join(parts)


def _example(ex: dict) -> str:
    head = f'<code class="id">{esc(ex["id"])}</code>'
    if ex.get("sensitive"):
        where = f' <span class="host">{esc(ex["host"])}</span>' if ex.get("host") else ""
        return (f'<div class="ex sensitive">{head}{where} <span class="muted">{mb(ex.get("bytes", 0))} · '
                f"text withheld: a sensitive reason</span></div>")
    url = f' <span class="url">{esc(ex["url"])}</span>' if ex.get("url") else ""
    def value(v) -> str:
        return (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}") if isinstance(v, float) else str(v)

    def shown(values: dict) -> str:
        return "".join(f" · {esc(k)} {esc(value(v))}" for k, v in values.items())

    quality = f'<b>{shown(ex["fields"])[3:]}</b>' if ex.get("fields") else ""
    return (f'<div class="ex">{head}{url}<div class="fields">{mb(ex.get("bytes", 0))}'
            f'{" · " + quality if quality else ""}{shown(ex.get("meta") or {})}</div>'
            f'<pre>{esc(ex.get("excerpt", ""))}</pre></div>')


def _examples(examples: dict | None, source: str, stage: str, reason: str) -> str:
    if examples is None:
        return ""
    chosen = examples.get("sources", {}).get(source, {}).get(stage, {}).get(reason, [])
    if not chosen:
        return '<p class="muted">no example recorded</p>'
    k = examples.get("k", len(chosen))
    return (f'<details open><summary>{len(chosen)} example{"s" if len(chosen) > 1 else ""} '
            f'<span class="muted">(of the documents with the {k} smallest id hashes)</span></summary>'
            f'<div class="exs">{"".join(_example(ex) for ex in chosen)}</div></details>')


def drop_reasons(stats: dict, examples: dict | None) -> str:
    parts = []
    for source, stages in by_size(stats):
        blocks = []
        for stage, entry in counted(stages):
            if not entry.get("dropped"):
                continue
            kin = entry["in"]["documents"]
            rows, shown = [], []
            for reason, cell in sorted(entry["dropped"].items(), key=lambda kv: (-kv[1]["documents"], kv[0])):
                rows.append(({"data-reason": reason}, [
                    Cell(reason), n("docs", cell["documents"]), nbytes("bytes", cell["bytes"]),
                    Cell(pct(cell["documents"], kin), cls="n")]))
                shown.append(f'<div class="reason" data-source="{esc(source)}" data-stage="{esc(stage)}" '
                             f'data-reason="{esc(reason)}"><h5>{esc(reason)} <span class="muted">'
                             f'{cell["documents"]:,} documents</span></h5>{_examples(examples, source, stage, reason)}'
                             f"</div>")
            blocks.append(f'<div class="stage"><h4>{esc(stage)}</h4>'
                          f'{table(["reason", "documents", "bytes", "of stage input"], rows, id=f"drops-{source}-{stage}")}'
                          f"{''.join(shown)}</div>")
        if blocks:
            parts.append(f'<div class="source"><h3>{esc(source)}</h3>{"".join(blocks)}</div>')
    return "".join(parts) or '<p class="muted">No stage dropped any document.</p>'


def sections(stats: dict | None, examples: dict | None) -> list[tuple[str, str, str]]:
    """(anchor, title, html) of the curation sections."""
    if stats is None:
        return [("funnel", "Curation", '<p class="muted">The curate stage has not finished in this OUT.</p>')]
    note = ""
    if stats.get("sampled"):
        note = (f'<p class="warn">Inputs were sampled ({esc(stats["sampled"])}): the numbers describe the sample '
                f"only.</p>")
    return [
        ("funnel", "Documents through the stages", section(
            "funnel", "Documents through the stages", note + overview(stats) + funnels(stats),
            "Per source, documents and bytes entering each stage and kept by it. A stage that removes lines "
            "keeps the document but shrinks its bytes.")),
        ("drops", "Why documents were dropped", section(
            "drops", "Why documents were dropped", drop_reasons(stats, examples),
            "Every drop reason of every stage with its count and bytes, and up to three rejected documents: "
            "the ones whose id hashes smallest, so the same run always shows the same examples. Reasons whose "
            "text should not be shown (bad words, blocklisted domains, benchmark contamination, personal data) "
            "show the id and the URL's host only.")),
    ]
