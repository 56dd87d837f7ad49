"""How time and memory grow with the input: `python -m pipeline run` end to end at several sizes.

    .venv/bin/python bench/bench_scale.py --data /work/scale-data --sizes 64 256 1024   # all parts
    .venv/bin/python bench/bench_scale.py --data DIR --part scale --sizes 64 256 1024    # one part
    .venv/bin/python bench/bench_scale.py --data DIR --part report                       # tables only

Parts (`--part`, default all of them in this order):

scale   For each size (MB of CommonCrawl WET text), a corpus from `samples.scale_corpus`
        (`--seed`, `--file-mb`; reused when DIR/corpus-<size>/MANIFEST.json has the same
        arguments) with the six other sources in LLaMA's disk proportions, then
        `python -m pipeline run` on configs/sample.yaml (the strict LLaMA-1 recipe) with its
        inputs pointed at the corpus, on 2 local workers (`--direct_running_mode
        multi_processing --direct_num_workers 2`, the default FnApiRunner). Recorded per
        stage (models, curate, tokenizer, shards): wall seconds (the completion records'
        `seconds`), CPU seconds and peak RSS of the launcher and of every other process of
        the run (SDK workers, lmplz, the fastText trainer), sampled from /proc by a thread
        of this script every 0.2 s (the launcher's peak is reset at each stage boundary
        through /proc/<pid>/clear_refs, so each stage has its own; a worker lives in one
        Beam job, so its VmHWM is its peak); and from Beam's own monitoring data (the
        launcher runs `pipeline.cli` exactly as `python -m pipeline` does, with
        FnApiRunner.run_stages wrapped to save each job's metrics): the execution time of
        every transform (summed over workers) and the elements and bytes (element count x
        mean sampled size) that go into every GroupByKey, i.e. every shuffle. Written to
        DIR/scale-<size>.json.
cc      At the largest size: the CC curation (`pipeline.curate.run_curate` with only
        `inputs.cc`: read, min length, line dedup, LID, perplexity, wikiref, Parquet of kept
        and rejected) on 2 workers against 2 plain processes (a spawn pool, one WET file a
        task) running the same Beam-free kernels on the same files: the WET reader, cc_net's
        line hashes, LID, and for the documents LID keeps, perplexity and wikiref, writing
        kept and rejected Parquet. `--runs` alternating pairs, compared by the median of
        their ratios. DIR/cc-ratio.json.
lid     At the largest size: the LID stage (`pipeline.stages.lid.LanguageId`: read JSON lines,
        fastText, kept documents to Parquet, uncompressed) on 2 workers against datatrove's
        `JsonlReader -> LanguageFilter -> JsonlWriter` (2 tasks on 2 workers, uncompressed
        JSON lines out), on the same documents (the largest corpus's CC pages as read, written
        once as uncompressed JSON lines) and the same model (lid.176.ftz of the run, given to
        datatrove's filter as a local file). datatrove runs in its own virtualenv
        (.cache/bench-datatrove, created with pip on first use). DIR/lid-ratio.json.
report  Prints the tables from the JSON files: per stage and size seconds, MB/s and docs/s
        per core, peak RSS, marginal seconds per MB between consecutive sizes, the shuffles,
        and the checks of the issue (linearity, worker memory, the two ratios).

Everything big goes under --data (corpora, outputs); `--clean` removes a size's run output
after it is measured (the largest's models are kept for the cc part).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This checkout's packages, before any other copy the virtualenv knows (an editable install of
# another checkout would otherwise win for `--child` processes, which start in bench/).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
STAGES = ["models", "curate", "tokenizer", "shards"]
WORKERS = 2
CORPORA: dict[str, Path] = {}
BEAM_ARGS = ["--direct_running_mode", "multi_processing", "--direct_num_workers", str(WORKERS)]
DATATROVE_VENV = ROOT / ".cache" / "bench-datatrove"
DATATROVE = "datatrove[io,processing]==0.10.1"
SOURCES_GLOBS = {  # the corpus layout of samples/scale_corpus.py
    "cc": ["cc/*.warc.wet.gz"],
    "c4": ["c4/*.json.gz"],
    "github": ["github/*.tar.gz", "github/*.jsonl"],
    "wikipedia": ["wikipedia/*.xml.bz2"],
    "books": ["books/*.txt", "books/*.tar.gz"],
    "arxiv": ["arxiv/*"],
    "stackexchange": ["stackexchange/*.7z", "stackexchange/*/Posts.xml"],
}


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


# ------------------------------------------------------------------ the launcher's metrics hook

def launch() -> None:
    """Run `python -m pipeline` in this process, saving each Beam job's monitoring data.

    Called as `python -c "...; launch()" run --config ...`: sys.argv is the pipeline's.
    """
    import runpy

    from apache_beam.runners.portability.fn_api_runner import fn_runner

    out = Path(os.environ["BENCH_SCALE_METRICS"])
    out.mkdir(parents=True, exist_ok=True)
    original = fn_runner.FnApiRunner.run_stages
    _count_grouping_buffers()

    def run_stages(self, stage_context, stages):
        start = time.time()
        shuffles = _shuffles(stages)  # before the run: it rewrites the data outputs' payloads
        result = original(self, stage_context, stages)
        try:
            _dump_metrics(stage_context, shuffles, result, start, time.time(), out)
        except Exception as e:  # noqa: BLE001 - a measurement must never fail the run
            print(f"bench_scale: metrics not saved: {e!r}", file=sys.stderr)
        return result

    fn_runner.FnApiRunner.run_stages = run_stages
    sys.argv = [str(ROOT / "pipeline" / "__main__.py"), *sys.argv[1:]]
    runpy.run_module("pipeline", run_name="__main__", alter_sys=True)


_BUFFERS: list = []  # every GroupingBuffer of the current job: the runner's in-memory shuffles


def _count_grouping_buffers() -> None:
    """The exact size of each shuffle: GroupingBuffer.append gets the encoded elements the workers
    wrote into it (bytes), partition() sees them grouped (elements, keys)."""
    from apache_beam.runners.portability.fn_api_runner import execution

    buffer_class = execution.GroupingBuffer
    append, partition, init = buffer_class.append, buffer_class.partition, buffer_class.__init__

    def counted_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.bench_bytes, self.bench_elements, self.bench_keys = 0, 0, 0
        # The GroupByKey it serves: a local of the runner's method that creates it.
        self.bench_transform = sys._getframe(1).f_locals.get("original_gbk_transform")
        _BUFFERS.append(self)

    def counted_append(self, elements_data):
        self.bench_bytes += len(elements_data)
        return append(self, elements_data)

    def counted_partition(self, n):
        if not self._grouped_output:
            self.bench_keys = len(self._table)
            self.bench_elements = sum(len(v) for v in self._table.values())
        return partition(self, n)

    buffer_class.__init__, buffer_class.append, buffer_class.partition = counted_init, counted_append, counted_partition


def _shuffles(stages) -> dict[str, str]:
    """The GroupByKeys the runner executes (after lifting combiners), by input PCollection: each
    became "<name>/Write" into a grouping buffer and "<name>/Read"."""
    shuffles = {}
    for stage in stages:
        for transform in stage.transforms:
            if transform.spec.urn == "beam:runner:sink:v1" and transform.spec.payload.startswith(b"group:"):
                for pcoll in transform.inputs.values():
                    shuffles[pcoll] = transform.unique_name.removesuffix("/Write")
    return shuffles


def _dump_metrics(stage_context, shuffles, result, start: float, end: float, out: Path) -> None:
    from apache_beam.metrics import monitoring_infos as mi

    components = stage_context.components
    names = {pid: pc.unique_name for pid, pc in components.pcollections.items()}
    elements, sizes, msecs = {}, {}, {}
    for info in result.monitoring_infos():
        if info.urn == mi.ELEMENT_COUNT_URN:
            pcoll = info.labels.get(mi.PCOLLECTION_LABEL)
            elements[pcoll] = elements.get(pcoll, 0) + mi.extract_counter_value(info)
        elif info.urn == mi.SAMPLED_BYTE_SIZE_URN:
            pcoll = info.labels.get(mi.PCOLLECTION_LABEL)
            count, total, _, _ = mi.extract_distribution(info)
            c0, t0 = sizes.get(pcoll, (0, 0))
            sizes[pcoll] = (c0 + count, t0 + total)
        elif info.urn == mi.TOTAL_MSECS_URN:
            step = info.labels.get(mi.PTRANSFORM_LABEL)
            msecs[step] = msecs.get(step, 0) + mi.extract_counter_value(info)
    shuffle_rows = []
    for pcoll, gbk in sorted(shuffles.items(), key=lambda kv: kv[1]):
        n = elements.get(pcoll, 0)
        count, total = sizes.get(pcoll, (0, 0))
        shuffle_rows.append({"shuffle": gbk, "pcollection": names.get(pcoll, pcoll), "elements": n,
                             "bytes": round(n * total / count) if count else 0})
    transform_names = {tid: t.unique_name for tid, t in components.transforms.items()}
    exact = [{"shuffle": transform_names.get(b.bench_transform, b.bench_transform), "bytes": b.bench_bytes,
              "elements": b.bench_elements, "keys": b.bench_keys} for b in _BUFFERS]
    _BUFFERS.clear()
    record = {
        "start": start, "end": end, "seconds": round(end - start, 3),
        "msecs": {transform_names.get(k, k): v for k, v in msecs.items() if v},
        "shuffles": shuffle_rows,
        "grouping_buffers": exact,
        "elements": {names.get(k, k): v for k, v in elements.items()},
    }
    n = len(list(out.glob("job-*.json")))
    (out / f"job-{n:03d}.json").write_text(json.dumps(record, indent=1))


# ------------------------------------------------------------------ the /proc sampler

def _kind(cmdline: list[str]) -> str:
    text = " ".join(cmdline)
    if cmdline and Path(cmdline[0]).name in ("sh", "bash", "dash"):
        return "shell"  # the runner starts each SDK worker through `sh -c`
    if "sdk_worker_main" in text:
        return "worker"
    if cmdline and Path(cmdline[0]).name in ("lmplz", "build_binary"):
        return Path(cmdline[0]).name
    if "train_supervised" in text:
        return "fasttext-train"
    return "other"


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """Polls the launcher and its descendants: per stage, each process's peak RSS and CPU seconds."""

    def __init__(self, pid: int, out: Path, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.out, self.interval = pid, out, interval
        self.stop = threading.Event()
        self.procs: dict[int, dict] = {}
        self.stage_span: dict[str, list[float]] = {}
        self.launcher: dict[str, dict] = {}
        self._stage = None
        self.reset_ok = None

    def _current_stage(self) -> str:
        done = {p.stem for p in (self.out / ".stages").glob("*.json")} if (self.out / ".stages").is_dir() else set()
        for stage in STAGES:
            if stage not in done:
                return stage
        return "end"

    def _reset_peak(self) -> None:
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
            self.reset_ok = True
        except OSError:
            self.reset_ok = False

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.stop.is_set():
            now = time.time()
            stage = self._current_stage()
            if stage != self._stage:
                self._stage = stage
                self._reset_peak()
            span = self.stage_span.setdefault(stage, [now, now])
            span[1] = now
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for p in procs:
                try:
                    with p.oneshot():
                        rss = p.memory_info().rss
                        cpu = p.cpu_times()
                        cpu_s = cpu.user + cpu.system
                        rec = self.procs.get(p.pid)
                        if rec is None:
                            rec = self.procs[p.pid] = {
                                "kind": "launcher" if p.pid == self.pid else _kind(p.cmdline()),
                                "stage": stage, "first": now, "cpu_at": {}, "rss_max": 0, "hwm_kb": 0}
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                hwm = _status_kb(p.pid, "VmHWM")
                rec["last"] = now
                rec["cpu"] = cpu_s
                rec["cpu_at"].setdefault(stage, [cpu_s, cpu_s])[1] = cpu_s
                rec["rss_max"] = max(rec["rss_max"], rss)
                rec["hwm_kb"] = max(rec["hwm_kb"], hwm)
                if p.pid == self.pid:
                    entry = self.launcher.setdefault(stage, {"rss_max": 0, "hwm_kb": 0})
                    entry["rss_max"] = max(entry["rss_max"], rss)
                    entry["hwm_kb"] = max(entry["hwm_kb"], hwm)
            self.stop.wait(self.interval)

    def per_stage(self) -> dict[str, dict]:
        """Per stage: the launcher's peak, each other process's peak, CPU seconds of all of them."""
        stages = {}
        for stage in STAGES:
            launcher = self.launcher.get(stage, {})
            peak = max(launcher.get("hwm_kb", 0) * 1024 if self.reset_ok else 0, launcher.get("rss_max", 0))
            cpu = 0.0
            others = []
            for pid, rec in self.procs.items():
                at = rec["cpu_at"].get(stage)
                if rec["kind"] == "launcher":
                    if at:
                        cpu += at[1] - at[0]
                    continue
                if rec["stage"] != stage:
                    continue
                cpu += rec.get("cpu", 0.0)  # a child lives in one stage: all its CPU is that stage's
                others.append({"pid": pid, "kind": rec["kind"],
                               "peak_rss_mb": round(max(rec["hwm_kb"] * 1024, rec["rss_max"]) / 2**20, 1),
                               "cpu_s": round(rec.get("cpu", 0.0), 2),
                               "lived_s": round(rec.get("last", rec["first"]) - rec["first"], 2)})
            stages[stage] = {"launcher_peak_rss_mb": round(peak / 2**20, 1), "cpu_s": round(cpu, 2),
                             "processes": others}
        # The launcher's CPU between two samples that straddle a boundary goes to the later stage.
        return stages


# ------------------------------------------------------------------ part: scale

def corpus_dir(data: Path, size: int) -> Path:
    """Where the corpus of `size` MB lives: --corpora (default: --data)."""
    return CORPORA.get("dir", data) / f"corpus-{size}"


def ensure_corpus(data: Path, size: int, seed: int, file_mb: int) -> Path:
    """The scale corpus of `size` MB of CC text, generated unless it exists with these arguments."""
    target = corpus_dir(data, size)
    manifest = target / "MANIFEST.json"
    if manifest.exists():
        args = json.loads(manifest.read_text())["args"]
        if args == {"cc_mb": size, "seed": seed, "file_mb": file_mb}:
            return target
    print(f"generating the {size} MB corpus into {target} (load {load_average()})", flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "samples.scale_corpus", "--out", str(target), "--cc-mb", str(size),
                    "--seed", str(seed), "--file-mb", str(file_mb), "-q"], cwd=ROOT, check=True)
    print(f"  generated in {time.perf_counter() - start:.0f}s", flush=True)
    return target


