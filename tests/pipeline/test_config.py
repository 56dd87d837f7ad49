"""The typed run config: defaults defined once, every bad key or value a one-line error naming it."""
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.stages.lid import LidSettings
from pipeline.config import ConfigError, RunConfig, config_from, load_config, section_digest
from pipeline.sources import SOURCES
from pipeline.settings import as_plain, load_section

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = "configs/sample.yaml"


def test_sample_config_loads_with_defaults_filled():
    config = load_config(SAMPLE)
    assert config.inputs.cc == ("data/sample/cc/*.warc.wet.gz",)
    assert config.cc.lid.threshold == 0.5
    assert config.cc.line_dedup.min_chars == 300  # not in the file: the section's default
    assert config.active_sources() == list(SOURCES)  # the demo runs every source


def test_set_parses_values_as_yaml():
    config = load_config(SAMPLE, ["inputs.cc=[a.warc.gz,b.warc.gz]", "sample.fraction=0.01",
                                  "sample.max_records_per_file=1000", "cc.lid.languages=[en, de]"])
    assert config.inputs.cc == ("a.warc.gz", "b.warc.gz")
    assert config.sample.fraction == 0.01
    assert config.sample.max_records_per_file == 1000
    assert config.cc.lid.languages == ("en", "de")


@pytest.mark.parametrize("override, key, expected", [
    ("inputs.c4=x.json.gz", ("inputs", "c4"), ("x.json.gz",)),
    ("cc.lid.languages=en", ("cc", "lid", "languages"), ("en",)),  # not the characters e, n
    ("wikipedia.languages=de", ("wikipedia", "languages"), ("de",)),
    ("github.licenses=MIT", ("github", "licenses"), ("MIT",)),
    ("stackexchange.sites=math.stackexchange.com", ("stackexchange", "sites"), ("math.stackexchange.com",)),
    ("cc.perplexity.keep=head", ("cc", "perplexity", "keep"), ("head",)),
])
def test_a_scalar_where_a_list_is_expected_is_a_one_element_list(override, key, expected):
    value = load_config(SAMPLE, [override])
    for part in key:
        value = getattr(value, part)
    assert value == expected


@pytest.mark.parametrize("override, message", [
    ("cc.lid.treshold=0.3", "unknown config key 'cc.lid.treshold'; did you mean 'threshold'?"),
    ("inputs.common_crawl=[x]", "unknown config key 'inputs.common_crawl'"),
    ("cc.lid.threshold=abc", "cc.lid.threshold must be a number, got 'abc'"),
    ("cc.lid=0.5", "cc.lid is a section (languages, threshold), not 0.5"),
    ("c4.lid.threshold=1.5", "c4.lid.threshold must be in [0, 1], got 1.5"),  # the shared type names its path
    ("sample.fraction=0", "sample.fraction must be in (0, 1]"),
    ("sample.fraction=1.5", "sample.fraction must be in (0, 1]"),
    ("sample.max_records_per_file=0", "sample.max_records_per_file"),
    ("inputs.cc=3", "inputs.cc[0] must be a string, got 3"),
    ("cc.line_dedup.shards=0", "cc.line_dedup.shards must be >= 1, got 0"),
    ("cc.line_dedup.keep_first=maybe", "cc.line_dedup.keep_first must be true or false"),
    ("cc.perplexity.percentiles=[60, 30]", "cc.perplexity.percentiles must be two numbers with 0 < head < tail"),
    ("cc.perplexity.keep=[top]", "cc.perplexity.keep[0] must be one of head, middle, tail"),
    ("c4.dedup.unit=word", "c4.dedup.unit must be one of span, line"),
    ("books.near_dedup.bands=20", "books.near_dedup.bands * rows (20 * 10) must not exceed num_perm (128)"),
    ("github.archive.max_ratio=0", "github.archive.max_ratio must be > 0"),
    ("tokenizer.vocab_size=100", "tokenizer.vocab_size must be an integer in [300, 65536]"),
    ("mixture.proportions.web=0.5", "mixture.proportions names an unknown source 'web'"),
    ("models.train.wikiref.positives=urls", "models.train.wikiref.reference_urls lists no file: the wikiref classifier"),
    ("seed=1.5", "seed must be an integer, got 1.5"),
    ("no_equals_sign", "expects dotted.key=value"),
])
def test_bad_values_are_clear_errors(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(SAMPLE, [override])
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_errors_in_the_file_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("cc:\n  lid:\n    languges: [en]\n")
    with pytest.raises(ConfigError, match=r"typo.yaml: unknown config key 'cc.lid.languges'; did you mean 'languages'"):
        load_config(typo)


@pytest.mark.parametrize("override, key", [
    ("cc.lid.treshold=0.5", "cc.lid.treshold"), ("cc.lid.threshold=abc", "cc.lid.threshold"),
    ("cc.lid=0.5", "cc.lid"), ("c4.lid.threshold=1.5", "c4.lid.threshold"),
])
def test_the_cli_refuses_bad_settings_before_any_work_in_one_line(tmp_path, override, key):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "--config", SAMPLE, "--output", str(out),
                           "--set", override], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("config error")]
    assert len(errors) == 1 and key in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() or not any(out.iterdir()), "work was done before the config was checked"
    if "treshold" in override:
        assert "did you mean 'threshold'" in errors[0]


