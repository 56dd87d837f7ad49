"""The page: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched), laid out
for a laptop screen and for print."""
from __future__ import annotations

import datetime as dt
import json

from pipeline.report import funnel, mixture, signals
from pipeline.report.fmt import Cell, esc, kv_list, mb, section, table
from pipeline.report.gather import STAGES, RunData

CSS = """
:root{--fg:#1d2330;--muted:#667085;--line:#d8dde6;--bg:#fff;--panel:#f6f8fb;--s0:#2f6fde;--s1:#9db8ea;--s2:#e0913a;
--s3:#c2417a;--kept:#2f6fde;--drop:#f1b4a8;--warn:#8a5a00}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);
background:var(--bg);margin:0}
main{max-width:1120px;margin:0 auto;padding:20px 28px 60px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 8px;padding-top:12px;border-top:2px solid var(--line)}
h3{font-size:16px;margin:22px 0 6px}h4{font-size:14px;margin:16px 0 4px;color:#344054}
h5{font-size:13px;margin:12px 0 4px;font-weight:600}
.muted{color:var(--muted)}.warn{color:var(--warn);background:#fff6e0;padding:6px 10px;border-radius:4px}
.intro{color:#475467;max-width:860px}
nav{margin:10px 0 4px;font-size:13px}nav a{margin-right:14px;color:var(--s0);text-decoration:none}
.kpis{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.kpi{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-width:150px}
.kpi b{display:block;font-size:19px}.kpi span{color:var(--muted);font-size:12px}
.scroll{overflow-x:auto}
table.grid{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
table.grid th,table.grid td{border-bottom:1px solid var(--line);padding:3px 10px;text-align:left;vertical-align:top}
table.grid th{background:var(--panel);font-weight:600;white-space:nowrap}
table.grid td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.grid tr.total td{font-weight:600;border-top:2px solid var(--line)}
table.small{font-size:12px}
figure{margin:8px 0 12px}figcaption{color:#475467;font-size:12px;max-width:760px}
svg.chart{display:block;height:auto;font-size:12px;font-family:inherit}
svg .label{fill:#344054}svg .value,svg .tick{fill:#475467;font-size:11px}svg .legend{fill:#344054;font-size:11px}
svg .axis-title{fill:#475467;font-size:11px}
svg .s0{fill:var(--s0)}svg .s1{fill:var(--s1)}svg .s2{fill:var(--s2)}svg .s3{fill:var(--s3)}
svg .kept{fill:var(--kept)}svg .drop{fill:var(--drop)}svg .ref{fill:#98a2b3}
svg .grid{stroke:#eef0f4}svg .axis{stroke:#98a2b3}
svg line.mark{stroke:#b42318;stroke-width:2;stroke-dasharray:5 3}svg line.mark2{stroke:#475467;stroke-dasharray:2 3}
svg text.mark{fill:#b42318;font-size:11px}svg text.mark2{fill:#475467;font-size:11px}
svg .region-head{fill:#e8f3e8}svg .region-middle{fill:#f4f7e4}svg .region-tail{fill:#fbe9e6}
svg text.region-label{font-size:11px;font-weight:600}svg text.region-head{fill:#2e7d32}
svg text.region-middle{fill:#7a7a1f}svg text.region-tail{fill:#b42318}
svg polyline.line{fill:none;stroke-width:1.6}svg polyline.s0{stroke:var(--s0)}svg polyline.s3{stroke:var(--s3)}
svg circle.s3{fill:var(--s3)}svg line.ref{stroke:#667085;stroke-dasharray:6 4;stroke-width:1.4}
.source{margin-bottom:10px}.stage{margin-left:4px}
.reason{margin:6px 0 10px 8px}
details summary{cursor:pointer;color:#475467;font-size:12px}
.exs{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:8px;margin:4px 0}
.ex{border-left:3px solid var(--s1);background:var(--panel);margin:0;padding:5px 10px;break-inside:avoid}
.ex.sensitive{border-left-color:#b42318}
.ex code.id{font-size:12px;word-break:break-all}.ex .url{display:block}
.ex .url,.ex .host{color:#475467;font-size:12px;word-break:break-all}
.ex .fields{color:var(--muted);font-size:11px;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;
overflow:hidden}.ex .fields b{color:#344054;font-weight:600}
.ex pre{margin:4px 0 0;white-space:pre-wrap;word-break:break-word;font-size:12px;max-height:9.5em;overflow:hidden}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0}dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0}
pre.config{background:var(--panel);padding:10px;font-size:12px;overflow-x:auto;max-height:520px}
ul.gens li{margin:4px 0;white-space:pre-wrap}
@media print{main{max-width:none;padding:0}nav{display:none}h2{break-after:avoid}figure,table{break-inside:avoid}
.ex pre{max-height:none}pre.config{max-height:none}}
"""


def _kpis(data: RunData) -> str:
    items = []
    if data.stats:
        read = sum(funnel.read_docs(s)[0] for s in data.stats["sources"].values())
        read_bytes = sum(funnel.read_docs(s)[1] for s in data.stats["sources"].values())
        kept = [funnel.curated(s) for s in data.stats["sources"].values()]
        items += [("documents read", f"{read:,}", mb(read_bytes)),
                  ("documents curated", f"{sum(d for d, _ in kept):,}", mb(sum(b for _, b in kept)))]
    if data.manifest:
        mix = data.manifest["mixture"]
        items.append(("training tokens", f"{mix['achieved_tokens']:,}",
                      f"{len(data.manifest['shards'].get('train', []))} train shards"))
    if data.train and data.train.val:
        items.append(("validation loss", f"{data.train.val[-1][1]:.3f}", f"after {data.train.steps:,} steps"))
    return '<div class="kpis">' + "".join(
        f'<div class="kpi" data-kpi="{esc(k)}"><span>{esc(k)}</span><b>{esc(v)}</b><span>{esc(sub)}</span></div>'
        for k, v, sub in items) + "</div>"