def write_config(data: Path, corpus: Path, name: str, sources: list[str] | None = None) -> Path:
    """A config extending configs/sample.yaml with its inputs pointed at the corpus."""
    lines = [f"# bench/bench_scale.py: configs/sample.yaml on {corpus}",
             f"extends: {ROOT / 'configs' / 'sample.yaml'}", "inputs:"]
    for source, globs in SOURCES_GLOBS.items():
        if sources is not None and source not in sources:
            lines.append(f"  {source}: []")
            continue
        lines.append(f"  {source}: [{', '.join(str(corpus / g) for g in globs)}]")
    path = data / f"config-{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_pipeline(config: Path, out: Path, log: Path, metrics: Path) -> tuple[int, Sampler, float]:
    """`python -m pipeline run` (through `launch`) with the sampler attached; (exit code, sampler, seconds)."""
    for path in (out, metrics):
        shutil.rmtree(path, ignore_errors=True)
    command = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
               "from bench.bench_scale import launch; launch()",
               "run", "--config", str(config), "--output", str(out), *BEAM_ARGS]
    env = {**os.environ, "BENCH_SCALE_METRICS": str(metrics)}
    start = time.perf_counter()
    with open(log, "w") as logf:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT)
        sampler = Sampler(proc.pid, out)
        sampler.start()
        code = proc.wait()
    sampler.stop.set()
    sampler.join()
    return code, sampler, time.perf_counter() - start


