"""datatrove's language filter on JSON lines: run by bench/bench_scale.py with the interpreter of
its own virtualenv (.cache/bench-datatrove), never the project's.

    python bench/datatrove_lid.py --input DIR --output DIR --logs DIR --model lid.176.ftz --tasks 2 --workers 2

`JsonlReader -> LanguageFilter -> JsonlWriter` as datatrove's examples run it
(LocalPipelineExecutor), uncompressed JSON lines out (`compression=None`), English
with the threshold our LID stage uses (0.5). datatrove's `FT176LID` downloads
lid.176.bin on first use; here its model is the local file given with --model (the
same lid.176.ftz as our run), loaded lazily in each task like datatrove's own.
Prints one JSON line: seconds, documents kept.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.filters import LanguageFilter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.lid import FT176LID


class LocalFT176(FT176LID):
    """datatrove's FT176LID with its model read from a local path instead of downloaded."""

    def __init__(self, languages, path: str):
        super().__init__(languages)
        self.path = path

    @property
    def model(self):
        if self._model is None:
            from fasttext.FastText import _FastText

            self._model = _FastText(self.path)
        return self._model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--logs", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--tasks", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    lid = LanguageFilter(languages=["en"], language_threshold=args.threshold)
    lid.model = LocalFT176(["en"], str(Path(args.model).resolve()))
    pipeline = [
        JsonlReader(args.input, glob_pattern="*.jsonl", compression=None),
        lid,
        JsonlWriter(args.output, compression=None),
    ]
    start = time.perf_counter()
    LocalPipelineExecutor(pipeline=pipeline, tasks=args.tasks, workers=args.workers, logging_dir=args.logs).run()
    seconds = time.perf_counter() - start
    kept = sum(1 for f in Path(args.output).glob("*.jsonl") for _ in open(f, encoding="utf-8"))
    print(json.dumps({"seconds": seconds, "kept": kept}))


if __name__ == "__main__":
    main()
