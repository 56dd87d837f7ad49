"""`python -m tokenizer_training`: train the LLaMA-style tokenizer on text files.

    python -m tokenizer_training --input corpus/*.txt --out tok/ [--vocab-size 32000]
        [--held-out heldout/*.txt] [--max-bytes N]

Each input file is one document (UTF-8). Writes tok/tokenizer.model, tokenizer.vocab
and tokenizer.json (settings, training data sha256), replacing tok/ only when done
(and only if tok/ is new, empty or an earlier output of this command: other files are
never deleted), checks the model, and prints bytes per token on the held-out files.
To train on the curated corpus sampled by the LLaMA mixture, use `python -m pipeline tokenizer`.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Iterator

from shard_format.publish import publish_directory
from tokenizer_training.check import bytes_per_token, load, problems
from tokenizer_training.spec import TokenizerSpec
from tokenizer_training.train import MODEL_FILE, train_tokenizer, write_card

WRITTEN_BY = "python -m tokenizer_training"


class _CheckFailed(Exception):
    """The trained model lacks a LLaMA property (the list of problems is its argument)."""


def _read(paths: list[Path], max_bytes: int | None) -> Iterator[str]:
    total = 0
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if max_bytes is not None and total + len(text.encode("utf-8")) > max_bytes:
            return
        total += len(text.encode("utf-8"))
        yield text


def main(argv: list[str] | None = None) -> int:
    defaults = TokenizerSpec()
    parser = argparse.ArgumentParser(prog="python -m tokenizer_training", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", nargs="+", type=Path, required=True, help="UTF-8 text files, one document each")
    parser.add_argument("--out", type=Path, required=True,
                        help="output directory: new, empty, or an earlier output of this command (then replaced "
                             "when training succeeds); a directory holding other files is refused")
    parser.add_argument("--vocab-size", type=int, default=defaults.vocab_size,
                        help=f"pieces in the vocabulary (default {defaults.vocab_size}, LLaMA's); small for tests")
    parser.add_argument("--character-coverage", type=float, default=defaults.character_coverage)
    parser.add_argument("--num-threads", type=int, default=defaults.num_threads,
                        help="SentencePiece threads; the model depends on it, so it is recorded")
    parser.add_argument("--max-bytes", type=int, default=None, help="stop reading inputs after this many bytes")
    parser.add_argument("--held-out", nargs="*", type=Path, default=[], help="files to report bytes per token on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        spec = TokenizerSpec(vocab_size=args.vocab_size, character_coverage=args.character_coverage,
                             num_threads=args.num_threads)
    except ValueError as e:
        parser.error(str(e))
    inputs = sorted(args.input)
    held_out = sorted(args.held_out)
    if set(inputs) & set(held_out):
        parser.error("--held-out files must not also be --input files")

    try:
        with publish_directory(args.out, written_by=WRITTEN_BY) as tmp:
            card = train_tokenizer(_read(inputs, args.max_bytes), tmp, spec,
                                   extra_card={"inputs": [str(p) for p in inputs]})
            sp = load(tmp / MODEL_FILE)
            found = problems(sp)
            if found:
                raise _CheckFailed(found)  # leaves --out as it was
            if held_out:
                card["held_out_bytes_per_token"] = {
                    str(p): bytes_per_token(sp, [p.read_text(encoding="utf-8")]) for p in held_out
                }
                write_card(tmp, card)
    except _CheckFailed as e:
        print("tokenizer check failed:\n  " + "\n  ".join(e.args[0]), file=sys.stderr)
        return 1
    except ValueError as e:  # includes OutputRefusedError: --out holds files we did not write
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.out}/{MODEL_FILE}: {card['vocab_size']} pieces, sha256 {card['model_sha256'][:16]}..., "
          f"trained on {card['training_data']['bytes']:,} bytes in {card['train_seconds']}s")
    for path, bpt in card.get("held_out_bytes_per_token", {}).items():
        print(f"  {path}: {bpt:.3f} bytes/token")
    return 0


if __name__ == "__main__":
    sys.exit(main())