def _text_bytes(corpus: Path) -> dict[str, int]:
    return json.loads((corpus / "MANIFEST.json").read_text())["text_bytes"]


def _stage_groups(msecs: dict[str, int]) -> dict[str, float]:
    """Execution seconds per (source, step) from transform names ("Curate_cc/Dedup/...": cc/Dedup)."""
    groups: dict[str, float] = {}
    for name, ms in msecs.items():
        top, _, rest = name.partition("/")
        if top.startswith("Curate_"):
            key = f"{top[len('Curate_'):]}/{rest.split('/')[0]}"
        elif top.startswith("Read_"):
            key = f"{top[len('Read_'):]}/read"
        elif top.startswith(("Curated_", "Rejected_")):
            key = f"{_source_of(top)}/write"
        else:
            key = top
        groups[key] = groups.get(key, 0.0) + ms / 1000
    return dict(sorted(groups.items()))


def _source_of(label: str) -> str:
    """'Curated_ccRows' / 'Rejected_stackexchangeWrite' -> the source name."""
    body = label.split("_", 1)[1]
    for suffix in ("Rows", "Write"):
        if body.endswith(suffix):
            return body[: -len(suffix)]
    return body


def measure_size(args, size: int) -> dict:
    data = args.data
    corpus = ensure_corpus(data, size, args.seed, args.file_mb)
    text = _text_bytes(corpus)
    config = write_config(data, corpus, str(size))
    out, log, metrics = data / f"run-{size}", data / f"run-{size}.log", data / f"run-{size}.metrics"
    load_before = load_average()
    print(f"size {size} MB of CC ({sum(text.values()) / 1e6:.0f} MB of text in all): python -m pipeline run, "
          f"{WORKERS} workers (load {load_before})", flush=True)
    code, sampler, wall = run_pipeline(config, out, log, metrics)
    if code != 0:
        raise RuntimeError(f"the pipeline failed ({code}); see {log}")
    stages = sampler.per_stage()
    for stage in STAGES:
        record = json.loads((out / ".stages" / f"{stage}.json").read_text())
        stages[stage]["seconds"] = record["seconds"]
    jobs = [json.loads(p.read_text()) for p in sorted(metrics.glob("job-*.json"))]
    spans = {s: sampler.stage_span.get(s) for s in STAGES}
    for job in jobs:
        mid = (job["start"] + job["end"]) / 2
        job["stage"] = next((s for s, span in spans.items() if span and span[0] - 1 <= mid <= span[1] + 1), "?")
        job["groups"] = {f"{job['stage']}: {k}": v for k, v in _stage_groups(job.pop("msecs")).items()}
    stats = json.loads((out / "stats.json").read_text())
    read = {s: stats["sources"][s]["read"].get("documents", {}).get("count", 0) for s in stats["sources"]}
    cards = json.loads((out / "models" / "cards.json").read_text())
    tok = json.loads((out / "tokenizer" / "tokenizer.json").read_text())
    manifest = json.loads((out / "shards" / "manifest.json").read_text())
    log_text = log.read_text(errors="replace")
    result = {
        "size_mb": size, "seed": args.seed, "file_mb": args.file_mb, "workers": WORKERS,
        "text_bytes": text, "total_text_mb": round(sum(text.values()) / 1e6, 3),
        "read_documents": read,
        "wall_s": round(wall, 2), "load_before": load_before, "load_after": load_average(),
        "launcher_peak_reset": sampler.reset_ok,
        "stages": stages, "jobs": jobs,
        "models": {
            "wikipedia_read_s": _logged_seconds(log_text, "read Wikipedia text for"),
            "perplexity_train_s": {lang: c.get("train_seconds") for lang, c in cards.get("perplexity", {}).items()},
            "perplexity_training_bytes": {lang: c["training_data"]["bytes"]
                                          for lang, c in cards.get("perplexity", {}).items() if "training_data" in c},
            "wikiref_train_s": (cards.get("wikiref") or {}).get("train_seconds"),
            "wikiref_examples": (cards.get("wikiref") or {}).get("training_data"),
        },
        "tokenizer": {"train_s": tok["train_seconds"], "training_bytes": tok["training_data"]["bytes"],
                      "documents": tok["training_data"]["documents"]},
        "shards": {"train": len(manifest["shards"]["train"]), "val": len(manifest["shards"]["val"]),
                   "tokens": manifest["mixture"]["achieved_tokens"]},
        "kept": {s: _kept(stats["sources"][s]) for s in stats["sources"]},
        "stats_seconds": stats.get("seconds"),
    }
    (data / f"scale-{size}.json").write_text(json.dumps(result, indent=1))
    print(f"  done in {wall:.0f}s (load after {result['load_after']}): "
          + ", ".join(f"{s} {stages[s]['seconds']:.0f}s" for s in STAGES), flush=True)
    if args.clean and size != max(args.sizes):
        shutil.rmtree(out, ignore_errors=True)
    return result


