"""The shard byte format, checked against the layout in DESIGN.md written out by hand."""

import hashlib
import json
import os

import numpy as np
import pytest

import shard_format as sf

SHA = hashlib.sha256(b"a tokenizer model").digest()


def expected_bytes(tokens: list[int], vocab: int, sha: bytes) -> bytes:
    header = (b"LLMSHARD" + (1).to_bytes(4, "little") + (2).to_bytes(4, "little")
              + len(tokens).to_bytes(8, "little") + vocab.to_bytes(4, "little") + sha + bytes(4))
    return header + b"".join(t.to_bytes(2, "little") for t in tokens)


def test_layout_is_byte_exact(tmp_path):
    docs = [np.array([1, 500, 65000, 2]), np.array([1, 7, 2], dtype=np.int32)]
    header = sf.write_shard(tmp_path / "a.bin", docs, vocab_size=65535, tokenizer_sha256=SHA)
    assert (tmp_path / "a.bin").read_bytes() == expected_bytes([1, 500, 65000, 2, 1, 7, 2], 65535, SHA)
    assert header.token_count == 7 and sf.HEADER_SIZE == 64 and sf.MAGIC == b"LLMSHARD" and sf.VERSION == 1


def test_header_pack_unpack_round_trip():
    h = sf.ShardHeader(token_count=123456789012, vocab_size=32000, tokenizer_sha256=SHA)
    packed = h.pack()
    assert len(packed) == 64
    assert sf.ShardHeader.unpack(packed) == h


def test_open_shard_maps_the_tokens(tmp_path):
    tokens = np.arange(1000) % 400
    sf.write_shard(tmp_path / "s.bin", tokens, vocab_size=400, tokenizer_sha256=SHA)
    header, mapped = sf.open_shard(tmp_path / "s.bin")
    assert isinstance(mapped, np.memmap) and mapped.dtype == np.dtype("<u2")
    assert header.vocab_size == 400 and header.tokenizer_sha256 == SHA
    np.testing.assert_array_equal(mapped, tokens)


def test_empty_shard(tmp_path):
    sf.write_shard(tmp_path / "e.bin", [], vocab_size=10, tokenizer_sha256=SHA)
    header, tokens = sf.open_shard(tmp_path / "e.bin")
    assert header.token_count == 0 and len(tokens) == 0


def test_truncated_file_is_rejected_with_its_name(tmp_path):
    path = tmp_path / "train-00000.bin"
    sf.write_shard(path, np.arange(100), vocab_size=400, tokenizer_sha256=SHA)
    data = path.read_bytes()
    path.write_bytes(data[:-2])
    with pytest.raises(sf.ShardFormatError, match=r"train-00000\.bin: truncated shard: header says 100 tokens"):
        sf.open_shard(path)
    path.write_bytes(data[:40])
    with pytest.raises(sf.ShardFormatError, match="truncated shard: 40 bytes"):
        sf.open_shard(path)


def test_trailing_bytes_are_rejected(tmp_path):
    path = tmp_path / "s.bin"
    sf.write_shard(path, np.arange(10), vocab_size=400, tokenizer_sha256=SHA)
    with open(path, "ab") as f:
        f.write(b"\0\0")
    with pytest.raises(sf.ShardFormatError, match="trailing bytes"):
        sf.open_shard(path)


def test_foreign_file_is_rejected(tmp_path):
    path = tmp_path / "notes.bin"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))  # a PNG signature, not a shard
    with pytest.raises(sf.ShardFormatError, match=r"notes\.bin: not a token shard \(foreign file\)"):
        sf.open_shard(path)


def test_wrong_version_and_reserved_bytes(tmp_path):
    good = expected_bytes([1, 2, 3], 400, SHA)
    path = tmp_path / "v.bin"
    path.write_bytes(good[:8] + (2).to_bytes(4, "little") + good[12:])
    with pytest.raises(sf.ShardFormatError, match="unsupported shard format version 2"):
        sf.open_shard(path)
    path.write_bytes(good[:12] + (4).to_bytes(4, "little") + good[16:])
    with pytest.raises(sf.ShardFormatError, match="4 bytes per token"):
        sf.open_shard(path)
    path.write_bytes(good[:60] + b"\x01\0\0\0" + good[64:])
    with pytest.raises(sf.ShardFormatError, match="reserved bytes"):
        sf.open_shard(path)


def test_vocabulary_must_fit_uint16(tmp_path):
    with pytest.raises(sf.ShardFormatError, match="uint16"):
        sf.write_shard(tmp_path / "big.bin", np.arange(5), vocab_size=65536, tokenizer_sha256=SHA)
    assert not list(tmp_path.iterdir())


