"""Summary lines for the models stage, from OUT/models/cards.json."""
from __future__ import annotations

from typing import Any


def format_cards(cards: dict[str, Any]) -> list[str]:
    """Summary lines for the quality models (for the models stage log and the run summary)."""
    lines = []
    for lang, card in sorted((cards.get("perplexity") or {}).items()):
        data = card.get("training_data")
        trained = (f"{data['tokens']:,} tokens from {data['articles']:,} Wikipedia articles" if data
                   else card["origin"])
        kenlm = card["kenlm"]
        lines.append(f"  perplexity {lang}: KenLM {kenlm.get('order', '?')}-gram "
                     f"({kenlm['bytes'] / 1e6:.1f} MB), SentencePiece "
                     f"{card['sentencepiece'].get('vocab_size', '?')} pieces, {trained}")
    wikiref = cards.get("wikiref")
    if wikiref:
        heldout = wikiref.get("heldout")
        if heldout:
            m, half = heldout["at_threshold"], heldout["at_0.5"]
            lines.append(f"  wikiref: fastText wiki/cc, held-out {m['wiki']} wiki + {m['cc']} cc: "
                         f"precision {m['precision']}, recall {m['recall']} at P(wiki) >= {m['threshold']} "
                         f"(precision {half['precision']}, recall {half['recall']} at 0.5)")
        else:
            lines.append(f"  wikiref: {wikiref['origin']}")
        if "positives" in wikiref:
            lines.append(f"    positives: {wikiref['positives']}")
    return lines