def _kept(stages: dict) -> dict:
    last = [name for name, entry in stages.items() if "kept" in entry][-1]
    return stages[last]["kept"]


def _logged_seconds(text: str, marker: str) -> float | None:
    import re

    found = re.findall(re.escape(marker) + r".*? in ([0-9.]+)s", text)
    return float(found[-1]) if found else None


# ------------------------------------------------------------------ part: cc (Beam against plain processes)

def _cc_raw_file(path: str, cards: dict, out_dir: str) -> dict:
    """The CC stage's Beam-free kernels on one WET file, in a plain process; kept and rejected to Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from filters.base import Drop
    from filters.lid import LanguageIdFilter
    from filters.normalize import cc_net_line_hashes
    from filters.perplexity import PerplexityScorer
    from filters.wikiref import WikiRefFilter
    from pipeline.parquet import DOCUMENT_SCHEMA, REJECTED_SCHEMA, document_to_row, rejection_to_row
    from pipeline.read import iter_file
    from pipeline.readers.base import Malformed, Skipped
    from pipeline.sources.cc import SOURCE, CCSettings
    from pipeline.stats import Rejection

    settings = CCSettings()
    lid = LanguageIdFilter(cards["lid"]["path"], settings.lid.languages, settings.lid.threshold)
    scorer = PerplexityScorer({lang: (c["sentencepiece"]["path"], c["kenlm"]["path"])
                               for lang, c in cards["perplexity"].items()}, settings.perplexity.scoring)
    wikiref = WikiRefFilter(cards["wikiref"]["path"], settings.wikiref.threshold)
    for f in (lid, scorer, wikiref):
        f.setup()
    kept, rejected = [], []
    counts = {"documents": 0, "bytes": 0, "lid_in": 0, "scored": 0}
    for doc in iter_file(path, SOURCE.parser(settings)):
        if isinstance(doc, (Malformed, Skipped)):
            continue
        counts["documents"] += 1
        counts["bytes"] += doc.nbytes
        if len(doc.text) < settings.line_dedup.min_chars:
            rejected.append(rejection_to_row(Rejection(doc, "min_length", "too_short")))
            continue
        cc_net_line_hashes(doc.text)
        counts["lid_in"] += 1
        verdict = lid.apply(doc)
        if isinstance(verdict, Drop):
            rejected.append(rejection_to_row(Rejection(doc, "lid", verdict.reason)))
            continue
        doc = scorer.apply(doc)
        counts["scored"] += 1
        verdict = wikiref.apply(doc)
        if isinstance(verdict, Drop):
            rejected.append(rejection_to_row(Rejection(doc, "wikiref", verdict.reason)))
        else:
            kept.append(document_to_row(doc))
    name = Path(path).name
    pq.write_table(pa.Table.from_pylist(kept, DOCUMENT_SCHEMA), f"{out_dir}/kept-{name}.parquet", compression="none")
    pq.write_table(pa.Table.from_pylist(rejected, REJECTED_SCHEMA), f"{out_dir}/rejected-{name}.parquet",
                   compression="none")
    return counts


def _cc_child(args) -> None:
    """One timed measurement in a fresh process: raw (2 plain processes) or beam (the CC curation)."""
    files = sorted(glob.glob(str(corpus_dir(args.data, args.largest) / "cc" / "*.warc.wet.gz")))
    from pipeline.models.stage import load_cards
    from pipeline.store import Store

    cards = load_cards(Store(str(args.data / f"run-{args.largest}")))
    work = Path(tempfile.mkdtemp(prefix=f"cc-{args.child}-", dir=args.data))
    start = time.perf_counter()
    if args.child == "cc-raw":
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(WORKERS) as pool:
            results = pool.starmap(_cc_raw_file, [(f, cards, str(work)) for f in files], chunksize=1)
        seconds = time.perf_counter() - start
        result = {k: sum(r[k] for r in results) for k in results[0]}
    else:
        from pipeline.config import load_config
        from pipeline.curate import run_curate
        from pipeline.runner import make_options

        config = load_config(str(args.data / f"config-{args.largest}.yaml"),
                             [f"inputs.{s}=[]" for s in SOURCES_GLOBS if s != "cc"])
        stats = run_curate(config, cards, Store(str(work)), make_options(BEAM_ARGS))
        seconds = time.perf_counter() - start
        cc = stats["sources"]["cc"]
        result = {"documents": cc["read"]["documents"]["count"], "bytes": cc["read"]["documents"]["bytes"],
                  "lid_in": cc["lid"]["in"]["documents"], "scored": cc["perplexity"]["in"]["documents"]}
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"seconds": seconds, **result}))


def _measure_child(args, child: str) -> dict:
    cmd = [sys.executable, __file__, "--data", str(args.data), "--child", child, "--largest", str(args.largest),
           *(["--corpora", str(CORPORA["dir"])] if CORPORA else [])]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{child} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load"] = load_average()
    return result


def part_cc(args) -> dict:
    files = sorted(glob.glob(str(corpus_dir(args.data, args.largest) / "cc" / "*.warc.wet.gz")))
    if not (args.data / f"run-{args.largest}" / "models" / "cards.json").exists():
        raise SystemExit(f"part cc needs the models of the {args.largest} MB run: run --part scale first")
    print(f"cc: CC curation on {WORKERS} Beam workers vs {WORKERS} plain processes, {len(files)} WET files "
          f"({args.largest} MB), {args.runs} alternating runs", flush=True)
    runs = []
    for i in range(args.runs):
        raw = _measure_child(args, "cc-raw")
        beam = _measure_child(args, "cc-beam")
        runs.append({"raw": raw, "beam": beam, "ratio": raw["seconds"] / beam["seconds"]})
        print(f"  run {i + 1}: raw {raw['seconds']:.1f}s (load {raw['load']}), Beam {beam['seconds']:.1f}s "
              f"(load {beam['load']}), ratio {runs[-1]['ratio']:.2f}", flush=True)
    result = {"size_mb": args.largest, "files": len(files), "runs": runs,
              "ratio_median": statistics.median(r["ratio"] for r in runs)}
    (args.data / "cc-ratio.json").write_text(json.dumps(result, indent=1))
    return result


# ------------------------------------------------------------------ part: lid (against datatrove)

def ensure_datatrove() -> Path:
    python = DATATROVE_VENV / "bin" / "python"
    check = [str(python), "-c", "import datatrove.pipeline.filters, fasttext, orjson"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(DATATROVE_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", DATATROVE], check=True)
    subprocess.run(check, check=True)
    return python


def lid_documents(args) -> Path:
    """The largest corpus's CC pages as read (cc_net's WET reading), as uncompressed JSON lines, one file per WET file."""
    target = args.data / f"lid-jsonl-{args.largest}"
    done = target / "DONE"
    if done.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    from pipeline.read import iter_file
    from pipeline.readers.base import Malformed, Skipped
    from pipeline.sources.cc import SOURCE, CCSettings

    parse = SOURCE.parser(CCSettings())
    docs = 0
    for i, path in enumerate(sorted(glob.glob(str(corpus_dir(args.data, args.largest) / "cc" / "*.warc.wet.gz")))):
        with open(target / f"part-{i:05d}.jsonl", "w", encoding="utf-8") as f:
            for doc in iter_file(path, parse):
                if isinstance(doc, (Malformed, Skipped)):
                    continue
                f.write(json.dumps({"id": doc.id, "text": doc.text, "url": doc.url}, ensure_ascii=False) + "\n")
                docs += 1
    done.write_text(str(docs))
    return target


def _lid_child(args) -> None:
    """Our LID stage on Beam, 2 workers: JSON lines -> LanguageId -> kept documents as Parquet (uncompressed)."""
    import apache_beam as beam

    from pipeline.parquet import DOCUMENT_SCHEMA, document_to_row
    from pipeline.read import ReadDocuments
    from pipeline.readers.jsonl import parse_c4_json
    from pipeline.runner import make_options
    from pipeline.stages.lid import LanguageId, LidSettings

    files = sorted(glob.glob(str(args.data / f"lid-jsonl-{args.largest}" / "*.jsonl")))
    lid_path = str(args.data / f"run-{args.largest}" / "models" / "lid.176.ftz")
    work = Path(tempfile.mkdtemp(prefix="lid-beam-", dir=args.data))
    start = time.perf_counter()
    with beam.Pipeline(options=make_options(BEAM_ARGS)) as p:
        docs = p | ReadDocuments(files, parse_c4_json, "cc")
        result = docs | LanguageId("cc", LidSettings(), lid_path)
        (result.kept | beam.Map(document_to_row)
         | beam.io.WriteToParquet(f"{work}/part", DOCUMENT_SCHEMA, codec="none", file_name_suffix=".parquet"))
    seconds = time.perf_counter() - start
    import pyarrow.parquet as pq

    kept = sum(pq.ParquetFile(f).metadata.num_rows for f in work.glob("*.parquet"))
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"seconds": seconds, "kept": kept}))


def _datatrove_run(python: Path, args) -> dict:
    work = Path(tempfile.mkdtemp(prefix="lid-datatrove-", dir=args.data))
    lid_path = args.data / f"run-{args.largest}" / "models" / "lid.176.ftz"
    cmd = [str(python), str(ROOT / "bench" / "datatrove_lid.py"), "--input", str(args.data / f"lid-jsonl-{args.largest}"),
           "--output", str(work / "out"), "--logs", str(work / "logs"), "--model", str(lid_path),
           "--tasks", str(WORKERS), "--workers", str(WORKERS)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"datatrove failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    shutil.rmtree(work, ignore_errors=True)
    result["load"] = load_average()
    return result


def part_lid(args) -> dict:
    python = ensure_datatrove()
    folder = lid_documents(args)
    docs = int((folder / "DONE").read_text())
    nbytes = sum(f.stat().st_size for f in folder.glob("*.jsonl"))
    print(f"lid: LID stage on {WORKERS} Beam workers vs datatrove (2 tasks), {docs:,} documents, "
          f"{nbytes / 1e6:.0f} MB of JSON lines, {args.runs} alternating runs", flush=True)
    runs = []
    for i in range(args.runs):
        trove = _datatrove_run(python, args)
        ours = _measure_child(args, "lid-beam")
        runs.append({"datatrove": trove, "beam": ours, "ratio": trove["seconds"] / ours["seconds"]})
        print(f"  run {i + 1}: datatrove {trove['seconds']:.1f}s ({trove['kept']:,} kept, load {trove['load']}), "
              f"Beam {ours['seconds']:.1f}s ({ours['kept']:,} kept, load {ours['load']}), ratio {runs[-1]['ratio']:.2f}",
              flush=True)
    result = {"size_mb": args.largest, "documents": docs, "jsonl_bytes": nbytes, "runs": runs,
              "ratio_median": statistics.median(r["ratio"] for r in runs)}
    (args.data / "lid-ratio.json").write_text(json.dumps(result, indent=1))
    return result


# ------------------------------------------------------------------ part: llama (the estimate on paper)

# LLaMA-1's inputs: the public size of each, and where it is stated. CommonCrawl: the five dumps
# 2017-2020 of the LLaMA paper (Touvron et al. 2023, sec. 2.1), each ~24 TB of WET text (CCNet
# paper, Wenzek et al. 2020: its Feb. 2019 snapshot). The others: LLaMA's Table 1 disk sizes (what
# LLaMA kept, so a lower bound on what the stage reads).
LLAMA_INPUTS_TB = {
    "cc": (5 * 24.0, "5 CommonCrawl dumps x ~24 TB of WET text (LLaMA sec. 2.1; CCNet paper)"),
    "c4": (0.783, "LLaMA Table 1"), "github": (0.328, "LLaMA Table 1"), "wikipedia": (0.083, "LLaMA Table 1"),
    "books": (0.085, "LLaMA Table 1"), "arxiv": (0.092, "LLaMA Table 1"), "stackexchange": (0.078, "LLaMA Table 1"),
}
# Google Cloud Dataflow batch rates (us-central1 / us-east1; cloud.google.com/dataflow/pricing, as
# quoted in public cost scripts since 2020): per vCPU-hour, per GB-hour of memory, per GB of Dataflow
# Shuffle data processed; n1-standard workers have 3.75 GB per vCPU.
DATAFLOW = {"vcpu_h": 0.056, "gb_h": 0.003557, "shuffle_gb": 0.011, "gb_per_vcpu": 3.75}


def llama_estimate(args) -> dict:
    """CPU-hours, wall time, shuffle volume and a Dataflow price for LLaMA-1's inputs, from the largest
    measured size: each source's CPU seconds per MB in curate (the stage's measured CPU seconds,
    launcher and workers, split by Beam's execution msecs per source), the later stages per MB of
    all text, and the exact bytes into the runner's grouping buffers per MB."""
    r = json.loads((args.data / f"scale-{args.largest}.json").read_text())
    text_mb = {s: b / 1e6 for s, b in r["text_bytes"].items()}
    curate = r["stages"]["curate"]
    jobs = [j for j in r["jobs"] if j["stage"] == "curate"]
    by_source: dict[str, float] = {}
    for job in jobs:
        for group, sec in job["groups"].items():
            source = group.split(": ", 1)[1].split("/", 1)[0]
            if source in text_mb:
                by_source[source] = by_source.get(source, 0.0) + sec
    total_msec = sum(by_source.values())
    cpu_per_mb = {s: curate["cpu_s"] * by_source.get(s, 0.0) / total_msec / text_mb[s] for s in text_mb}
    all_mb = sum(text_mb.values())
    kept_mb = sum((k or {}).get("bytes", 0) for k in r["kept"].values()) / 1e6
    # models: per MB read (Wikipedia and the CC scan for wikiref examples); tokenizer and shards read the
    # curated output, whose full size is LLaMA's Table 1 total (4.75 TB).
    later = {"models": r["stages"]["models"]["cpu_s"] / all_mb,
             "tokenizer": r["stages"]["tokenizer"]["cpu_s"] / kept_mb, "shards": r["stages"]["shards"]["cpu_s"] / kept_mb}
    exact, by_stage, curate_by_source = {}, {}, {}
    for job in r["jobs"]:
        for b in job.get("grouping_buffers", []):
            exact[str(b["shuffle"])] = exact.get(str(b["shuffle"]), 0) + b["bytes"]
            by_stage[job["stage"]] = by_stage.get(job["stage"], 0) + b["bytes"]
            if job["stage"] == "curate":  # "Curate_cc/...", "Read_c4/...", "Curated_ccWrite/...": by source
                top = str(b["shuffle"]).split("/", 1)[0].split("_", 1)[-1]
                source = next((src for src in text_mb if top == src or top.startswith(src)), None)
                curate_by_source[source] = curate_by_source.get(source, 0) + b["bytes"]
    line_dedup = sum(v for k, v in exact.items() if k.startswith("Curate_cc/Dedup/"))
    shuffle_per_mb = sum(exact.values()) / all_mb / 1e6  # bytes shuffled per byte of input, this size
    rows, cpu_h_total, full_mb_total = [], 0.0, 0.0
    for s, (tb, where) in LLAMA_INPUTS_TB.items():
        mb = tb * 1e6
        cpu_h = cpu_per_mb[s] * mb / 3600
        rows.append({"source": s, "tb": tb, "from": where, "cpu_s_per_mb": round(cpu_per_mb[s], 4),
                     "cpu_h_per_tb": round(cpu_per_mb[s] * 1e6 / 3600, 1), "cpu_h": round(cpu_h)})
        cpu_h_total += cpu_h
        full_mb_total += mb
    full_kept_mb = 4.749e6  # LLaMA Table 1: 3.3 TB + 783 + 328 + 83 + 85 + 92 + 78 GB
    later_h = {st: round(v * (full_mb_total if st == "models" else full_kept_mb) / 3600) for st, v in later.items()}
    cpu_h_all = cpu_h_total + sum(later_h.values())
    # At full size: models' shuffles grow with the input, curate's with each source's input, the shards' with the curated
    # output, the tokenizer's sample stays at tokenizer.sample_bytes (reached at 1 GB).
    curate_full = sum(v / text_mb[src] * LLAMA_INPUTS_TB[src][0] * 1e6 if src else v / all_mb * full_mb_total
                      for src, v in curate_by_source.items())
    shuffle_gb = (by_stage.get("models", 0) / all_mb * full_mb_total + curate_full
                  + by_stage.get("shards", 0) / kept_mb * full_kept_mb + by_stage.get("tokenizer", 0)) / 1e9
    cc_mb = LLAMA_INPUTS_TB["cc"][0] * 1e6
    rows_per_mb = None
    for job in jobs:
        for b in job.get("grouping_buffers", []):
            if b["shuffle"] == "Curate_cc/Dedup/GroupByShard":
                rows_per_mb = b["bytes"] / 28 / text_mb["cc"]
    price = {"vcpu": cpu_h_all * DATAFLOW["vcpu_h"],
             "memory": cpu_h_all * DATAFLOW["gb_per_vcpu"] * DATAFLOW["gb_h"],
             "shuffle": shuffle_gb * DATAFLOW["shuffle_gb"]}
    result = {
        "from_size_mb": args.largest, "sources": rows, "later_stages_cpu_h": later_h,
        "cpu_h_all": round(cpu_h_all), "cc_cpu_h_per_tb": round(cpu_per_mb["cc"] * 1e6 / 3600, 1),
        "wall_h": {str(n): round(cpu_h_all / n, 1) for n in (500, 1000, 4000)},
        "line_dedup_shuffle_bytes_per_cc_byte": round(line_dedup / (text_mb["cc"] * 1e6), 3),
        "line_dedup_shuffle_tb": round(line_dedup / (text_mb["cc"] * 1e6) * cc_mb / 1e6, 1),
        "line_rows_per_cc_mb": round(rows_per_mb) if rows_per_mb else None,
        "line_rows_full": round(rows_per_mb * cc_mb) if rows_per_mb else None,
        "line_dedup_shard_mb_at_65536": round(rows_per_mb * cc_mb * 28 / 65536 / 1e6) if rows_per_mb else None,
        "shuffle_bytes_per_input_byte": round(shuffle_per_mb, 3),
        "shuffle_tb_all": round(shuffle_gb / 1e3, 1), "dataflow_usd": {k: round(v) for k, v in price.items()},
        "dataflow_usd_total": round(sum(price.values())), "dataflow_rates": DATAFLOW,
    }
    (args.data / "llama-estimate.json").write_text(json.dumps(result, indent=1))
    print(f"\nLLaMA-1 inputs on paper, from the {args.largest} MB run's per-core costs:")
    for row in rows:
        print(f"  {row['source']:<14}{row['tb']:>8.3f} TB  {row['cpu_h_per_tb']:>8.1f} CPU-h/TB  {row['cpu_h']:>9,} CPU-h"
              f"  ({row['from']})")
    print("  later stages (models per MB read, tokenizer and shards per MB curated): " + ", ".join(f"{k} {v:,} CPU-h" for k, v in later_h.items()))
    print(f"  all: {result['cpu_h_all']:,} CPU-h; wall on 500/1000/4000 vCPUs: "
          + " / ".join(f"{v} h" for v in result["wall_h"].values()))
    print(f"  line dedup shuffle: {result['line_dedup_shuffle_bytes_per_cc_byte']} bytes per CC byte -> "
          f"{result['line_dedup_shuffle_tb']} TB; {result['line_rows_full']:,} line rows "
          f"({result['line_rows_per_cc_mb']:,} per MB; {result['line_dedup_shard_mb_at_65536']} MB a shard at 65,536 shards); "
          f"all shuffles {result['shuffle_bytes_per_input_byte']} bytes per input byte here -> {result['shuffle_tb_all']} TB at full size")
    print(f"  Dataflow: ${result['dataflow_usd_total']:,} ({', '.join(f'{k} ${v:,}' for k, v in result['dataflow_usd'].items())})")
    return result


