"""publish_directory: outputs appear whole, and nothing we did not write is ever deleted."""

import json

import pytest

from shard_format.publish import MARKER, OutputRefusedError, publish_directory

ME = "python -m tool"


def publish(target, files: dict[str, str], written_by: str = ME):
    with publish_directory(target, written_by=written_by) as tmp:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text)


def tree(directory) -> dict[str, str]:
    return {p.relative_to(directory).as_posix(): p.read_text() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_a_new_directory_appears_whole_with_its_marker(tmp_path):
    publish(tmp_path / "out", {"a.txt": "a", "sub/b.txt": "b"})
    files = tree(tmp_path / "out")
    assert json.loads(files.pop(MARKER)) == {"written_by": ME, "files": ["a.txt", "sub/b.txt"]}
    assert files == {"a.txt": "a", "sub/b.txt": "b"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary sibling left


def test_an_empty_directory_is_used(tmp_path):
    (tmp_path / "out").mkdir()
    publish(tmp_path / "out", {"a.txt": "a"})
    assert tree(tmp_path / "out")["a.txt"] == "a"


def test_our_earlier_output_is_replaced(tmp_path):
    publish(tmp_path / "out", {"old.txt": "old", "keep.txt": "1"})
    publish(tmp_path / "out", {"keep.txt": "2"})
    files = tree(tmp_path / "out")
    assert files.keys() == {MARKER, "keep.txt"} and files["keep.txt"] == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("setup, message", [
    ("foreign", r"is not empty and was not written by `python -m tool` \(no \.written-by\.json\)"),
    ("other_command", r"it was written by `python -m other`, not `python -m tool`"),
    ("ours_plus_a_user_file", r"holds files an earlier `python -m tool` did not write \(notes\.txt\)"),
])
def test_anything_else_is_refused_before_the_work_and_left_untouched(tmp_path, setup, message):
    out = tmp_path / "out"
    if setup == "other_command":
        publish(out, {"x": "x"}, written_by="python -m other")
    elif setup == "ours_plus_a_user_file":
        publish(out, {"x": "x"})
    else:
        out.mkdir()
    (out / "notes.txt").write_text("the user's")
    before = tree(out)
    ran = []
    with pytest.raises(OutputRefusedError, match=message):
        with publish_directory(out, written_by=ME):
            ran.append(True)
    assert not ran  # refused before the caller spent time on the output
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("data")
    with pytest.raises(OutputRefusedError, match="exists and is not a directory"):
        publish(tmp_path / "out", {"a": "a"})
    assert (tmp_path / "out").read_text() == "data"


def test_a_failure_while_writing_leaves_the_target_as_it_was(tmp_path):
    publish(tmp_path / "out", {"a.txt": "first"})
    with pytest.raises(RuntimeError, match="disk full"):
        with publish_directory(tmp_path / "out", written_by=ME) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("disk full")
    assert tree(tmp_path / "out")["a.txt"] == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
