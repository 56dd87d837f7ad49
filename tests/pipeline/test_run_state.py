"""What a careless or unlucky user does to an OUT, through the CLI: stale sources, stale or partial
outputs, two runs at once, swapped model files, typos in flags and paths, leftovers of killed runs,
empty and damaged inputs."""
from __future__ import annotations

import gzip
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


def tiny_config(tmp_path: Path, **extra_inputs) -> Path:
    """The sample's small sources only: a full run in seconds."""
    inputs = {
        "c4": [str(SAMPLE / "c4" / "*.json.gz")],
        "wikipedia": [str(SAMPLE / "wikipedia" / "*.xml.bz2")],
        "books": [str(SAMPLE / "books" / "*.txt")],
        "arxiv": [str(SAMPLE / "arxiv" / "*")],
        **extra_inputs,
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(json.dumps({  # JSON is YAML
        "inputs": inputs,
        "c4": {"mode": "rebuild", "rules": {"bad_words": str(ROOT / "configs" / "c4_badwords_en.txt")}},
        "tokenizer": {"vocab_size": 500},
        "shards": {"target_tokens_per_shard": 200_000, "val_fraction": 0.05},
    }))
    return path


def run(*args: str) -> int:
    return cli.main([*args, "--quiet"])


@pytest.fixture
def finished(tmp_path):
    """A finished run of every stage on the tiny config."""
    config, out = tiny_config(tmp_path), tmp_path / "out"
    assert run("run", "--config", str(config), "--output", str(out)) == 0
    return config, out


def manifest_sources(out: Path) -> set[str]:
    return set(json.loads((out / "shards" / "manifest.json").read_text())["sources"])


# ---------------------------------------------------------------- later stages read what curate finished

def test_a_rerun_without_c4_trains_on_the_sources_the_config_asks_for(finished, capsys):
    config, out = finished
    assert "c4" in manifest_sources(out)
    assert run("run", "--config", str(config), "--output", str(out), "--set", "inputs.c4=[]") == 0
    # The old OUT/curated/c4 may still be on disk; nothing reads it: curate's record does not list it.
    assert manifest_sources(out) == {"wikipedia", "books", "arxiv"}
    card = json.loads((out / "tokenizer" / "tokenizer.json").read_text())
    assert set(card["sample"]["sources"]) == {"wikipedia", "books", "arxiv"}
    curate = json.loads((out / ".stages" / "curate.json").read_text())
    assert set(curate["outputs"]["curated"]) == {"wikipedia", "books", "arxiv"}


def test_a_stage_refuses_an_upstream_that_did_not_finish_for_this_config(finished, capsys):
    config, out = finished
    capsys.readouterr()
    assert run("tokenizer", "--config", str(config), "--output", str(out), "--set", "inputs.c4=[]") == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: tokenizer: the curate outputs") and "inputs differ" in error
    assert "python -m pipeline curate" in error


def test_outputs_without_a_completion_record_ask_for_a_rerun(finished, capsys):
    config, out = finished
    (out / ".stages" / "curate.json").unlink()  # as a run killed while publishing, or an older version, leaves it
    capsys.readouterr()
    assert run("shards", "--config", str(config), "--output", str(out)) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "curate outputs" in error and "without a completion record" in error


def test_every_record_names_its_outputs_and_the_upstream_records_it_consumed(finished):
    _, out = finished
    records = {s: json.loads((out / ".stages" / f"{s}.json").read_text()) for s in cli.STAGES}
    assert records["shards"]["upstream"] == {"tokenizer": records["tokenizer"]["key"], "curate": records["curate"]["key"]}
    assert records["curate"]["upstream"] == {"models": records["models"]["key"]}
    for record in records.values():
        listed = json.dumps(record["outputs"])
        for path in (out / "shards").glob("*.bin") if record["stage"] == "shards" else []:
            assert f"shards/{path.name}" in listed
    assert all((out / f).exists() for files in records["curate"]["outputs"]["curated"].values() for f in files)


# ---------------------------------------------------------------- one run at a time

def test_a_second_run_on_the_same_out_is_refused_while_the_first_lives(finished, capsys):
    config, out = finished
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / ".lock").write_text(json.dumps({"host": socket.gethostname(), "pid": other.pid,
                                               "started_at": "2026-01-01T00:00:00Z", "command": "python -m pipeline run"}))
        capsys.readouterr()
        assert run("run", "--config", str(config), "--output", str(out)) == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert f"in use by pid {other.pid}" in error and str(out / ".lock") in error
    finally:
        other.kill()
        other.wait()
    # The holder is gone: its lock is taken over, and released at the end.
    assert run("run", "--config", str(config), "--output", str(out)) == 0
    assert not (out / ".lock").exists()


# ---------------------------------------------------------------- models are OUT's own, verified