# ------------------------------------------------------------------ part: report

def _marginal(results: list[dict], key) -> list[float | None]:
    """Seconds per extra MB of text between consecutive sizes."""
    out = []
    for a, b in zip(results, results[1:]):
        ya, yb = key(a), key(b)
        out.append(None if ya is None or yb is None else (yb - ya) / (b["total_text_mb"] - a["total_text_mb"]))
    return out


def report(args) -> None:
    results = sorted((json.loads(p.read_text()) for p in args.data.glob("scale-*.json")), key=lambda r: r["size_mb"])
    results = [r for r in results if r["size_mb"] in args.sizes] or results
    if not results:
        print("no scale results yet")
        return
    print(f"\nscale: {', '.join(str(r['size_mb']) for r in results)} MB of CC text "
          f"({', '.join(format(r['total_text_mb'], '.0f') for r in results)} MB of text in all sources), {WORKERS} workers")
    head = f"{'stage':<10}{'size':>6}{'seconds':>9}{'MB/s/core':>11}{'docs/s/core':>12}{'CPU s':>8}" \
           f"{'launcher MB':>13}{'worker MB (max)':>17}{'load':>7}"
    print(head)
    for stage in STAGES:
        for r in results:
            s = r["stages"][stage]
            docs = sum(v or 0 for v in r["read_documents"].values())
            workers = [p["peak_rss_mb"] for p in s["processes"] if p["kind"] == "worker"]
            tools = [f"{p['kind']} {p['peak_rss_mb']:.0f}" for p in s["processes"]
                     if p["kind"] not in ("worker", "other", "shell")]
            cores = WORKERS if workers else 1
            print(f"{stage:<10}{r['size_mb']:>6}{s['seconds']:>9.1f}{r['total_text_mb'] / s['seconds'] / cores:>11.2f}"
                  f"{docs / s['seconds'] / cores:>12.0f}{s['cpu_s']:>8.0f}{s['launcher_peak_rss_mb']:>13.0f}"
                  f"{(max(workers) if workers else 0):>17.0f}{r['load_before']:>7}"
                  + (f"  ({', '.join(tools)})" if tools else ""))
    print("\nmarginal seconds per extra MB of text (between consecutive sizes), and the check "
          "(largest pair <= 1.15 x smallest pair):")
    for stage in [*STAGES, "total"]:
        key = (lambda r: sum(r["stages"][s]["seconds"] for s in STAGES)) if stage == "total" else \
            (lambda r, st=stage: r["stages"][st]["seconds"])
        m = _marginal(results, key)
        verdict = ""
        if len(m) >= 2 and m[0]:
            verdict = f"  ratio {m[-1] / m[0]:.2f} {'ok' if m[-1] <= 1.15 * m[0] else 'MISSED'}"
        print(f"  {stage:<10}" + "  ".join(f"{x:.4f}" if x is not None else "n/a" for x in m) + verdict)
    print("\nworker peak RSS (MB) per stage and size, and against the smallest size (target <= 1.5x):")
    for stage in STAGES:
        peaks = [max((p["peak_rss_mb"] for p in r["stages"][stage]["processes"] if p["kind"] == "worker"), default=0)
                 for r in results]
        if any(peaks):
            ratio = peaks[-1] / peaks[0] if peaks[0] else float("nan")
            print(f"  {stage:<10}" + "  ".join(f"{x:7.0f}" for x in peaks) + f"   x{ratio:.2f}")
    print("\nlauncher peak RSS (MB; holds the local runner's shuffles) per stage and size, and MB per input MB:")
    for stage in STAGES:
        peaks = [r["stages"][stage]["launcher_peak_rss_mb"] for r in results]
        slope = (peaks[-1] - peaks[0]) / (results[-1]["total_text_mb"] - results[0]["total_text_mb"]) \
            if len(results) > 1 else float("nan")
        print(f"  {stage:<10}" + "  ".join(f"{x:7.0f}" for x in peaks) + f"   {slope:.2f} MB per MB of text")
    print("\ninside the Beam jobs: execution seconds (summed over workers) per source and step:")
    groups = sorted({g for r in results for job in r["jobs"] for g in job["groups"]})
    for g in groups:
        values = [sum(job["groups"].get(g, 0.0) for job in r["jobs"]) for r in results]
        if max(values) >= 1.0:
            print(f"  {g:<40}" + "".join(f"{v:9.1f}" for v in values))
    print("\nshuffles (the GroupByKeys the runner executed; input elements and MB per size; those over "
          "0.5 MB at the largest size, the rest summed):")
    names = sorted({(job["stage"], s["shuffle"]) for r in results for job in r["jobs"] for s in job["shuffles"]})

    def cell(r, stage, name):
        rows = [s for job in r["jobs"] if job["stage"] == stage for s in job["shuffles"] if s["shuffle"] == name]
        return sum(x["elements"] for x in rows), sum(x["bytes"] for x in rows)

    rest = [[0, 0] for _ in results]
    for stage, name in names:
        cells = [cell(r, stage, name) for r in results]
        if cells[-1][1] < 5e5:
            for acc, (n, b) in zip(rest, cells):
                acc[0] += n
                acc[1] += b
            continue
        print(f"  {(stage + ': ' + name)[:68]:<68}" + " |".join(f"{n:>11,} {b / 1e6:>8.1f}" for n, b in cells))
    print(f"  {'all other shuffles':<68}" + " |".join(f"{n:>11,} {b / 1e6:>8.1f}" for n, b in rest))
    totals = [sum(x["bytes"] for job in r["jobs"] for x in job["shuffles"]) / 1e6 for r in results]
    print(f"  {'total MB shuffled, and per MB of input text':<68}"
          + " |".join(f"{t:>11.1f} {t / r['total_text_mb']:>8.2f}" for t, r in zip(totals, results)))
    # The runner's grouping buffers, exactly (the encoded bytes the workers wrote into them): the sizes
    # above are element counts x Beam's sampled mean element size, which over-weights big elements.
    exact_names = sorted({(job["stage"], b["shuffle"]) for r in results for job in r["jobs"]
                          for b in job.get("grouping_buffers", [])})
    if exact_names:
        print("\nexact bytes into the local runner's grouping buffers (MB per size; over 1 MB at the largest):")
        for stage, name in exact_names:
            cells = [sum(b["bytes"] for job in r["jobs"] if job["stage"] == stage
                         for b in job.get("grouping_buffers", []) if b["shuffle"] == name) for r in results]
            if cells[-1] >= 1e6:
                print(f"  {(stage + ': ' + str(name))[:68]:<68}" + " |".join(f"{c / 1e6:>9.1f}" for c in cells))
        exact = [sum(b["bytes"] for job in r["jobs"] for b in job.get("grouping_buffers", [])) / 1e6 for r in results]
        print(f"  {'total exact MB, and per MB of input text':<68}"
              + " |".join(f"{t:>9.1f} {t / r['total_text_mb']:>6.2f}" for t, r in zip(exact, results)))
    for name, key in (("cc-ratio.json", "raw"), ("lid-ratio.json", "datatrove")):
        path = args.data / name
        if path.exists():
            r = json.loads(path.read_text())
            each = ", ".join(f"{x['ratio']:.2f}" for x in r["runs"])
            print(f"\n{name}: median ratio {key} / Beam {r['ratio_median']:.2f} (runs {each})")


