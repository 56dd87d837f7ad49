"""OUT as the stages see it: a local directory or a URI (gs://, s3://, any Beam filesystem).

Every read, write, listing and move of OUT goes through this class, and through Beam's
`FileSystems` for anything remote, so the same stage code writes to a laptop's disk
and to a bucket. Paths are given relative to OUT (`curated/cc/part-00000.parquet`).

Object stores have no directories and no atomic rename. So: a file is written whole
(an object upload is atomic); a "directory" is a key prefix; moving a prefix copies
its objects server-side and deletes the originals, one by one. What makes a stage's
outputs trustworthy is not the move but its completion record, written last
(pipeline.state): readers use only what a record lists. On a local disk the moves
are renames, each atomic.
"""
from __future__ import annotations

import json
import os
import posixpath
import shutil
from pathlib import Path
from typing import Any

from shard_format import atomic_write


def is_uri(path: str) -> bool:
    return "://" in str(path) and not str(path).startswith("file://")


def _filesystems():
    from apache_beam.io.filesystems import FileSystems  # only when remote: local runs need no Beam here

    return FileSystems


def _raw():
    """Bytes as stored: Beam would otherwise (de)compress any *.gz it opens or creates."""
    from apache_beam.io.filesystem import CompressionTypes

    return CompressionTypes.UNCOMPRESSED


class Store:
    def __init__(self, root: str | os.PathLike):
        root = str(root)
        self.remote = is_uri(root)
        self.root = root.rstrip("/") if self.remote else str(Path(root.removeprefix("file://")))

    def __repr__(self) -> str:
        return f"Store({self.root!r})"

    def path(self, rel: str = "") -> str:
        """The full path or URI of `rel`."""
        if not rel:
            return self.root
        return f"{self.root}/{rel}" if self.remote else os.path.join(self.root, rel)

    def sub(self, rel: str) -> Store:
        return Store(self.path(rel))

    # ---------------------------------------------------------------- files

    def exists(self, rel: str = "") -> bool:
        if not self.remote:
            return os.path.exists(self.path(rel))
        return _filesystems().exists(self.path(rel)) or bool(self.list(rel))

    def is_file(self, rel: str) -> bool:
        return os.path.isfile(self.path(rel)) if not self.remote else _filesystems().exists(self.path(rel))

    def read_bytes(self, rel: str) -> bytes:
        if not self.remote:
            return Path(self.path(rel)).read_bytes()
        with _filesystems().open(self.path(rel), compression_type=_raw()) as f:
            return f.read()

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode("utf-8")

    def read_json(self, rel: str) -> Any:
        return json.loads(self.read_bytes(rel))

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a whole file: atomically on a local disk (temp + rename), as one object upload remotely."""
        if not self.remote:
            path = Path(self.path(rel))
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path) as f:
                f.write(data)
            return
        with _filesystems().create(self.path(rel), compression_type=_raw()) as f:
            f.write(data)

    def write_json(self, rel: str, data: Any) -> None:
        self.write_bytes(rel, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))

    def open_read(self, rel: str):
        """A binary, seekable reader of `rel`."""
        if not self.remote:
            return open(self.path(rel), "rb")
        return _filesystems().open(self.path(rel), compression_type=_raw())

    def upload(self, local: str | os.PathLike, rel: str) -> None:
        """Copy a local file to `rel`."""
        if not self.remote:
            dst = Path(self.path(rel))
            dst.parent.mkdir(parents=True, exist_ok=True)
            with open(local, "rb") as src, atomic_write(dst) as out:
                shutil.copyfileobj(src, out, 1 << 20)
            return
        with open(local, "rb") as src, _filesystems().create(self.path(rel), compression_type=_raw()) as out:
            shutil.copyfileobj(src, out, 1 << 20)

    def download(self, rel: str, local: str | os.PathLike) -> None:
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        with self.open_read(rel) as src, atomic_write(local) as out:
            shutil.copyfileobj(src, out, 1 << 20)

    def delete(self, rel: str) -> None:
        if not self.remote:
            Path(self.path(rel)).unlink(missing_ok=True)
        elif _filesystems().exists(self.path(rel)):
            _filesystems().delete([self.path(rel)])

    # ---------------------------------------------------------------- trees (directories, key prefixes)

    def list(self, rel: str = "") -> list[str]:
        """Every file under `rel`, as sorted paths relative to OUT."""
        base = self.path(rel)
        if not self.remote:
            if not os.path.isdir(base):
                return []
            found = [os.path.join(d, f) for d, _, files in os.walk(base) for f in files]
            return sorted(os.path.relpath(p, self.root) for p in found)
        # Beam's patterns: "*" stays within one "/" level, "**" crosses them.
        found = _filesystems().match([base.rstrip("/") + "/**"])[0].metadata_list
        return sorted(m.path[len(self.root) + 1:] for m in found)

    def sizes(self, rel: str) -> dict[str, int]:
        """{path relative to OUT: size in bytes} of every file under `rel`."""
        if not self.remote:
            return {f: os.path.getsize(self.path(f)) for f in self.list(rel)}
        found = _filesystems().match([self.path(rel).rstrip("/") + "/**"])[0].metadata_list
        return {m.path[len(self.root) + 1:]: m.size_in_bytes for m in found}

    def match(self, pattern: str) -> list[str]:
        """Remote files whose path relative to OUT matches `pattern` (Beam's: ** crosses "/", * does not)."""
        found = _filesystems().match([self.path(pattern)])[0].metadata_list
        return sorted(m.path[len(self.root) + 1:] for m in found)

    def delete_tree(self, rel: str) -> None:
        if not self.remote:
            path = Path(self.path(rel))
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            return
        files = [self.path(f) for f in self.list(rel)]
        if files:
            _filesystems().delete(files)

    def move_tree(self, src: str, dst: str) -> None:
        """`src` (a finished staging output) becomes `dst`, replacing an older `dst`.

        Local: renames, so `dst` is at every moment the old tree or the new one. Remote: the
        old objects are deleted, then each new one is copied server-side and deleted."""
        if not self.remote:
            from pipeline.outputs import replace_dir

            replace_dir(Path(self.path(src)), Path(self.path(dst)))
            return
        self.delete_tree(dst)
        files = self.list(src)
        if not files:  # a single file
            files = [src]
        fs = _filesystems()
        fs.rename([self.path(f) for f in files], [self.path(dst + f[len(src):]) for f in files])

    def upload_tree(self, local: str | os.PathLike, rel: str) -> None:
        local = Path(local)
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            self.upload(path, posixpath.join(rel, path.relative_to(local).as_posix()))

    def download_tree(self, rel: str, local: str | os.PathLike) -> None:
        for f in self.list(rel):
            self.download(f, Path(local) / os.path.relpath(f, rel))


def read_all(path: str) -> bytes:
    """The bytes of a file anywhere Beam can read (a path or a URI)."""
    if not is_uri(path):
        return Path(str(path).removeprefix("file://")).read_bytes()
    with _filesystems().open(path, compression_type=_raw()) as f:
        return f.read()


def open_anywhere(path: str):
    """A binary reader of a file anywhere Beam can read."""
    if not is_uri(path):
        return open(str(path).removeprefix("file://"), "rb")
    return _filesystems().open(path, compression_type=_raw())



