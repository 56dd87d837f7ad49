"""The one definition of the token shard format and its manifest (numpy only, no torch).

A shard is a 64-byte little-endian header followed by the tokens as little-endian
uint16. Header layout (DESIGN.md, "Shards"):

    bytes  0-7   magic b"LLMSHARD"
    bytes  8-11  uint32 format version (1)
    bytes 12-15  uint32 bytes per token (2)
    bytes 16-23  uint64 token count
    bytes 24-27  uint32 vocabulary size
    bytes 28-59  sha256 of the tokenizer model (32 raw bytes)
    bytes 60-63  zero

Every document in a shard is written as ``BOS tokens EOS``. The pipeline's shard
writer and the trainer's reader both import this module; nothing else may know
the byte layout.

``manifest.json`` in the shard directory lists the shards:

    {"tokenizer_sha256": "<hex>", "vocab_size": 32000,
     "shards": {"train": [{"file": "train-00000.bin", "tokens": n, "sha256": "<hex>"}, ...],
                "val":   [...]},
     ... any further keys (sources, proportions, config, seed) are kept as they are}
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

MAGIC = b"LLMSHARD"
VERSION = 1
BYTES_PER_TOKEN = 2
HEADER_SIZE = 64
TOKEN_DTYPE = np.dtype("<u2")  # little-endian uint16
MAX_VOCAB_SIZE = 65535  # token ids are uint16; a larger vocabulary is refused
MANIFEST_NAME = "manifest.json"
SPLITS = ("train", "val")

# magic, version, bytes/token, token count, vocab size, tokenizer sha256, reserved
_HEADER = struct.Struct("<8sIIQI32sI")
assert _HEADER.size == HEADER_SIZE


class ShardFormatError(ValueError):
    """A file is not a valid shard, or a manifest does not describe its shards."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShardHeader:
    token_count: int
    vocab_size: int
    tokenizer_sha256: bytes  # 32 raw bytes
    version: int = VERSION
    bytes_per_token: int = BYTES_PER_TOKEN

    def __post_init__(self) -> None:
        if not 0 < self.vocab_size <= MAX_VOCAB_SIZE:
            raise ShardFormatError(
                f"vocabulary size {self.vocab_size} does not fit the shard format: token ids "
                f"are stored as uint16, so the vocabulary must be between 1 and {MAX_VOCAB_SIZE}"
            )
        if len(self.tokenizer_sha256) != 32:
            raise ShardFormatError(
                f"tokenizer_sha256 must be the 32 raw bytes of a sha256 digest, got {len(self.tokenizer_sha256)} bytes"
            )
        if self.token_count < 0:
            raise ShardFormatError(f"token count must be >= 0, got {self.token_count}")

    @property
    def file_size(self) -> int:
        return HEADER_SIZE + self.token_count * self.bytes_per_token

    def pack(self) -> bytes:
        return _HEADER.pack(
            MAGIC, self.version, self.bytes_per_token, self.token_count,
            self.vocab_size, self.tokenizer_sha256, 0,
        )

    @classmethod
    def unpack(cls, data: bytes, *, path: str | os.PathLike = "<bytes>", file_size: int | None = None) -> ShardHeader:
        """Parse and validate a header; ``file_size`` (when given) must match the token count."""
        if len(data) < HEADER_SIZE:
            raise ShardFormatError(
                f"{path}: truncated shard: {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header"
            )
        magic, version, bytes_per_token, token_count, vocab_size, sha, reserved = _HEADER.unpack(data[:HEADER_SIZE])
        if magic != MAGIC:
            raise ShardFormatError(
                f"{path}: not a token shard (foreign file): magic is {magic!r}, expected {MAGIC!r}"
            )
        if version != VERSION:
            raise ShardFormatError(
                f"{path}: unsupported shard format version {version}; this code reads version {VERSION}"
            )
        if bytes_per_token != BYTES_PER_TOKEN:
            raise ShardFormatError(
                f"{path}: {bytes_per_token} bytes per token; this format stores {BYTES_PER_TOKEN} (uint16)"
            )
        if reserved != 0:
            raise ShardFormatError(f"{path}: corrupt header: reserved bytes 60-63 are {reserved:#x}, not zero")
        header = cls(token_count=token_count, vocab_size=vocab_size, tokenizer_sha256=sha,
                     version=version, bytes_per_token=bytes_per_token)
        if file_size is not None and file_size != header.file_size:
            kind = "truncated shard" if file_size < header.file_size else "shard has trailing bytes"
            raise ShardFormatError(
                f"{path}: {kind}: header says {token_count} tokens ({header.file_size} bytes in all) "
                f"but the file has {file_size} bytes"
            )
        return header