# ------------------------------------------------------------------ main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "out" / "scale", help="corpora and outputs (big)")
    parser.add_argument("--corpora", type=Path, help="where the corpora are (default: --data)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024], help="MB of CC text")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--file-mb", type=int, default=16, help="MB of text per WET file")
    parser.add_argument("--part", choices=["scale", "cc", "lid", "report", "llama"], action="append",
                        help="what to run (repeatable; default: all)")
    parser.add_argument("--runs", type=int, default=3, help="alternating runs of each side-by-side comparison")
    parser.add_argument("--clean", action="store_true", help="remove each run's output but the largest's")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--largest", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.data = args.data.resolve()
    args.data.mkdir(parents=True, exist_ok=True)
    args.largest = args.largest or max(args.sizes)
    if args.corpora:
        CORPORA["dir"] = args.corpora.resolve()
    if args.child:
        {"cc-raw": _cc_child, "cc-beam": _cc_child, "lid-beam": _lid_child}[args.child](args)
        return
    parts = args.part or ["scale", "cc", "lid", "report"]
    if "scale" in parts:
        for size in sorted(args.sizes):
            measure_size(args, size)
    if "cc" in parts:
        part_cc(args)
    if "lid" in parts:
        part_lid(args)
    if "report" in parts:
        report(args)
    if "llama" in parts:
        llama_estimate(args)


if __name__ == "__main__":
    main()