def _provenance(data: RunData) -> str:
    run = data.run or {}
    rows = [({"data-stage": stage}, [Cell(stage), Cell(rec.get("finished_at", "")),
                                     Cell(f"{rec['seconds']:,.1f} s" if "seconds" in rec else "", cls="n"),
                                     Cell(rec.get("key", "")[:16])])
            for stage, rec in data.records.items()]
    parts = [kv_list([
        ("OUT", f"<code>{esc(data.out)}</code>"),
        ("made by", f"<code>{esc((data.owner or {}).get('created_by', '?'))}</code>"),
        ("code version", f"<code>{esc(run.get('code_version', '?'))}</code>"),
    ]), "<h3>Stages</h3>", table(["stage", "finished", "took", "key"], rows, id="stages")]
    models = []
    cards = data.cards or run.get("models") or {}
    if cards.get("lid"):
        models.append(("LID", cards["lid"]))
    for lang, card in sorted((cards.get("perplexity") or {}).items()):
        models += [(f"perplexity {lang}: SentencePiece", card.get("sentencepiece", {})),
                   (f"perplexity {lang}: KenLM", card.get("kenlm", {}))]
    if cards.get("wikiref"):
        models.append(("wikiref classifier", cards["wikiref"]))
    for name, value in sorted(cards.items()):  # models a newer models stage adds
        if name not in ("lid", "perplexity", "wikiref") and isinstance(value, dict) and "sha256" in value:
            models.append((name, value))
    if data.tokenizer:
        models.append(("tokenizer", {"path": "tokenizer/" + data.tokenizer.get("model_file", ""),
                                     "sha256": data.tokenizer.get("model_sha256", "")}))
    if models:
        parts += ["<h3>Models</h3>", table(["model", "path", "sha256"], [
            ({}, [Cell(name), Cell(m.get("path", "")), Cell(f"<code>{esc(m.get('sha256', ''))}</code>", raw=True)])
            for name, m in models], id="models")]
    if run.get("libraries"):
        parts += ["<h3>Libraries</h3>", '<p id="libraries">' + " · ".join(
            f"{esc(k)} <code>{esc(v)}</code>" for k, v in run["libraries"].items()) + "</p>"]
    if data.config:
        parts += ["<h3>Config</h3>", "<details><summary>the resolved config (run.json)</summary>"
                  f'<pre class="config">{esc(_yaml(data.config))}</pre></details>']
    return "".join(parts)


def _yaml(value) -> str:
    try:
        import yaml

        return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=110)
    except Exception:  # noqa: BLE001 - any value json can show
        return json.dumps(value, indent=2, ensure_ascii=False)


def render(data: RunData) -> str:
    """The whole page, as a string."""
    stats = data.stats
    secs = funnel.sections(stats, data.examples)
    quality = signals.signals(stats, data.config)
    if quality:
        secs.append(("signals", "Quality signals", section(
            "signals", "Quality signals", quality,
            "What the filtering stages measured: lines removed by line dedup, the languages LID saw and "
            "kept, the perplexity of each language with the head/middle/tail cutoffs, and the "
            "Wikipedia-reference classifier's P(wiki) with its threshold.")))
    if data.manifest:
        secs.append(("mixture", "The mixture", section("mixture", "The mixture", mixture.mixture(data.manifest),
                                                       "Requested and achieved shares and epochs per source, "
                                                       "beside LLaMA's Table 1.")))
    if data.tokenizer:
        secs.append(("tokenizer", "Tokenizer", section("tokenizer", "Tokenizer", mixture.tokenizer(data.tokenizer))))
    if data.manifest:
        secs.append(("shards", "Shards", section("shards", "Shards", mixture.shards(data.manifest))))
    if data.train:
        secs.append(("training", "Training", section("training", "Training",
                                                     mixture.training(data.train))))
    secs.append(("provenance", "Provenance", section("provenance", "Provenance", _provenance(data))))
    missing = [s for s in STAGES if s not in data.records]
    notes = [f"not finished in this OUT: {', '.join(missing)}"] if missing else []
    notes += data.notes
    nav = "".join(f'<a href="#{esc(anchor)}">{esc(title)}</a>' for anchor, title, _ in secs)
    made = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    name = data.out.rstrip("/").rsplit("/", 1)[-1]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(name)}: LLaMA data run report</title><style>{CSS}</style></head><body><main>"
        f"<h1>LLaMA data run report: {esc(name)}</h1>"
        f'<p class="muted"><code>{esc(data.out)}</code> · report written {made}'
        f" · code {esc((data.run or {}).get('code_version', '?'))}</p>"
        + "".join(f'<p class="warn">{esc(x)}</p>' for x in notes)
        + _kpis(data) + f"<nav>{nav}</nav>" + "".join(html for _, _, html in secs)
        + "</main></body></html>\n"
    )
