"""The run's SentencePiece tokenizer: where to find it, and whether it matches the shards."""

from __future__ import annotations

from pathlib import Path

import sentencepiece as spm

from shard_format import file_sha256


class DataMismatchError(ValueError):
    """The shards, the tokenizer or a checkpoint do not belong together."""


def locate(data_dir: str | Path, override: str | Path | None = None) -> Path:
    """``--tokenizer`` if given, else ``tokenizer/tokenizer.model`` next to the shard directory (OUT/tokenizer)."""
    if override is not None:
        path = Path(override)
        if not path.is_file():
            raise FileNotFoundError(f"--tokenizer {path}: no such file")
        return path
    path = Path(data_dir).resolve().parent / "tokenizer" / "tokenizer.model"
    if not path.is_file():
        raise FileNotFoundError(
            f"no tokenizer at {path} (the pipeline writes OUT/tokenizer/tokenizer.model next to OUT/shards); "
            f"pass --tokenizer PATH"
        )
    return path


def load(path: str | Path) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=str(path))


def check_matches(manifest: dict, tokenizer_path: Path, sp: spm.SentencePieceProcessor) -> None:
    """The tokenizer must be the one the shards were made with: same vocabulary size, same file."""
    if sp.get_piece_size() != manifest["vocab_size"]:
        raise DataMismatchError(
            f"vocabulary mismatch: the shards' manifest says {manifest['vocab_size']} tokens but the tokenizer "
            f"{tokenizer_path} has {sp.get_piece_size()}; the shards were made with a different tokenizer"
        )
    digest = file_sha256(tokenizer_path)
    if digest != manifest["tokenizer_sha256"]:
        raise DataMismatchError(
            f"tokenizer mismatch: {tokenizer_path} has sha256 {digest[:16]}... but the shards were tokenized "
            f"with {manifest['tokenizer_sha256'][:16]}...; pass the matching --tokenizer"
        )
