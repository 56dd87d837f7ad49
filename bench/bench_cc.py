"""Throughput and memory of the CommonCrawl stage, against the raw library calls.

    .venv/bin/python bench/bench_cc.py [--inputs 'data/sample/cc/*.warc.wet.gz'] [--repeat 4] [--runs 3]

Prints, for the same input files, in one run:
  (a) FnApiRunner: the CC stage (read WET, exact dedup, line dedup, LID, Parquet out)
      against the raw calls in one plain process (FastWARC read + normalise + hash
      every line + fastText predict every document);
  (b) 2 Beam workers (FnApiRunner, direct_running_mode multi_processing: what the
      DirectRunner runs after it fails to fetch Prism offline) against 2 plain processes;
  each pair measured `--runs` times, alternating, and compared by medians: on a shared
  VM a single run's timing moves by up to ~30%;
  peak memory of the streaming part (read + LID, no shuffle) at 1x and 4x the input
  (it must stay flat), and of the full stage, with the line-dedup shuffle's extra
  memory per line on the local runner.
Each figure runs in a fresh subprocess so peak RSS is its own.
"""
from __future__ import annotations

import argparse
import glob
import json
import multiprocessing
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def raw_file(path: str, lid_path: str) -> tuple[int, int]:
    """The raw library calls on one file: (documents, text bytes)."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from filters.lid import load_model, predict_language
    from filters.normalize import line_hashes

    model = load_model(lid_path)
    docs = nbytes = 0
    with open(path, "rb") as f:
        for record in ArchiveIterator(f, record_types=WarcRecordType.conversion):
            text = record.reader.read().decode("utf-8", "replace")
            line_hashes(text)
            predict_language(model, text)
            docs += 1
            nbytes += len(text.encode("utf-8"))
    return docs, nbytes


def run_raw(files: list[str], lid_path: str, workers: int) -> dict:
    start = time.perf_counter()
    if workers == 1:
        results = [raw_file(f, lid_path) for f in files]
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.starmap(raw_file, [(f, lid_path) for f in files])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "documents": sum(r[0] for r in results), "bytes": sum(r[1] for r in results)}


def run_beam(files: list[str], lid_path: str, beam_args: list[str], streaming_only: bool) -> dict:
    import apache_beam as beam

    from pipeline.sources.cc import SOURCE, CCSettings, CurateCC
    from pipeline.stages.lid import LanguageId, LidSettings
    from pipeline.parquet import DOCUMENT_SCHEMA, document_to_row
    from pipeline.read import ReadDocuments
    from pipeline.runner import make_options

    out = tempfile.mkdtemp(prefix="bench-cc-")
    start = time.perf_counter()
    with beam.Pipeline(options=make_options(beam_args)) as p:
        # The reader of the default mode (cc.line_dedup.mode cc_net: cc_net's WET reading).
        docs = p | ReadDocuments(files, SOURCE.parser(CCSettings()), "cc")
        if streaming_only:
            result = docs | LanguageId("cc", LidSettings(), lid_path)
        else:
            result = docs | CurateCC(CCSettings(), {"lid": {"path": lid_path}})
        (result.kept | beam.Map(document_to_row)
         | beam.io.WriteToParquet(f"{out}/part", DOCUMENT_SCHEMA, file_name_suffix=".parquet"))
    return {"seconds": time.perf_counter() - start}


def child(args) -> None:
    """Runs one measurement and prints it as JSON with this process's peak RSS."""
    files = json.loads(args.files)
    if args.child == "raw":
        result = run_raw(files, args.lid, args.workers)
    else:
        beam_args = [] if args.workers == 1 else [
            "--runner", "FnApiRunner", "--direct_running_mode", "multi_processing",
            "--direct_num_workers", str(args.workers)]
        result = run_beam(files, args.lid, beam_args, streaming_only=args.child == "beam-stream")
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["peak_rss_mb"] = max(self_kb, child_kb) / 1024
    print(json.dumps(result))


