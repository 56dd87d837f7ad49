"""Fixtures shared by the pipeline's stage and source tests."""
from __future__ import annotations

import io
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sentencepiece as spm

from pipeline.models.lid import default_lid_model

# A bigram LM over a word-level SentencePiece model with the pieces "▁a" and "▁b".
ARPA = """\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.30103
-0.69897\t</s>\t0
-0.52288\t▁a\t-0.2
-0.60206\t▁b\t-0.1

\\2-grams:
-0.30103\t<s> ▁a
-0.39794\t▁a ▁b
-0.15490\t▁b </s>

\\end\\
"""
WIKI_WORDS = "the river flows through the valley and the city was founded in the century by settlers".split()
CC_WORDS = "buy now cheap deals click here login cart free shipping subscribe cookie policy offer".split()



@pytest.fixture(scope="session")
def quality_models(tmp_path_factory):
    """({"en": (sentencepiece path, ARPA path)}, wikiref fastText path): tiny real models."""
    d = tmp_path_factory.mktemp("quality")
    sp = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["a b", "b a", "a a b", "b b a"] * 50), model_writer=sp,
                                   model_type="word", vocab_size=5, hard_vocab_limit=False, minloglevel=2)
    (d / "sp.model").write_bytes(sp.getvalue())
    (d / "lm.arpa").write_text(ARPA, encoding="utf-8")
    rng = random.Random(0)
    examples = [f"__label__{label} " + " ".join(rng.choice(words) for _ in range(12))
                for label, words in (("wiki", WIKI_WORDS), ("cc", CC_WORDS)) for _ in range(60)]
    rng.shuffle(examples)
    (d / "train.txt").write_text("\n".join(examples) + "\n")
    # A fresh process: fasttext-numpy2-wheel 0.9.2 can diverge (NaN) in one that already used fastText.
    script = ("import fasttext, sys; fasttext.train_supervised(input=sys.argv[1], epoch=25, lr=0.5, dim=10, "
              "wordNgrams=2, bucket=10000, thread=1, seed=0, verbose=0).save_model(sys.argv[2])")
    subprocess.run([sys.executable, "-c", script, str(d / "train.txt"), str(d / "wikiref.bin")], check=True)
    return {"en": (str(d / "sp.model"), str(d / "lm.arpa"))}, str(d / "wikiref.bin")



@pytest.fixture(scope="session")
def lid_model():
    return str(default_lid_model())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3():
    """A moto S3 server on a loopback port: the Beam flags that reach it (endpoint, test
    credentials), with one bucket, `bucket`."""
    boto3 = pytest.importorskip("boto3")
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                          region_name="us-east-1")
    for _ in range(100):
        try:
            client.create_bucket(Bucket="bucket")
            break
        except Exception:  # not listening yet
            time.sleep(0.1)
    else:
        server.kill()
        pytest.fail("the moto S3 server did not start")
    yield ["--s3_endpoint_url", endpoint, "--s3_access_key_id", "test", "--s3_secret_access_key", "test",
           "--s3_region_name", "us-east-1"]
    server.terminate()
    server.wait(timeout=10)