def test_models_are_recorded_relative_to_out_and_checked_before_use(finished, tmp_path, capsys):
    config, out = finished
    cards = json.loads((out / "models" / "cards.json").read_text())
    assert cards["lid"]["path"] == "models/lid.176.ftz"
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (out / "models" / "lid.176.ftz").write_bytes(b"another run's model")  # the original OUT changes...
    assert run("curate", "--config", str(config), "--output", str(copy), "--force") == 0  # ...the copy uses its own
    (copy / "models" / "lid.176.ftz").write_bytes(b"garbage")
    capsys.readouterr()
    assert run("curate", "--config", str(config), "--output", str(copy), "--force") == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"model file {copy / 'models' / 'lid.176.ftz'} has sha256" in error
    assert "rerun `python -m pipeline models`" in error


# ---------------------------------------------------------------- paths and flags, before any work

@pytest.mark.parametrize("args, message", [
    (["--sett", "seed=1"], "unknown flag --sett; did you mean --set?"),
    (["--runer", "FnApiRunner"], "unknown flag --runer; did you mean --runner?"),
    (["--set", "inputs.c4=[nowhere/*.json.gz]"], "inputs.c4: no file matches 'nowhere/*.json.gz'"),
    (["--set", f"inputs.c4=[{SAMPLE / 'c4'}]"], f"inputs.c4: '{SAMPLE / 'c4'}' is a directory"),
])
def test_bad_flags_and_inputs_fail_in_one_line_before_any_work(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert run("run", "--config", str(tiny_config(tmp_path)), "--output", str(out), *args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_an_output_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("mine")
    assert run("models", "--config", str(tiny_config(tmp_path)), "--output", str(target)) == 2
    assert f"--output {target} is a file" in capsys.readouterr().err
    assert target.read_text() == "mine"


def test_an_output_holding_someone_elses_files_is_refused(tmp_path, capsys):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "my-notes.txt").write_text("not ours")
    assert run("models", "--config", str(tiny_config(tmp_path)), "--output", str(home)) == 2
    assert "files that are not a pipeline output" in capsys.readouterr().err
    assert sorted(p.name for p in (home / "models").iterdir()) == ["my-notes.txt"]


def test_beam_flags_pass_and_anything_after_a_double_dash_passes_verbatim(tmp_path):
    out = tmp_path / "out"
    assert run("models", "--config", str(tiny_config(tmp_path)), "--output", str(out),
               "--runner", "FnApiRunner", "--", "--a_runner_specific_flag=1") == 0


# ---------------------------------------------------------------- leftovers and failures

def test_leftovers_of_killed_runs_are_removed_and_a_failed_stage_leaves_none(finished, capsys):
    config, out = finished
    for leftover in (out / ".tmp-curate-99999", out / "curated" / ".old-c4-99999"):
        (leftover / "x").mkdir(parents=True)
    assert run("models", "--config", str(config), "--output", str(out)) == 0
    assert not (out / ".tmp-curate-99999").exists() and not (out / "curated" / ".old-c4-99999").exists()
    # A stage that fails midway (here: a missing bad-words list, found as the job is built).
    capsys.readouterr()
    assert run("curate", "--config", str(config), "--output", str(out), "--force",
               "--set", "c4.rules.bad_words=/nonexistent/words.txt") == 2
    assert "c4.rules.bad_words: no such file '/nonexistent/words.txt'" in capsys.readouterr().err
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]
    assert not (out / ".stages" / "curate.json").exists(), "a failed stage must not look finished"
    assert not (out / ".lock").exists()


# ---------------------------------------------------------------- empty and damaged inputs

def test_empty_and_damaged_inputs_are_counted_and_located_in_stats(tmp_path):
    bad = tmp_path / "inputs"
    bad.mkdir()
    (bad / "c4-empty.json.gz").write_bytes(b"")
    (bad / "c4-empty-stream.json.gz").write_bytes(gzip.compress(b""))
    good = '{"text": "A page of text that is long enough.", "url": "https://example.org/%d"}'
    lines = [good % i if i % 2 else "{not json" for i in range(16)]  # eight bad lines
    (bad / "c4-damaged.json.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    config, out = tiny_config(tmp_path, c4=[str(bad / "*.json.gz")]), tmp_path / "out"
    assert run("curate", "--config", str(config), "--output", str(out)) == 2  # models first
    assert run("models", "--config", str(config), "--output", str(out)) == 0
    assert run("curate", "--config", str(config), "--output", str(out)) == 0
    read = json.loads((out / "stats.json").read_text())["sources"]["c4"]["read"]
    assert read["malformed_records"]["count"] == 2 + 8
    located = list(read["malformed_at"])
    assert f"{bad / 'c4-empty.json.gz'}@0: no records: the file is empty, or an empty compressed stream" in located
    assert f"{bad / 'c4-empty-stream.json.gz'}@0: no records: the file is empty, or an empty compressed stream" in located
    damaged = [w for w in located if w.startswith(str(bad / "c4-damaged.json.gz"))]
    assert [w.split("@")[1].split(":")[0] for w in damaged] == ["1", "3", "5", "7", "9"]  # the first five, by line
