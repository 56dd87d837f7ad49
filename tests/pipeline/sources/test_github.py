"""GitHub reader (real sdists, JSON lines, hostile archives) and the curation stages on Beam."""
import gzip
import io
import json
import random
import shutil
import stat
import tarfile
import zipfile

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from filters.document import digest_id
from pipeline.config import config_from
from pipeline.curate import curate_source
from pipeline.sources.github import CurateGitHub, GitHubSettings, content_key, filters_from_config
from pipeline.readers.base import Malformed
from pipeline.readers.github import ArchiveLimits, parse_github
import registries

SDISTS = {  # name -> (version, licence as the project states it)
    "six": ("1.17.0", "MIT"),
    "click": ("8.1.7", "BSD-3-Clause"),
    "requests": ("2.31.0", "Apache-2.0"),
    "Warcat": ("2.2.5", "GPL-3.0"),
}


def sdist(name, version):
    return registries.pypi(name, version, sdist=True)


def parse(path, data=None, **kw):
    if data is None:
        with open(path, "rb") as f:
            return list(parse_github(str(path), f, **kw))
    return list(parse_github(str(path), io.BytesIO(data), **kw))


def split(items):
    return [i for i in items if not isinstance(i, Malformed)], [i for i in items if isinstance(i, Malformed)]


