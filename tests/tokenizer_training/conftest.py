"""Real text for tokenizer tests, from files every Python install and Debian system has.

Prose: the docstrings of the standard library's modules, classes and functions.
Code: the standard library's sources. Legal English: /usr/share/common-licenses.
No network, no generated filler.
"""
from __future__ import annotations

import ast
import functools
import sysconfig
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from filters.document import Document
from pipeline.parquet import DOCUMENT_SCHEMA, document_to_row
from tokenizer_training import TokenizerSpec, load, train_tokenizer

STDLIB = Path(sysconfig.get_paths()["stdlib"])
LICENSES = Path("/usr/share/common-licenses")


def docstrings(limit: int) -> list[tuple[str, str]]:
    """(module name, its docstrings joined) for up to `limit` stdlib modules."""
    out = []
    for path in sorted(STDLIB.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))]
        text = "\n\n".join(d for d in map(ast.get_docstring, nodes) if d)
        if text:
            out.append((path.stem, text))
        if len(out) >= limit:
            break
    return out


@functools.cache
def docstring_pieces(min_chars: int = 200) -> list[tuple[str, str]]:
    """Every stdlib docstring of at least min_chars characters, one document each."""
    out = []
    for path in sorted(STDLIB.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for i, node in enumerate(n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))):
            doc = ast.get_docstring(node)
            if doc and len(doc) >= min_chars:
                out.append((f"{path.stem}-{i}", doc))
    return out


@functools.cache
def code_pieces(files: int) -> list[tuple[str, str]]:
    """The top-level functions and the methods of the first `files` stdlib modules, one document each."""
    out = []
    for path in sorted(STDLIB.glob("*.py"))[:files]:
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines(keepends=True)
        for node in ast.parse(source).body:
            members = node.body if isinstance(node, ast.ClassDef) else [node]
            for member in members:
                if isinstance(member, ast.FunctionDef):
                    key = f"{path.stem}.{node.name}.{member.name}" if member is not node else f"{path.stem}.{node.name}"
                    out.append((f"{key}@{member.lineno}", "".join(lines[member.lineno - 1:member.end_lineno])))
    return out


@functools.cache
def licence_paragraphs(min_chars: int = 100) -> list[tuple[str, str]]:
    return [(f"{key}-{i}", para) for key, text in licences()
            for i, para in enumerate(text.split("\n\n")) if len(para) >= min_chars]


@functools.cache
def licences() -> list[tuple[str, str]]:
    """Each licence cut at its triple blank lines (sections), as separate documents."""
    out = []
    for path in sorted(LICENSES.iterdir()):
        if path.is_file() and not path.is_symlink():
            for i, part in enumerate(path.read_text(encoding="utf-8").split("\n\n\n")):
                if part.strip():
                    out.append((f"{path.name}-{i}", part))
    return out


def write_curated(out: Path, source: str, docs: list[tuple[str, str]], n_files: int = 2) -> list[Document]:
    """OUT/curated/<source>/part-NNNNN.parquet with the documents dealt round-robin over n_files."""
    directory = out / "curated" / source
    directory.mkdir(parents=True, exist_ok=True)
    documents = [Document(id=f"{source}/{key}", source=source, text=text) for key, text in docs]
    for i in range(n_files):
        rows = [document_to_row(d) for d in documents[i::n_files]]
        pq.write_table(pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA), directory / f"part-{i:05d}.parquet")
    return documents


@pytest.fixture(scope="session")
def prose() -> list[str]:
    return [text for _, text in docstrings(150)] + [text for _, text in licences()]


@pytest.fixture(scope="session")
def trained(tmp_path_factory, prose):
    """A 1000-piece tokenizer trained on about 1 MB of real prose: (directory, card, processor)."""
    out = tmp_path_factory.mktemp("tok")
    card = train_tokenizer(prose, out, TokenizerSpec(vocab_size=1000))
    return out, card, load(out / "tokenizer.model")
