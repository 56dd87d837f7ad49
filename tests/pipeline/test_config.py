import pytest

from pipeline.config import SOURCES, ConfigError, active_sources, config_digest, load_config

SAMPLE = "configs/sample.yaml"


def test_sample_config_loads_with_defaults_filled():
    config = load_config(SAMPLE)
    assert config["inputs"]["cc"] == ["data/sample/cc/*.warc.wet.gz"]
    assert config["cc"]["lid"]["threshold"] == 0.5
    assert active_sources(config) == list(SOURCES)  # the demo runs every source


def test_set_parses_values_as_yaml():
    config = load_config(SAMPLE, ["inputs.cc=[a.warc.gz,b.warc.gz]", "sample.fraction=0.01",
                                  "sample.max_records_per_file=1000", "cc.lid.languages=[en, de]"])
    assert config["inputs"]["cc"] == ["a.warc.gz", "b.warc.gz"]
    assert config["sample"]["fraction"] == 0.01
    assert config["sample"]["max_records_per_file"] == 1000
    assert config["cc"]["lid"]["languages"] == ["en", "de"]


def test_a_single_path_becomes_a_list():
    assert load_config(SAMPLE, ["inputs.c4=x.json.gz"])["inputs"]["c4"] == ["x.json.gz"]


@pytest.mark.parametrize("override, message", [
    ("cc.lid.treshold=0.3", "unknown config key 'cc.lid.treshold'"),
    ("inputs.common_crawl=[x]", "unknown config key 'inputs.common_crawl'"),
    ("sample.fraction=0", "sample.fraction must be in (0, 1]"),
    ("sample.fraction=1.5", "sample.fraction must be in (0, 1]"),
    ("sample.max_records_per_file=0", "sample.max_records_per_file"),
    ("cc.lid.threshold=2", "cc.lid.threshold"),
    ("inputs.cc=3", "inputs.cc must be a list"),
    ("no_equals_sign", "expects dotted.key=value"),
])
def test_bad_values_are_clear_errors(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        load_config(SAMPLE, [override])


def test_digest_changes_with_any_setting():
    a = config_digest(load_config(SAMPLE))
    assert a == config_digest(load_config(SAMPLE))
    assert a != config_digest(load_config(SAMPLE, ["cc.lid.threshold=0.6"]))


def test_unreadable_config_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)


def test_the_full_scale_template_loads():
    config = load_config("configs/llama.yaml")
    assert active_sources(config) == list(SOURCES)
    assert config["tokenizer"]["vocab_size"] == 32000
    assert len(config["stackexchange"]["sites"]) == 28
    assert config["models"]["train"]["wikiref"]["positives"] == "urls"