def read_header(path: str | os.PathLike) -> ShardHeader:
    """Read and validate a shard's header, checking the file size against the token count."""
    with open(path, "rb") as f:
        data = f.read(HEADER_SIZE)
    return ShardHeader.unpack(data, path=path, file_size=os.path.getsize(path))


def open_shard(path: str | os.PathLike) -> tuple[ShardHeader, np.ndarray]:
    """Validate a shard and map its tokens read-only: ``(header, uint16 array of token_count)``."""
    header = read_header(path)
    if header.token_count == 0:  # np.memmap cannot map zero bytes
        return header, np.zeros(0, dtype=TOKEN_DTYPE)
    tokens = np.memmap(path, dtype=TOKEN_DTYPE, mode="r", offset=HEADER_SIZE, shape=(header.token_count,))
    return header, tokens


def _as_chunks(tokens: np.ndarray | Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    if isinstance(tokens, np.ndarray):
        yield tokens
    else:
        yield from tokens


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Open a temporary file beside `path`; on success fsync it and rename it over
    `path`, so readers see the old file or the whole new one. On error it is removed.

    The one atomic write of the project: shards, manifests, checkpoints' `latest`,
    the pipeline's run.json and stats.json.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_shard(
    path: str | os.PathLike,
    tokens: np.ndarray | Iterable[np.ndarray],
    *,
    vocab_size: int,
    tokenizer_sha256: bytes,
) -> ShardHeader:
    """Write a shard atomically (temporary name in the same folder, then rename).

    ``tokens`` is one integer array or an iterable of arrays (e.g. one per document,
    already ``BOS ... EOS``); they are streamed, never concatenated in memory.
    Every id must be in ``[0, vocab_size)``.
    """
    path = Path(path)
    # Validates vocab size and digest before anything touches the disk.
    ShardHeader(token_count=0, vocab_size=vocab_size, tokenizer_sha256=tokenizer_sha256)
    with atomic_write(path, "wb") as f:
        f.write(b"\0" * HEADER_SIZE)  # placeholder until the count is known
        count = 0
        for chunk in _as_chunks(tokens):
            chunk = np.asarray(chunk)
            if chunk.size == 0:
                continue
            if not np.issubdtype(chunk.dtype, np.integer):
                raise ShardFormatError(f"{path}: tokens must be integers, got dtype {chunk.dtype}")
            lo, hi = int(chunk.min()), int(chunk.max())
            if lo < 0 or hi >= vocab_size:
                raise ShardFormatError(
                    f"{path}: token id {hi if hi >= vocab_size else lo} is outside the vocabulary [0, {vocab_size})"
                )
            f.write(chunk.astype(TOKEN_DTYPE, copy=False).tobytes())
            count += chunk.size
        header = ShardHeader(token_count=count, vocab_size=vocab_size, tokenizer_sha256=tokenizer_sha256)
        f.seek(0)
        f.write(header.pack())
    return header


def file_sha256(path: str | os.PathLike, *, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a whole file (a shard, or the tokenizer model)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def shard_entry(path: str | os.PathLike) -> dict:
    """The manifest entry for a written shard: ``{"file", "tokens", "sha256"}``."""
    header = read_header(path)
    return {"file": Path(path).name, "tokens": header.token_count, "sha256": file_sha256(path)}


def _check_hex_sha256(value: object, what: str) -> str:
    if not (isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)):
        raise ShardFormatError(f"{what} must be a 64-character lowercase hex sha256, got {value!r}")
    return value


