"""Packages what remote Beam workers need: the pipeline code, without torch.

Beam 2.77's stager takes --setup_file only for a file named setup.py or
pyproject.toml, so `pipeline.runner` builds an sdist from this file and stages it
with --extra_package whenever the runner is remote; users never pass it by hand.
Check it with: python beam_setup.py sdist && pip install dist/llama_data_worker-*.tar.gz
"""
import setuptools

setuptools.setup(
    name="llama-data-worker",
    version="0.1.0",
    description="Worker package for the llama-data Beam pipeline",
    packages=setuptools.find_packages(include=["pipeline*", "filters*", "tokenizer_training*", "shard_format*"]),
    python_requires=">=3.11",
    install_requires=[
        "pyarrow>=15",
        "numpy>=1.26",
        "PyYAML>=6",
        "fasttext-numpy2-wheel==0.9.2",
        "kenlm>=0.2",
        "sentencepiece>=0.2",
        "datasketch>=1.6",
        "resiliparse>=0.15",
        "fastwarc>=0.15",
        "mwparserfromhell>=0.6",
        "py7zr>=0.21",
    ],
)
