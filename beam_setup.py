"""Packages what remote Beam workers need: the pipeline code, without torch.

Beam 2.77's stager takes --setup_file only for a file named setup.py or
pyproject.toml, so `pipeline.runner` builds an sdist from this file and stages it
with --extra_package whenever the runner is remote; users never pass it by hand.

    python beam_setup.py sdist        # writes dist/llama_data_worker-<version>.tar.gz

Next to the project's pyproject.toml, setuptools would merge the full project's
metadata (torch included) into this package, so from the repository root this
script builds in a clean copy of just the worker packages.
"""
import sys
from pathlib import Path

import setuptools

HERE = Path(__file__).resolve().parent

if __name__ == "__main__" and (HERE / "pyproject.toml").exists():
    sys.path.insert(0, str(HERE))
    from pipeline.runner import build_worker_package

    dist = Path(sys.argv[sys.argv.index("--dist-dir") + 1]) if "--dist-dir" in sys.argv else HERE / "dist"
    if sys.argv[1:2] != ["sdist"]:
        sys.exit("usage: python beam_setup.py sdist [--dist-dir DIR]")
    print(build_worker_package(dist))
    sys.exit(0)

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