def test_every_default_is_defined_once_in_its_section():
    config = config_from({})
    assert config.cc.lid == LidSettings() == config.c4.lid
    assert config.cc.perplexity.percentiles == (30.0, 60.0)
    assert config.wikipedia.languages == tuple(sorted(
        "bg ca cs da de en es fr hr hu it nl pl pt ro ru sl sr sv uk".split()))
    # A config written out as plain data loads back to the same config.
    assert load_section(RunConfig, as_plain(load_config(SAMPLE))) == load_config(SAMPLE)


def test_the_yaml_files_set_only_known_keys_and_document_them():
    """Every key in the configs is a field (load_config checks it); sample.yaml sets every field, with comments."""
    for name in ("sample.yaml", "llama.yaml"):
        load_config(ROOT / "configs" / name)
    data = yaml.safe_load((ROOT / "configs" / "sample.yaml").read_text())

    def keys(section, prefix=""):
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if dataclasses.is_dataclass(value):
                yield from keys(value, f"{prefix}{f.name}.")
            else:
                yield f"{prefix}{f.name}"

    config = config_from({})
    missing = []
    for f in dataclasses.fields(config):
        section = getattr(config, f.name)
        for key in keys(section, f"{f.name}.") if dataclasses.is_dataclass(section) else [f.name]:
            node = data
            for part in key.split("."):
                if not (isinstance(node, dict) and part in node):
                    missing.append(key)
                    break
                node = node[part]
    assert not missing, f"configs/sample.yaml does not document {missing}"


def test_a_stage_key_covers_its_own_sections_only(tmp_path):
    from pipeline.driver import stage_key

    base = load_config(SAMPLE)
    changed = load_config(SAMPLE, ["shards.target_tokens_per_shard=1000"])
    for stage in ("models", "curate"):
        assert stage_key(stage, base, tmp_path) == stage_key(stage, changed, tmp_path)
    assert stage_key("shards", base, tmp_path) != stage_key("shards", changed, tmp_path)
    assert stage_key("curate", base, tmp_path) != stage_key("curate", load_config(SAMPLE, ["cc.lid.threshold=0.6"]),
                                                             tmp_path)
    assert section_digest(base, ["seed"]) == {"seed": 0}
    # The reference models do not depend on stages after them, nor on other sources' inputs.
    for change in ("cc.near_dedup.enabled=true", "inputs.c4=[]", "c4.lid.threshold=0.6"):
        assert stage_key("models", base, tmp_path) == stage_key("models", load_config(SAMPLE, [change]), tmp_path)
    assert stage_key("models", base, tmp_path) != stage_key("models", load_config(SAMPLE, ["cc.lid.threshold=0.6"]),
                                                            tmp_path)


def test_the_full_scale_template_loads():
    config = load_config("configs/llama.yaml")
    assert config.active_sources() == list(SOURCES)
    assert config.tokenizer.vocab_size == 32000
    assert config.stackexchange.sites == "largest:28" and config.stackexchange.largest == 28
    assert config.c4.mode == "released"
    assert config.models.train.wikiref.positives == "urls"


def test_a_config_extends_another_section_by_section(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("seed: 3\ncc:\n  lid: {languages: [en, de], threshold: 0.6}\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\ncc:\n  lid: {threshold: 0.7}\n")
    config = load_config(child)
    assert config.seed == 3 and config.cc.lid.languages == ("en", "de") and config.cc.lid.threshold == 0.7
    loop = tmp_path / "loop.yaml"
    loop.write_text("extends: loop.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_config(loop)
    modern, strict = load_config("configs/sample-modern.yaml"), load_config(SAMPLE)
    assert modern.inputs.cc == (*strict.inputs.cc, "data/sample/planted/cc/*.warc.wet.gz")  # the planted cases
    assert modern.inputs.github == strict.inputs.github
    assert set(strict.inputs.c4) <= set(modern.inputs.c4)  # plus the planted files
    assert modern.cc.near_dedup.enabled and not strict.cc.near_dedup.enabled
    assert modern.dedup.cross_source.enabled and not load_config("configs/llama.yaml").dedup.cross_source.enabled
    assert load_config("configs/llama-modern.yaml").tokenizer.vocab_size == 32000
