"""The mixture, tokenizer and shards sections (shards/manifest.json, tokenizer/tokenizer.json) and the
training section (the train run's metrics.jsonl, summary.json, generations.json)."""
from __future__ import annotations

from shard_format import HEADER_SIZE, TOKEN_DTYPE

from pipeline.report import svg
from pipeline.report.fmt import Cell, esc, figure, kv_list, mb, n, nbytes, ratio, share, table
from pipeline.report.gather import TrainRun

SHARD_BARS = 32  # shards drawn one bar each; more: a summary line


def _pct_cell(key: str, value: float | None) -> Cell:
    return n(key, None if value is None else round(value, 6), share(value) if value is not None else None)


def mixture(manifest: dict) -> str:
    mix = manifest["mixture"]
    sources = mix["sources"]
    how = (f"the largest mix with no source above {mix['epoch_cap']:g} epochs" if mix.get("mode") == "max"
           else f"a budget of {mix.get('total_tokens_requested') or 0:,.0f} tokens")
    renormalised = any(r.get("proportion") != r.get("requested_proportion") for r in sources.values())
    rows = []
    for source, row in sources.items():
        planned = [_pct_cell("planned", row.get("proportion"))] if renormalised else []
        rows.append(({"data-source": source}, [
            Cell(source), n("documents", row["documents"]), n("tokens", row["tokens"]),
            _pct_cell("requested", row.get("requested_proportion")), *planned,
            _pct_cell("achieved", row.get("achieved_proportion")), _pct_cell("llama", row.get("llama_proportion")),
            ratio("epochs", row.get("epochs"), 2), ratio("achieved_epochs", row.get("achieved_epochs"), 2),
            ratio("llama_epochs", row.get("llama_epochs"), 2)]))
    rows.append(({"data-source": "all", "class": "total"}, [
        Cell("all"), n("documents", sum(r["documents"] for r in sources.values())),
        n("tokens", mix["achieved_tokens"]), *[Cell("")] * (7 if renormalised else 6)]))
    shares = svg.bars([(s, [100 * (r.get("requested_proportion") or 0), 100 * (r.get("achieved_proportion") or 0),
                            100 * (r.get("llama_proportion") or 0)]) for s, r in sources.items()],
                      [("requested", "s1"), ("achieved", "s0"), ("LLaMA Table 1", "s2")],
                      title="Share of training tokens per source", fmt=lambda v: f"{v:.1f}%", bar_h=11)
    epochs = svg.bars([(s, [r.get("achieved_epochs") or 0, r.get("llama_epochs") or 0]) for s, r in sources.items()],
                      [("achieved", "s0"), ("LLaMA Table 1", "s2")], title="Epochs over each source",
                      fmt=lambda v: f"{v:.2f}", bar_h=11)
    tokens = svg.bars([(s, [r["tokens"]]) for s, r in sources.items()], [("tokens", "s0")],
                      title="Training tokens per source")
    notes = "".join(f'<p class="warn">{esc(x)}</p>' for x in (mix.get("note"),) if x)
    if mix.get("missing"):
        notes += f'<p class="warn">sources without data: {esc(", ".join(mix["missing"]))}</p>'
    return (f"<p>{mix['achieved_tokens']:,} training tokens: {esc(how)}"
            f"{' (proportions renormalised over the sources with data)' if mix.get('renormalised') else ''}.</p>"
            + notes
            + table(["source", "documents", "tokens", "requested", *(["planned"] if renormalised else []), "achieved",
                     "LLaMA", "epochs planned", "epochs achieved", "LLaMA epochs"], rows, id="mixture")
            + figure(shares) + figure(epochs) + figure(tokens))