def validate_manifest(manifest: Mapping, *, where: str = MANIFEST_NAME) -> None:
    """Check the keys the trainer relies on; other keys are the pipeline's and pass through."""
    for key in ("tokenizer_sha256", "vocab_size", "shards"):
        if key not in manifest:
            raise ShardFormatError(f"{where}: missing key {key!r}")
    _check_hex_sha256(manifest["tokenizer_sha256"], f"{where}: tokenizer_sha256")
    vocab = manifest["vocab_size"]
    if not (isinstance(vocab, int) and 0 < vocab <= MAX_VOCAB_SIZE):
        raise ShardFormatError(f"{where}: vocab_size must be an integer in [1, {MAX_VOCAB_SIZE}], got {vocab!r}")
    shards = manifest["shards"]
    if not isinstance(shards, Mapping) or set(shards) - set(SPLITS):
        raise ShardFormatError(f"{where}: 'shards' must map splits {SPLITS} to lists of shard entries")
    for split, entries in shards.items():
        for i, entry in enumerate(entries):
            label = f"{where}: shards.{split}[{i}]"
            if not isinstance(entry, Mapping) or not {"file", "tokens", "sha256"} <= set(entry):
                raise ShardFormatError(f"{label} must have 'file', 'tokens' and 'sha256'")
            if "/" in entry["file"] or entry["file"] in ("", ".", ".."):
                raise ShardFormatError(f"{label}: 'file' must be a bare file name, got {entry['file']!r}")
            if not (isinstance(entry["tokens"], int) and entry["tokens"] >= 0):
                raise ShardFormatError(f"{label}: 'tokens' must be a non-negative integer")
            _check_hex_sha256(entry["sha256"], f"{label}: sha256")


def manifest_bytes(manifest: Mapping, *, where: str = MANIFEST_NAME) -> bytes:
    """A validated manifest as the bytes of ``manifest.json``."""
    validate_manifest(manifest, where=where)
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_manifest(directory: str | os.PathLike, manifest: Mapping) -> Path:
    """Validate and write ``directory/manifest.json`` atomically; returns its path."""
    target = Path(directory) / MANIFEST_NAME
    data = manifest_bytes(manifest, where=str(target))
    with atomic_write(target) as f:
        f.write(data)
    return target


def read_manifest(directory: str | os.PathLike, *, verify_sha256: bool = False) -> dict:
    """Read ``directory/manifest.json`` and check it against the shards it lists.

    Every listed shard must exist, have a valid header, and agree with the manifest on
    token count, vocabulary size and tokenizer digest. ``verify_sha256`` also hashes
    every shard (reads all the data; off by default).
    """
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ShardFormatError(f"{path}: no manifest; expected the shard directory written by `python -m pipeline shards`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ShardFormatError(f"{path}: not valid JSON: {e}") from None
    validate_manifest(manifest, where=str(path))
    tokenizer_sha = bytes.fromhex(manifest["tokenizer_sha256"])
    for split, entries in manifest["shards"].items():
        for entry in entries:
            shard = directory / entry["file"]
            if not shard.is_file():
                raise ShardFormatError(f"{path}: lists {entry['file']} ({split}) but {shard} does not exist")
            header = read_header(shard)
            if header.token_count != entry["tokens"]:
                raise ShardFormatError(
                    f"{shard}: has {header.token_count} tokens but the manifest says {entry['tokens']}"
                )
            if header.vocab_size != manifest["vocab_size"]:
                raise ShardFormatError(
                    f"{shard}: vocabulary size {header.vocab_size} differs from the manifest's {manifest['vocab_size']}"
                )
            if header.tokenizer_sha256 != tokenizer_sha:
                raise ShardFormatError(
                    f"{shard}: was tokenized with tokenizer {header.tokenizer_sha256.hex()[:12]}..., "
                    f"but the manifest names {manifest['tokenizer_sha256'][:12]}..."
                )
            if verify_sha256 and file_sha256(shard) != entry["sha256"]:
                raise ShardFormatError(f"{shard}: sha256 differs from the manifest's (file changed or corrupt)")
    return manifest
