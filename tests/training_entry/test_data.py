import hashlib
import math

import numpy as np
import pytest

from shard_format import HEADER_SIZE, ShardFormatError, write_shard
from training_entry.data import SampleOrder, TokenStream, TrainData, ValData, unigram_entropy

SHA = hashlib.sha256(b"tok").digest()


@pytest.fixture
def three_shards(tmp_path):
    parts = [np.arange(0, 10), np.arange(10, 13), np.arange(13, 40)]
    paths = []
    for i, part in enumerate(parts):
        paths.append(tmp_path / f"train-{i:05d}.bin")
        write_shard(paths[-1], part, vocab_size=100, tokenizer_sha256=SHA)
    return paths


def test_stream_reads_across_shard_boundaries(three_shards):
    stream = TokenStream(three_shards)
    assert len(stream) == 40
    for start, length in [(0, 40), (8, 7), (10, 3), (12, 2), (39, 1), (5, 0)]:
        np.testing.assert_array_equal(stream.read(start, length), np.arange(start, start + length))
    with pytest.raises(IndexError):
        stream.read(35, 6)


def test_a_token_outside_the_vocabulary_names_its_shard_and_offset(three_shards):
    path = three_shards[2]
    data = bytearray(path.read_bytes())
    data[HEADER_SIZE + 2 * 7: HEADER_SIZE + 2 * 8] = (100).to_bytes(2, "little")  # shard 2's 8th token: id 100
    path.write_bytes(bytes(data))
    stream = TokenStream(three_shards)
    np.testing.assert_array_equal(stream.read(0, 20), np.arange(0, 20))  # windows before it read as before
    with pytest.raises(ShardFormatError, match=r"train-00002\.bin: token id 100 at token offset 7 is outside "
                                               r"the vocabulary \[0, 100\)"):
        stream.read(8, 15)  # crosses into shard 2


def test_samples_overlap_by_one_token_for_targets(three_shards):
    data = TrainData(TokenStream(three_shards), context=8, seed=0)
    assert data.n_samples == (40 - 1) // 8
    inputs, targets = data.batch([0, 3])
    np.testing.assert_array_equal(inputs.numpy(), [np.arange(0, 8), np.arange(24, 32)])
    np.testing.assert_array_equal(targets.numpy(), [np.arange(1, 9), np.arange(25, 33)])


@pytest.mark.parametrize("n,block", [(10, 1 << 16), (1000, 64), (130, 64)])
def test_order_is_a_seeded_permutation_per_epoch(n, block):
    order = SampleOrder(n, seed=5, block=block)
    epoch0 = [order[p] for p in range(n)]
    epoch1 = [order[p] for p in range(n, 2 * n)]
    assert sorted(epoch0) == sorted(epoch1) == list(range(n))  # every sample once per epoch
    assert epoch0 != epoch1  # reshuffled each epoch
    assert epoch0 != list(range(n))
    assert [SampleOrder(n, seed=5, block=block)[p] for p in range(n)] == epoch0
    assert [SampleOrder(n, seed=6, block=block)[p] for p in range(n)] != epoch0


def test_ranks_split_each_step_disjointly(three_shards):
    data = TrainData(TokenStream(three_shards), context=2, seed=1)  # 19 samples
    seen = []
    for step in range(4):  # 16 samples: within the first epoch
        alone = data.sample_ids(step, sequences_per_step=4, rank=0, world_size=1)
        pair = [data.sample_ids(step, sequences_per_step=4, rank=r, world_size=2) for r in range(2)]
        assert pair[0] + pair[1] == alone
        seen += pair[0] + pair[1]
    assert len(set(seen)) == len(seen) == 16  # no sample twice within an epoch, across ranks and steps


def test_validation_sequences_are_a_multiple_of_world_size(three_shards):
    val = ValData(TokenStream(three_shards), context=8, max_sequences=100, multiple_of=2)
    assert val.n_sequences == 4  # 4 complete sequences of 8 + 1 in 40 tokens, already even
    val = ValData(TokenStream(three_shards), context=10, max_sequences=100, multiple_of=2)
    assert val.n_sequences == 2  # 3 available, rounded down
    assert val.rank_ids(0, 2) == [0] and val.rank_ids(1, 2) == [1]
    np.testing.assert_array_equal(val.target_tokens(), np.r_[np.arange(1, 11), np.arange(11, 21)])


def test_unigram_entropy():
    assert unigram_entropy(np.array([3, 3, 3])) == 0.0
    assert unigram_entropy(np.arange(8)) == pytest.approx(math.log(8))
    tokens = np.array([0] * 3 + [1])
    assert unigram_entropy(tokens) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
