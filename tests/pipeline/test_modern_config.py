"""The settings of the optional stages beyond LLaMA-1: off in the LLaMA-1 configs, on in the modern
ones, and one clear error per bad value."""
import pytest

from pipeline.config import ConfigError, load_config

SAMPLE = "configs/sample.yaml"


def test_the_llama_1_configs_run_none_of_them():
    for name in ("configs/sample.yaml", "configs/llama.yaml"):
        config = load_config(name)
        assert not (config.url_filter.enabled or config.decontamination.enabled or config.pii.enabled), name


def test_the_modern_configs_run_all_three():
    for name in ("configs/sample-modern.yaml", "configs/llama-modern.yaml"):
        config = load_config(name)
        assert config.url_filter.enabled and config.decontamination.enabled and config.pii.enabled, name
        assert config.url_filter.sources == ("cc", "c4")


@pytest.mark.parametrize("override, message", [
    ("url_filter.sources=[web]", "url_filter.sources names unknown sources ['web']"),
    ("url_filter.blocklists=3", "url_filter.blocklists[0] must be a string, got 3"),
    ("decontamination.eval_sets.qa=[]", "decontamination.eval_sets.qa lists no file"),
    ("decontamination.eval_sets={'a:b': [x.jsonl]}",
     "decontamination.eval_sets names must be non-empty and without ':'"),
    ("decontamination.ngram=0", "decontamination.ngram must be >= 1, got 0"),
    ("decontamination.max_ngram_docs=0", "decontamination.max_ngram_docs must be >= 1, got 0"),
    ("decontamination.action=delete", "decontamination.action must be one of drop, flag, got 'delete'"),
    ("pii.emails=maybe", "pii.emails must be true or false, got 'maybe'"),
    ("pii.sources=[web]", "pii.sources names unknown sources ['web']"),
    ("pii.mask_license_headers=2", "pii.mask_license_headers must be true or false"),
])
def test_bad_values_are_clear_errors(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(SAMPLE, [override])
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("key", ["url_filter.blocklists", "decontamination.eval_sets.qa"])
def test_a_missing_list_or_eval_file_is_refused_before_any_work(tmp_path, key):
    from pipeline.preflight import PreflightError, check_inputs

    config = load_config(SAMPLE, [f"{key}=[{tmp_path}/missing*.txt]"])
    with pytest.raises(PreflightError, match=f"{key}: no file matches"):
        check_inputs(config)
