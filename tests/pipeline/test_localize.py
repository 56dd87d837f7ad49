import os

from apache_beam.io.localfilesystem import LocalFileSystem

from pipeline.localize import is_local, localize

ROOT_DIR = {}


class PrefixedFileSystem(LocalFileSystem):
    """A Beam FileSystem plugin with its own scheme, standing in for gs:// offline.

    Beam finds FileSystem subclasses by scheme, exactly as it finds GCSFileSystem.
    """

    @classmethod
    def scheme(cls):
        return "testfs"

    def _local(self, path):
        return os.path.join(ROOT_DIR["root"], path.removeprefix("testfs://"))

    def open(self, path, mime_type="application/octet-stream", compression_type=None):
        return super().open(self._local(path), mime_type, compression_type)


def test_local_paths_pass_through(tmp_path):
    model = tmp_path / "m.bin"
    model.write_bytes(b"x")
    assert localize(str(model)) == str(model)
    assert localize(f"file://{model}") == str(model)
    assert is_local("/a/b") and not is_local("gs://bucket/m.bin")


def test_a_remote_path_is_copied_once_to_local_disk(tmp_path):
    ROOT_DIR["root"] = str(tmp_path / "bucket")
    folder = f"models-{tmp_path.name}"  # a fresh remote path each run
    os.makedirs(tmp_path / "bucket" / folder)
    (tmp_path / "bucket" / folder / "lid.bin").write_bytes(b"model bytes")
    local = localize(f"testfs://{folder}/lid.bin")
    assert is_local(local) and os.path.basename(local) == "lid.bin"
    assert not local.startswith(str(tmp_path / "bucket"))
    with open(local, "rb") as f:
        assert f.read() == b"model bytes"
    assert localize(f"testfs://{folder}/lid.bin") == local
