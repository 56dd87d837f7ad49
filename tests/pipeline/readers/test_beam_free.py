"""The readers are Beam-free: every parser, and what parsers yield, imports with apache_beam blocked.

A Spark job or a unit test can read our formats without Beam installed; only
pipeline.read (matching files on Beam's filesystems, spreading them over workers)
knows Beam. The check runs in a fresh interpreter whose import system refuses
apache_beam outright.
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

BLOCKED_IMPORT = '''
import importlib.abc, sys

class NoBeam(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "apache_beam" or name.startswith("apache_beam."):
            raise ImportError(f"{name} is blocked: this module must not need Beam")
        return None

sys.meta_path.insert(0, NoBeam())
'''

PARSERS = [
    ("pipeline.readers.base", ["Malformed", "Skipped", "Sampling", "MalformedInputError", "Parser"]),
    ("pipeline.readers.warc", ["make_parser", "parse_warc"]),
    ("pipeline.readers.warc_records", ["RecordConverter", "SKIP_KINDS"]),
    ("pipeline.readers.jsonl", ["parse_c4_json", "C4Input"]),
    ("pipeline.readers.github", ["make_parser", "parse_github", "ArchiveLimits"]),
    ("pipeline.readers.wikipedia", ["parse_mediawiki"]),
    ("pipeline.readers.books", ["parse_books"]),
    ("pipeline.readers.arxiv", ["parse_arxiv"]),
    ("pipeline.readers.stackexchange", ["parse_posts"]),
]


def test_every_parser_imports_without_beam():
    script = BLOCKED_IMPORT + "".join(
        f"from {module} import {', '.join(names)}\n" for module, names in PARSERS
    ) + "print('parsers imported')\nimport apache_beam\n"  # the blocker must work, or this proves nothing
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert proc.stdout == "parsers imported\n", proc.stderr
    assert proc.returncode == 1 and "apache_beam is blocked" in proc.stderr.splitlines()[-1], proc.stderr


def test_every_reader_module_is_covered():
    readers = {p.stem for p in (ROOT / "pipeline" / "readers").glob("*.py") if p.stem != "__init__"}
    assert readers == {module.rsplit(".", 1)[1] for module, _ in PARSERS}