def tokenizer(card: dict) -> str:
    held = card.get("held_out") or {}
    rows = [({"data-source": s}, [Cell(s), n("documents", h.get("documents")), nbytes("bytes", h.get("bytes")),
                                  ratio("bytes_per_token", h.get("bytes_per_token"))]) for s, h in held.items()]
    chart = svg.bars([(s, [h["bytes_per_token"]]) for s, h in held.items() if h.get("bytes_per_token")],
                     [("bytes/token", "s0")], title="Tokenizer bytes per token, held-out documents",
                     fmt=lambda v: f"{v:.3f}")
    data = card.get("training_data") or {}
    facts = kv_list([
        ("model", f"SentencePiece {esc(card.get('settings', {}).get('model_type', '?'))}, "
                  f"{card.get('vocab_size', 0):,} pieces"),
        ("sha256", f"<code>{esc(card.get('model_sha256', ''))}</code>"),
        ("trained on", f"{data.get('documents', 0):,} document copies, {mb(data.get('bytes', 0))}"),
    ])
    return facts + table(["source", "held-out documents", "held-out bytes", "bytes/token"], rows, id="tokenizer") \
        + (figure(chart) if held else "")


def _shard_bytes(tokens: int) -> int:
    return HEADER_SIZE + tokens * TOKEN_DTYPE.itemsize


def shards(manifest: dict) -> str:
    entries = [(split, e) for split in ("train", "val") for e in manifest["shards"].get(split, [])]
    rows = [({"data-file": e["file"]}, [Cell(e["file"]), Cell(split), n("documents", e.get("documents")),
                                        n("tokens", e["tokens"]), nbytes("bytes", _shard_bytes(e["tokens"]))])
            for split, e in entries]
    total = sum(_shard_bytes(e["tokens"]) for _, e in entries)
    head = (f"<p>{len(manifest['shards'].get('train', []))} training and {len(manifest['shards'].get('val', []))} "
            f"validation shards, {mb(total)} in all; target {manifest.get('target_tokens_per_shard', 0):,} tokens a "
            f"shard; vocabulary {manifest.get('vocab_size', 0):,}, tokens as little-endian "
            f"{esc(TOKEN_DTYPE.name)}.</p>")
    chart = ""
    if len(entries) <= SHARD_BARS:
        chart = figure(svg.bars([(e["file"], [e["tokens"]]) for _, e in entries], [("tokens", "s0")],
                                title="Tokens per shard", label_width=120))
    return head + chart + table(["shard", "split", "documents", "tokens", "bytes"], rows, id="shards")


def training(train: TrainRun) -> str:
    summary = train.summary or {}
    entropy = summary.get("val_unigram_entropy")
    series = [("train loss", train.train, "s0", False), ("validation loss", train.val, "s3", True)]
    hlines = [(entropy, "unigram entropy (val)", "ref")] if entropy is not None else []
    chart = svg.lines([s for s in series if s[1]], title="Loss", x_title="step", y_title="loss (nats/token)",
                      hlines=hlines)
    final = summary.get("final_val_loss", train.val[-1][1] if train.val else None)
    facts = [
        ("run", f"<code>{esc(train.path)}</code>"),
        ("steps", f"{train.steps:,}" + (f", {summary['tokens_seen']:,} tokens" if summary.get("tokens_seen") else "")),
        ("validation loss", f'<span data-k="final_val_loss" data-v="{final}">{final:.4f}</span> nats/token'
         if final is not None else "–"),
        ("unigram entropy", f"{entropy:.4f} nats/token (a model that learned only token frequencies)"
         if entropy is not None else "–"),
        ("tokens/s", f"{train.tokens_per_s:,.0f} (median over steps)" if train.tokens_per_s else "–"),
        ("MFU", f"{100 * train.mfu:.1f}% (median)" if train.mfu is not None else "–"),
    ]
    if final is not None and entropy is not None:
        facts.insert(4, ("against the unigram entropy",
                         f"{entropy - final:.3f} nats/token below it" if final < entropy else "NOT below it"))
    if not summary:
        facts.append(("state", "no summary.json: the run has not finished (or was stopped early)"))
    gens = ""
    if train.generations:
        items = "".join(f'<li><span class="muted">[{esc(g.get("mode", ""))}]</span> <b>{esc(g.get("prompt", ""))}</b>'
                        f'{esc(g.get("continuation", ""))}</li>' for g in train.generations)
        gens = f'<h3>Generated</h3><ul class="gens">{items}</ul>'
    return kv_list(facts) + figure(chart) + gens
