"""ArXiv reader on the real LaTeX sample (Debian texlive docs), broken inputs, and the stage on Beam."""
import gzip
import io
import re
import tarfile

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config import config_from
from pipeline.curate import curate_source
from pipeline.readers.base import Malformed
from pipeline.readers.arxiv import arxiv_id, paper_id, parse_arxiv
from samples import build_code_qa_tex as sample


@pytest.fixture(scope="module")
def arxiv_dir():
    return sample.build() / "arxiv"  # cached: a no-op when data/sample is up to date


def parse(path, data=None):
    if data is None:
        with open(path, "rb") as f:
            return list(parse_arxiv(str(path), f))
    return list(parse_arxiv(str(path), io.BytesIO(data)))


def one(items):
    assert len(items) == 1, items
    return items[0]


def test_ids():
    assert arxiv_id("s3/2101.00001v2.tar.gz") == "2101.00001v2"
    assert arxiv_id("hep-th9901001.gz") == "hep-th9901001"
    assert paper_id("2101.00001.tex") == "arxiv/2101.00001"
    assert arxiv_id("sample631.tex") is None and paper_id("a/sample631.tex").startswith("arxiv/")


def test_multi_file_tarball_main_and_inputs(arxiv_dir):
    path = arxiv_dir / "hepthesis-example.tar.gz"
    with tarfile.open(path) as tar:  # expectations from the archive itself
        files = {m.name: tar.extractfile(m).read().decode() for m in tar}
    inputs = re.findall(r"^\s*\\input\{(\w+)\}", files["example.tex"], re.M)
    doc = one(parse(path))
    assert doc.meta["main_file"] == "example.tex"  # not mwe.tex, the other \documentclass file
    assert doc.meta["inlined"] == [f"{n}.tex" for n in inputs]
    assert "chap4.tex" not in files and "\\input{chap4}" not in doc.text  # commented out in the source
    chap2_line = next(line for line in files["chap2.tex"].splitlines() if line.strip() and not line.startswith("%"))
    assert chap2_line in doc.text


def test_plain_tex_and_single_gzipped_tex(arxiv_dir):
    doc = one(parse(arxiv_dir / "sample-sigconf.tex"))
    assert doc.meta["main_file"] == "sample-sigconf.tex" and doc.meta["encoding"] == "utf-8"
    gz = one(parse(arxiv_dir / "apssamp.gz"))
    assert gz.meta["main_file"] == "apssamp.tex" and "\\documentclass" in gz.text


def test_real_latin1_source(arxiv_dir):
    raw = (arxiv_dir / "turnstile_artigo.tex").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    doc = one(parse(arxiv_dir / "turnstile_artigo.tex"))
    assert doc.meta["encoding"] == "latin-1" and "ção" in doc.text


def test_truncated_tarball_is_one_malformed(arxiv_dir):
    data = (arxiv_dir / "classicthesis.tar.gz").read_bytes()
    bad = one(parse("2101.00002.tar.gz", data[: len(data) // 2]))
    assert isinstance(bad, Malformed) and bad.path == "2101.00002.tar.gz" and bad.offset == 0
    assert "cannot decompress" in bad.error


def test_corrupt_gzip_and_not_a_tar():
    bad = one(parse("2101.00003.gz", b"\x1f\x8b\x08\x00garbage"))
    assert isinstance(bad, Malformed) and "cannot decompress" in bad.error
    bad = one(parse("2101.00004.tar", b"just text, not a tar"))
    assert isinstance(bad, Malformed) and "not a tar archive" in bad.error


def test_unbalanced_braces_and_invalid_utf8_survive(tmp_path):
    src = (b"\\documentclass{article}\n\\newcommand{\\bad}{never closed\n\\newcommand{\\ok}{fine}\n"
           b"\\begin{document}\n\\section{Caf\xe9}\n\\ok{} and {unbalanced \\bad\n\\end{document}\n")
    doc = one(parse("2101.00005.tex", src))
    assert doc.meta["encoding"] == "latin-1"
    from filters.latex import ArxivFilter
    out = ArxivFilter().apply(doc)
    assert out.text == "\\section{Caf\xe9}\nfine and {unbalanced \\bad"


def test_pdf_only_and_no_main():
    pdf = one(parse("2101.00006.gz", gzip.compress(b"%PDF-1.4 ...")))
    assert pdf.meta["tex_files"] == [] and pdf.text == ""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("a.tex", b"\\section{A} part"), ("b.tex", b"\\section{B} part")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    doc = one(parse("2101.00007.tar.gz", buf.getvalue()))
    assert doc.meta["main_file"] is None and doc.meta["tex_files"] == ["a.tex", "b.tex"]


def test_bulk_source_tar(arxiv_dir, tmp_path):
    buf = io.BytesIO()
    members = {
        "2101/2101.00001.gz": (arxiv_dir / "hepthesis-example.tar.gz").read_bytes(),
        "2101/2101.00002.gz": (arxiv_dir / "apssamp.gz").read_bytes(),
        "2101/2101.00003.gz": b"\x1f\x8bbroken",
        "2101/2101.00004.pdf": b"%PDF-1.5",
    }
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    items = parse(tmp_path / "arXiv_src_2101_001.tar", buf.getvalue())
    assert [i.id if not isinstance(i, Malformed) else "bad" for i in items] == [
        "arxiv/2101.00001", "arxiv/2101.00002", "bad", "arxiv/2101.00004"]
    sizes = [len(d) for d in members.values()]
    third_header = sum(512 + -(-n // 512) * 512 for n in sizes[:2])  # header + data padded to 512
    assert "member '2101/2101.00003.gz'" in items[2].error and items[2].offset == third_header
    assert items[3].meta["tex_files"] == []
    truncated = parse(tmp_path / "arXiv_src_2101_002.tar", buf.getvalue()[:2000])
    assert isinstance(truncated[-1], Malformed) and "truncated" in truncated[-1].error


def test_stage_on_beam(arxiv_dir):
    config = config_from({"inputs": {"arxiv": [str(arxiv_dir / "*")]}})
    n_files = len(list(arxiv_dir.iterdir()))
    with TestPipeline(runner="FnApiRunner") as p:
        result, read_stats = curate_source(p, config, "arxiv", {})
        kept = result.kept | beam.Map(lambda d: d.meta["source_file"])
        assert_that(kept | beam.combiners.Count.Globally(), equal_to([n_files]), label="all_kept")
        starts = result.kept | beam.Map(lambda d: re.match(r"\\(part|chapter|section)\*?", d.text) is not None)
        assert_that(starts | "D1" >> beam.Distinct(), equal_to([True]), label="starts_with_section")
        # Outside verbatim text (two of the guides show \\end{document} in a verbatim block).
        no_bib = result.kept | beam.Map(lambda d: bool(re.search(
            r"\\begin\{thebibliography\}|\\end\{document\}",
            re.sub(r"\\begin\{verbatim\}.*?\\end\{verbatim\}|\\verb\|[^|]*\|", "", d.text, flags=re.S))))
        assert_that(no_bib | "D2" >> beam.Distinct(), equal_to([False]), label="no_bibliography")
        latin1 = result.stats | beam.Filter(lambda kv: kv[0][2] == "latin1_fallback") | beam.Map(lambda kv: kv[1][0])
        assert_that(latin1, equal_to([1]), label="latin1")
        files = read_stats | beam.Filter(lambda kv: kv[0][2] == "files") | beam.Map(lambda kv: kv[1][0])
        assert_that(files, equal_to([n_files]), label="files")