def test_token_outside_vocabulary_leaves_no_file(tmp_path):
    with pytest.raises(sf.ShardFormatError, match="token id 400 is outside the vocabulary"):
        sf.write_shard(tmp_path / "s.bin", [np.arange(10), np.array([400])], vocab_size=400, tokenizer_sha256=SHA)
    assert not list(tmp_path.iterdir())  # neither the shard nor its temporary file


def test_rewrite_is_atomic_replacement(tmp_path):
    path = tmp_path / "s.bin"
    sf.write_shard(path, np.arange(10), vocab_size=400, tokenizer_sha256=SHA)
    with pytest.raises(sf.ShardFormatError):
        sf.write_shard(path, np.array([1, 999]), vocab_size=400, tokenizer_sha256=SHA)
    np.testing.assert_array_equal(sf.open_shard(path)[1], np.arange(10))  # the old shard is intact


def test_file_sha256():
    assert sf.file_sha256(__file__) == hashlib.sha256(open(__file__, "rb").read()).hexdigest()


def write_dir(tmp_path, vocab=400):
    sf.write_shard(tmp_path / "train-00000.bin", np.arange(50) % vocab, vocab_size=vocab, tokenizer_sha256=SHA)
    sf.write_shard(tmp_path / "val-00000.bin", np.arange(20) % vocab, vocab_size=vocab, tokenizer_sha256=SHA)
    manifest = {"tokenizer_sha256": SHA.hex(), "vocab_size": vocab, "seed": 7,
                "shards": {"train": [sf.shard_entry(tmp_path / "train-00000.bin")],
                           "val": [sf.shard_entry(tmp_path / "val-00000.bin")]}}
    sf.write_manifest(tmp_path, manifest)
    return manifest


def test_manifest_round_trip(tmp_path):
    manifest = write_dir(tmp_path)
    assert sf.read_manifest(tmp_path, verify_sha256=True) == manifest
    entry = manifest["shards"]["train"][0]
    assert entry == {"file": "train-00000.bin", "tokens": 50,
                     "sha256": hashlib.sha256((tmp_path / "train-00000.bin").read_bytes()).hexdigest()}


def test_manifest_disagreeing_with_shards(tmp_path):
    manifest = write_dir(tmp_path)
    manifest["shards"]["train"][0]["tokens"] = 51
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(sf.ShardFormatError, match="has 50 tokens but the manifest says 51"):
        sf.read_manifest(tmp_path)

    manifest = write_dir(tmp_path)
    os.remove(tmp_path / "val-00000.bin")
    with pytest.raises(sf.ShardFormatError, match="does not exist"):
        sf.read_manifest(tmp_path)


def test_manifest_vocab_and_tokenizer_must_match_headers(tmp_path):
    manifest = write_dir(tmp_path)
    sf.write_manifest(tmp_path, {**manifest, "vocab_size": 500})
    with pytest.raises(sf.ShardFormatError, match="vocabulary size 400 differs from the manifest's 500"):
        sf.read_manifest(tmp_path)
    sf.write_manifest(tmp_path, {**manifest, "tokenizer_sha256": "0" * 64})
    with pytest.raises(sf.ShardFormatError, match="was tokenized with tokenizer"):
        sf.read_manifest(tmp_path)


def test_manifest_sha256_verification(tmp_path):
    write_dir(tmp_path)
    data = bytearray((tmp_path / "train-00000.bin").read_bytes())
    data[-1] ^= 1  # same size, one bit flipped
    (tmp_path / "train-00000.bin").write_bytes(bytes(data))
    sf.read_manifest(tmp_path)  # headers still agree
    with pytest.raises(sf.ShardFormatError, match="sha256 differs"):
        sf.read_manifest(tmp_path, verify_sha256=True)


def test_invalid_manifests_are_refused(tmp_path):
    with pytest.raises(sf.ShardFormatError, match="no manifest"):
        sf.read_manifest(tmp_path)
    with pytest.raises(sf.ShardFormatError, match="missing key 'vocab_size'"):
        sf.write_manifest(tmp_path, {"tokenizer_sha256": SHA.hex(), "shards": {}})
    with pytest.raises(sf.ShardFormatError, match="bare file name"):
        sf.write_manifest(tmp_path, {"tokenizer_sha256": SHA.hex(), "vocab_size": 10,
                                     "shards": {"train": [{"file": "../x.bin", "tokens": 1, "sha256": "0" * 64}]}})
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(sf.ShardFormatError, match="not valid JSON"):
        sf.read_manifest(tmp_path)


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    from shard_format import atomic_write

    target = tmp_path / "state.json"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as f:
            f.write("half of the new")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["state.json"]
    with atomic_write(target, "w") as f:
        f.write("new\n")
    assert target.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["state.json"]
    assert target.stat().st_mode & 0o777 == 0o644
