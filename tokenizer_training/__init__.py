"""Train, save, load and check the LLaMA-style SentencePiece BPE tokenizer (Beam-free);
hf_tokenizer converts it to Hugging Face's tokenizer.json."""
from tokenizer_training.check import bytes_per_token, load, problems, roundtrips, unknown_ids
from tokenizer_training.spec import BOS_ID, EOS_ID, UNK_ID, TokenizerSpec
from tokenizer_training.train import CARD_FILE, MODEL_FILE, VOCAB_FILE, iter_sentences, train_tokenizer, write_card

__all__ = [
    "BOS_ID", "EOS_ID", "UNK_ID", "CARD_FILE", "MODEL_FILE", "VOCAB_FILE", "TokenizerSpec",
    "bytes_per_token", "iter_sentences", "load", "problems", "roundtrips", "train_tokenizer", "unknown_ids", "write_card",
]