def measure(mode: str, files: list[str], lid: str, workers: int = 1) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--files", json.dumps(files), "--lid", lid,
         "--workers", str(workers)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", default="data/sample/cc/*.warc.wet.gz", help="WET files (glob)")
    parser.add_argument("--repeat", type=int, default=4, help="input multiple for the memory check")
    parser.add_argument("--runs", type=int, default=3, help="runs of each timing; medians are compared")
    parser.add_argument("--child", choices=["raw", "beam", "beam-stream"], help=argparse.SUPPRESS)
    parser.add_argument("--files", help=argparse.SUPPRESS)
    parser.add_argument("--lid", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from pipeline.models.lid import default_lid_model

    lid = str(default_lid_model())
    files = sorted(glob.glob(str(ROOT / args.inputs)))
    if not files:
        sys.exit(f"no input matches {args.inputs}: run `make sample` first")

    def pair(workers: int) -> tuple[dict, dict, list[float]]:
        """Alternating raw and Beam runs; the median run of each, and every run's ratio."""
        raws, beams = [], []
        for _ in range(args.runs):
            raws.append(measure("raw", files, lid, workers))
            beams.append(measure("beam", files, lid, workers))
        ratios = [r["seconds"] / b["seconds"] for r, b in zip(raws, beams)]
        return _median(raws), _median(beams), ratios

    raw1, beam1, ratios1 = pair(1)
    mb = raw1["bytes"] / 1e6
    docs = raw1["documents"]
    print(f"input: {len(files)} files, {docs} documents, {mb:.2f} MB of text; medians of {args.runs} runs each")

    def line(name, r):
        return f"  {name:<34} {r['seconds']:7.2f} s  {docs / r['seconds']:8.0f} docs/s  {mb / r['seconds']:6.2f} MB/s  peak {r['peak_rss_mb']:6.0f} MB"

    def ratio_line(ratios, target):
        each = ", ".join(f"{r:.2f}" for r in ratios)
        return f"  ratio Beam / raw: {statistics.median(ratios):.2f}  (median of the runs' ratios {each}; target >= {target})"

    print("(a) one process")
    print(line("raw calls, 1 process", raw1))
    print(line("Beam FnApiRunner, CC stage", beam1))
    print(ratio_line(ratios1, 0.6))

    raw2, beam2, ratios2 = pair(2)
    print("(b) two workers")
    print(line("raw calls, 2 processes", raw2))
    print(line("Beam, 2 worker processes", beam2))
    print(ratio_line(ratios2, 0.5))

    # What start-up costs: the same runs on one document per file. Beam starts its
    # runner (and, with workers, their processes) whatever the input size.
    tiny = _first_records(files, Path(tempfile.mkdtemp(prefix="bench-cc-tiny-")))
    print(f"start-up: the same on {len(tiny)} files of one document each (medians)")
    for workers, raw, beam in ((1, raw1, beam1), (2, raw2, beam2)):
        raw0 = _median([measure("raw", tiny, lid, workers) for _ in range(args.runs)])["seconds"]
        beam0 = _median([measure("beam", tiny, lid, workers) for _ in range(args.runs)])["seconds"]
        print(f"  {workers} worker(s): raw {raw0:.2f} s, Beam {beam0:.2f} s; the sample's time past start-up:"
              f" raw {raw['seconds'] - raw0:.2f} s, Beam {beam['seconds'] - beam0:.2f} s,"
              f" ratio {(raw['seconds'] - raw0) / (beam['seconds'] - beam0):.2f}")

    stream1 = measure("beam-stream", files, lid)
    streamN = measure("beam-stream", files * args.repeat, lid)
    print("memory: streaming part (read + LID, FnApiRunner)")
    print(f"  1x input peak {stream1['peak_rss_mb']:.0f} MB, {args.repeat}x input peak {streamN['peak_rss_mb']:.0f} MB"
          f"  (ratio {streamN['peak_rss_mb'] / stream1['peak_rss_mb']:.2f}; flat is ~1.0)")
    lines = _count_lines(files)
    extra = (beam1["peak_rss_mb"] - stream1["peak_rss_mb"]) * 2**20
    print(f"memory: full stage peak {beam1['peak_rss_mb']:.0f} MB; line-dedup shuffle on the local runner"
          f" ~{extra / lines:.0f} bytes per line ({lines} lines; FnApiRunner holds shuffles in memory)")


def _first_records(files: list[str], out_dir: Path) -> list[str]:
    """Copies of the files cut after their first text record (each record is a gzip member)."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    out = []
    for path in files:
        with open(path, "rb") as f:
            positions = [(r.stream_pos, r.record_type == WarcRecordType.conversion) for r in ArchiveIterator(f, parse_http=False)]
        first = next(i for i, (_, text) in enumerate(positions) if text)
        end = positions[first + 1][0] if first + 1 < len(positions) else None
        data = Path(path).read_bytes()
        target = out_dir / Path(path).name
        target.write_bytes(data[:end])
        out.append(str(target))
    return out


def _median(results: list[dict]) -> dict:
    return sorted(results, key=lambda r: r["seconds"])[len(results) // 2]


def _count_lines(files: list[str]) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    total = 0
    for path in files:
        with open(path, "rb") as f:
            for record in ArchiveIterator(f, record_types=WarcRecordType.conversion):
                total += record.reader.read().count(b"\n") + 1
    return total


if __name__ == "__main__":
    main()