def tar_bytes(members, mode="w:gz"):
    """members: list of (TarInfo fields dict, data bytes or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for fields, data in members:
            info = tarfile.TarInfo(fields.pop("name"))
            for k, v in fields.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


MIT_TEXT = tarfile.open(registries.pypi("six", "1.17.0", sdist=True)).extractfile("six-1.17.0/LICENSE").read()


# --- real archives -------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SDISTS))
def test_real_sdist_every_regular_file_is_a_document(name):
    version, spdx = SDISTS[name]
    path = sdist(name, version)
    with tarfile.open(path) as tar:  # the expectation, straight from tarfile
        expected = {m.name.split("/", 1)[1] for m in tar if m.isfile()}
    docs, bad = split(parse(path))
    assert bad == []
    assert {d.meta["path"] for d in docs} == expected
    assert {d.meta["spdx"][0] for d in docs} == {spdx}
    assert all(d.meta["repo"] == f"{name}-{version}" for d in docs)
    six = next((d for d in docs if d.meta["path"] == "six.py"), None)
    if six:
        assert six.id == digest_id("github", "six-1.17.0/six.py")
        assert six.text.startswith("# Copyright (c) 2010-2024 Benjamin Peterson")


def test_zip_of_a_real_sdist_reads_the_same(tmp_path):
    path = sdist("six", "1.17.0")
    zpath = tmp_path / "six-1.17.0.zip"
    with tarfile.open(path) as tar, zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for m in tar:
            if m.isfile():
                zf.writestr(m.name, tar.extractfile(m).read())
    tar_docs, _ = split(parse(path))
    zip_docs, bad = split(parse(zpath))
    assert bad == []
    assert sorted((d.id, d.text, d.meta["spdx"][0]) for d in zip_docs) == \
        sorted((d.id, d.text, d.meta["spdx"][0]) for d in tar_docs)


def test_binary_and_large_files_are_documents_without_text(tmp_path):
    data = tar_bytes([
        ({"name": "r/LICENSE"}, MIT_TEXT),
        ({"name": "r/logo.png"}, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ({"name": "r/latin1.c"}, "/* caf\xe9 */\n".encode("latin-1")),
        ({"name": "r/big.py"}, b"x = 1\n" * 100),
    ])
    docs, bad = split(parse(tmp_path / "r.tar.gz", data, max_file_bytes=100))
    by_path = {d.meta["path"]: d for d in docs}
    assert by_path["logo.png"].meta.get("binary") and by_path["logo.png"].text == ""
    assert by_path["latin1.c"].meta.get("binary")
    assert by_path["big.py"].text == "" and by_path["big.py"].meta["size"] == 600
    assert by_path["LICENSE"].meta["spdx"] == ["MIT"] and bad == []


def test_archive_without_single_top_directory_and_without_licence(tmp_path):
    data = tar_bytes([({"name": "a.py"}, b"x = 1\n"), ({"name": "lib/b.py"}, b"y = 2\n")])
    docs, _ = split(parse(tmp_path / "flat.tgz", data))
    assert sorted(d.meta["path"] for d in docs) == ["a.py", "lib/b.py"]
    assert all(d.meta["spdx"] == [] and d.meta["licence"] == [] for d in docs)


def test_nested_licence_files_do_not_count(tmp_path):
    # A vendored dependency's LICENSE is not the repository's licence.
    data = tar_bytes([({"name": "r/vendor/dep/LICENSE"}, MIT_TEXT), ({"name": "r/main.py"}, b"x = 1\n")])
    docs, _ = split(parse(tmp_path / "r.tar.gz", data))
    assert {tuple(d.meta["spdx"]) for d in docs} == {()}


# --- hostile and broken archives ---------------------------------------------------------

def test_tar_path_traversal_absolute_and_links_are_refused_and_named(tmp_path):
    data = tar_bytes([
        ({"name": "r/LICENSE"}, MIT_TEXT),
        ({"name": "r/ok.py"}, b"x = 1\n"),
        ({"name": "r/../../evil.py"}, b"import os\n"),
        ({"name": "/etc/cron.d/evil"}, b"* * * * * root sh\n"),
        ({"name": "r/escape", "type": tarfile.SYMTYPE, "linkname": "../../../etc/passwd"}, None),
        ({"name": "r/abs", "type": tarfile.SYMTYPE, "linkname": "/etc/shadow"}, None),
        ({"name": "r/hard", "type": tarfile.LNKTYPE, "linkname": "../outside"}, None),
        ({"name": "r/inside", "type": tarfile.SYMTYPE, "linkname": "ok.py"}, None),
        ({"name": "r/dev", "type": tarfile.CHRTYPE}, None),
    ])
    docs, bad = split(parse(tmp_path / "r.tar.gz", data))
    assert [d.meta["path"] for d in docs] == ["LICENSE", "ok.py"]
    messages = [m.error for m in bad]
    assert len(bad) == 6 and all(m.path.endswith("r.tar.gz") for m in bad)
    assert "member 'r/../../evil.py': path leaves the archive" in messages[0]
    assert "member '/etc/cron.d/evil': path leaves the archive" in messages[1]
    assert "member 'r/escape': link to '../../../etc/passwd' leaves the archive" in messages[2]
    assert "member 'r/abs': link to '/etc/shadow'" in messages[3]
    assert "member 'r/hard': link to '../outside'" in messages[4]
    assert "member 'r/dev': device" in messages[5]
    assert len({m.offset for m in bad}) == 6  # each names its own header offset


def test_tar_bomb_over_total_size_is_refused_whole(tmp_path):
    data = tar_bytes([({"name": "r/LICENSE"}, MIT_TEXT), ({"name": "r/zeros.py"}, b"\0" * (3 << 20))])
    items = parse(tmp_path / "bomb.tar.gz", data, limits=ArchiveLimits(max_total_bytes=2 << 20))
    assert len(items) == 1 and isinstance(items[0], Malformed)
    assert "member 'r/zeros.py': decompression bomb" in items[0].error and "exceed the limit" in items[0].error


def test_tar_bomb_over_ratio_is_refused(tmp_path):
    data = tar_bytes([({"name": "r/zeros.py"}, b"\0" * (8 << 20))])
    assert len(data) < 80_000  # zeros compress ~1000x
    items = parse(tmp_path / "ratio.tar.gz", data, limits=ArchiveLimits(max_ratio=100))
    assert len(items) == 1 and "ratio" in items[0].error and "'r/zeros.py'" in items[0].error
    # The same archive under a ratio limit it meets is read.
    docs, bad = split(parse(tmp_path / "ratio.tar.gz", data, limits=ArchiveLimits(max_ratio=10_000)))
    assert len(docs) == 1 and bad == [] and docs[0].meta["size"] == 8 << 20  # too large to read: no text


def test_tar_too_many_members(tmp_path):
    data = tar_bytes([({"name": f"r/f{i}.py"}, b"x\n") for i in range(5)])
    items = parse(tmp_path / "many.tar.gz", data, limits=ArchiveLimits(max_members=4))
    assert len(items) == 1 and "more than 4 members" in items[0].error and "'r/f4.py'" in items[0].error


def test_truncated_real_tarball_keeps_what_it_can_and_reports_where(tmp_path):
    full = sdist("click", "8.1.7").read_bytes()
    docs_full, _ = split(parse(sdist("click", "8.1.7")))
    items = parse(tmp_path / "click-8.1.7.tar.gz", full[: len(full) // 2])
    docs, bad = split(items)
    assert 0 < len(docs) < len(docs_full)
    assert len(bad) == 1 and isinstance(items[-1], Malformed)
    assert "truncated or corrupt tar archive" in bad[0].error and bad[0].offset > 0
    # Every file read before the break is exactly the file in the whole archive.
    whole = {d.id: d.text for d in docs_full}
    assert all(whole[d.id] == d.text for d in docs if not d.meta.get("binary"))


def zip_bytes(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def test_zip_hostile_members(tmp_path):
    data = zip_bytes([
        ("r/LICENSE", MIT_TEXT, None),
        ("r/ok.py", b"x = 1\n", None),
        ("../evil.py", b"import os\n", None),
        ("r/link", b"/etc/passwd", stat.S_IFLNK | 0o777),
        ("r/inner", b"ok.py", stat.S_IFLNK | 0o777),
        ("r/zeros.py", b"\0" * (4 << 20), None),
        # Incompressible bytes keep the archive as a whole under the ratio limit, so
        # only the one member over it is refused.
        ("r/noise.bin", random.Random(0).randbytes(64 << 10), None),
    ])
    docs, bad = split(parse(tmp_path / "r.zip", data))
    assert sorted(d.meta["path"] for d in docs) == ["LICENSE", "noise.bin", "ok.py"]
    assert docs[0].meta["spdx"] == ["MIT"]
    errors = sorted(m.error for m in bad)
    assert len(bad) == 3
    assert any("member '../evil.py': path leaves the archive" in e for e in errors)
    assert any("member 'r/link': link to '/etc/passwd'" in e for e in errors)
    assert any("member 'r/zeros.py': decompression bomb" in e for e in errors)


def test_zip_total_size_bomb_refused_whole(tmp_path):
    data = zip_bytes([("r/a.py", b"\0" * (2 << 20), None), ("r/b.py", b"\0" * (2 << 20), None)])
    items = parse(tmp_path / "r.zip", data, limits=ArchiveLimits(max_total_bytes=3 << 20, max_ratio=1e6))
    assert len(items) == 1 and "member 'r/b.py': decompression bomb" in items[0].error


def test_truncated_zip_is_one_malformed(tmp_path):
    data = zip_bytes([("r/a.py", b"x = 1\n" * 1000, None)])
    items = parse(tmp_path / "r.zip", data[: len(data) // 2])
    assert len(items) == 1 and items[0].offset == 0 and "not a readable zip" in items[0].error


def test_unknown_extension_is_malformed(tmp_path):
    items = parse(tmp_path / "repo.rar", b"Rar!")
    assert len(items) == 1 and "not a GitHub input" in items[0].error


# --- JSON lines ---------------------------------------------------------------------------

def jsonl_rows():
    return [
        {"repo_name": "pallets/click", "path": "src/click/core.py", "content": "x = 1\n", "license": "bsd-3-clause"},
        {"repo_name": "kennethreitz/requests", "path": "a.py", "content": "y = 2\n", "license": "apache-2.0"},
        {"repo_name": "someone/nolicence", "path": "b.py", "content": "z = 3\n", "license": None},
    ]


def test_jsonl_rows_and_bad_lines_with_offsets(tmp_path):
    lines = [json.dumps(r).encode() + b"\n" for r in jsonl_rows()]
    bad_json = b'{"repo_name": "x", "path": \n'
    missing = json.dumps({"repo_name": "x", "path": "p.py"}).encode() + b"\n"
    not_utf8 = b'{"repo_name": "x", "path": "p.py", "content": "caf\xe9", "license": "mit"}\n'
    data = lines[0] + bad_json + lines[1] + missing + not_utf8 + lines[2]
    docs, bad = split(parse(tmp_path / "files.jsonl", data))
    assert [(d.meta["repo"], d.meta["spdx"]) for d in docs] == [
        ("pallets/click", ["BSD-3-Clause"]), ("kennethreitz/requests", ["Apache-2.0"]), ("someone/nolicence", [])]
    assert docs[0].id == digest_id("github", "pallets/click/src/click/core.py")
    assert [m.offset for m in bad] == [len(lines[0]), len(lines[0] + bad_json + lines[1]),
                                       len(lines[0] + bad_json + lines[1] + missing)]
    assert bad[0].error.startswith("line 2:") and "line 4: missing or non-string field(s) content" in bad[1].error
    assert bad[2].error.startswith("line 5:") and "utf-8" in bad[2].error


def test_truncated_jsonl_gz(tmp_path):
    data = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in jsonl_rows() * 200))
    docs, bad = split(parse(tmp_path / "files.jsonl.gz", data[: len(data) // 2]))
    assert 0 < len(docs) < 600 and len(bad) <= 2
    assert "truncated" in bad[-1].error


# --- the Beam stages ------------------------------------------------------------------------

def config(inputs):
    return config_from({"inputs": {"github": inputs}})


def test_curation_on_real_sdists(tmp_path):
    for name, version in (("six", "1.16.0"), ("six", "1.17.0"), ("Warcat", "2.2.5")):
        shutil.copy(sdist(name, version), tmp_path)
    (tmp_path / "nolicence.tar.gz").write_bytes(tar_bytes([({"name": "nolicence/x.py"}, b"x = 1\n")]))
    with tarfile.open(sdist("Warcat", "2.2.5")) as tar:
        warcat_files = sum(m.isfile() for m in tar)
    # six 1.16.0 and 1.17.0 share documentation/Makefile byte for byte, and setup.py
    # differs only in its licence header's year (checked with cmp and diff by hand).
    dup_paths = ["documentation/Makefile", "setup.py"]
    losers = sorted(max(digest_id("github", f"six-{v}/{p}") for v in ("1.16.0", "1.17.0")) for p in dup_paths)

    with TestPipeline(runner="FnApiRunner") as p:
        result, read_stats = curate_source(p, config([str(tmp_path / "*.tar.gz")]), "github", {})
        reasons = result.rejected | beam.Map(lambda r: (r.stage, r.reason)) | beam.combiners.Count.PerElement()
        dups = (result.rejected | beam.Filter(lambda r: r.reason == "duplicate_file")
                | beam.Map(lambda r: r.doc.id))
        kept_six = (result.kept | beam.Filter(lambda d: d.meta["path"] in ("six.py", "setup.py"))
                    | beam.Map(lambda d: (d.meta["repo"], d.meta["path"], d.text.startswith("# Copyright"))))
        assert_that(dups, equal_to(losers), label="dups")
        assert_that(kept_six, equal_to([
            ("six-1.16.0", "six.py", False), ("six-1.17.0", "six.py", False),
            (min(("six-1.16.0", "six-1.17.0"), key=lambda r: digest_id("github", f"{r}/setup.py")), "setup.py", False),
        ]), label="kept_six")
        assert_that(
            reasons | beam.Filter(lambda kv: kv[0][1] in ("license_not_permissive", "license_missing", "duplicate_file")),
            equal_to([(("license", "license_not_permissive"), warcat_files), (("license", "license_missing"), 1),
                      (("exact_dedup", "duplicate_file"), 2)]), label="reasons")


def test_stage_accounting_balances():
    from apache_beam.testing.util import BeamAssertException
    from filters.document import Document

    def d(i, text, path="a.py", spdx=("MIT",)):
        return Document(id=f"github/{i}", source="github", text=text,
                        meta={"repo": "r", "path": path, "licence": ["LICENSE"], "spdx": list(spdx), "size": len(text)})

    docs = [d(1, "x = 1\n"), d(2, "x = 1\n"), d(3, "x = 1\n", spdx=()), d(4, "y = 2\n", path="a.csv"), d(5, "z = 3\n")]
    lic, code = filters_from_config(GitHubSettings())

    def check(rows):
        table = dict(rows)
        for stage in ("license", "code_rules", "exact_dedup"):
            n_in = table[("github", stage, "in")][0]
            kept = table.get(("github", stage, "kept"), (0, 0))[0]
            dropped = sum(v[0] for k, v in table.items() if k[1] == stage and k[2].startswith("dropped:"))
            if n_in != kept + dropped:
                raise BeamAssertException(f"{stage}: {n_in} != {kept} + {dropped}")
        assert table[("github", "exact_dedup", "kept")][0] == 2

    with TestPipeline(runner="FnApiRunner") as p:
        result = p | beam.Create(docs) | CurateGitHub(lic, code)
        stats = result.stats | beam.CombinePerKey(lambda vs: tuple(map(sum, zip(*vs))))
        assert_that(stats | beam.combiners.ToList(), lambda lists: check(lists[0]))
        assert_that(result.kept | beam.Map(lambda x: x.id), equal_to(["github/1", "github/5"]), label="kept")


def test_content_key_is_exact():
    assert content_key("x = 1\n") == content_key("x = 1\n")
    assert content_key("x = 1\n") != content_key("x = 1 \n")
    assert content_key("X = 1\n") != content_key("x = 1\n")
