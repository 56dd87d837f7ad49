"""Licence detection on real licence files (PyPI sdists, Debian's common-licenses)."""
import tarfile
from pathlib import Path

import pytest

from filters.licenses import (
    NOASSERTION, LicenseDetector, dice, expression_ids, is_license_file, normalize_license_id, wordset,
)
import registries

COMMON = Path("/usr/share/common-licenses")


def sdist_file(name: str, version: str, member: str) -> str:
    with tarfile.open(registries.pypi(name, version, sdist=True)) as tar:
        return tar.extractfile(f"{name}-{version}/{member}").read().decode("utf-8")


@pytest.fixture(scope="module")
def detector():
    return LicenseDetector()


@pytest.mark.parametrize("name,version,member,spdx", [
    ("six", "1.17.0", "LICENSE", "MIT"),  # no title line, "Copyright (c) 2010-2024 Benjamin Peterson"
    ("attrs", "23.2.0", "LICENSE", "MIT"),  # "The MIT License (MIT)" title
    ("click", "8.1.7", "LICENSE.rst", "BSD-3-Clause"),  # reST-indented numbered clauses
    ("requests", "2.31.0", "LICENSE", "Apache-2.0"),  # without the "How to apply" appendix
    ("Warcat", "2.2.5", "COPYING.txt", "GPL-3.0"),
])
def test_real_licence_files(detector, name, version, member, spdx):
    assert detector.detect(sdist_file(name, version, member)).spdx == spdx


def test_common_licenses_texts_match_themselves(detector):
    assert detector.detect((COMMON / "Apache-2.0").read_text()).spdx == "Apache-2.0"
    assert detector.detect((COMMON / "GPL-2").read_text()).spdx == "GPL-2.0"
    # Debian's BSD is the 3-clause text with "the University" as the holder.
    assert detector.detect((COMMON / "BSD").read_text()).spdx == "BSD-3-Clause"


def test_bsd2_is_not_taken_for_bsd3(detector):
    bsd3 = sdist_file("click", "8.1.7", "LICENSE.rst")
    # Remove clause 3 by hand: what remains is the 2-clause licence.
    start = bsd3.index("3.  Neither")
    end = bsd3.index("THIS SOFTWARE")
    assert detector.detect(bsd3[:start] + bsd3[end:]).spdx == "BSD-2-Clause"


def test_unrecognised_text_is_noassertion(detector):
    match = detector.detect("All files in this repository may be used for any purpose whatsoever, "
                            "as long as you send the author a postcard.")
    assert match.spdx == NOASSERTION and match.score < 0.9


def test_mit_with_a_restriction_added_is_not_mit(detector):
    mit = sdist_file("attrs", "23.2.0", "LICENSE")
    extra = ("\nThe Software shall be used for Good, not Evil. Commercial use requires a separate written "
             "agreement with the authors, negotiated in advance, and royalties paid quarterly.\n") * 3
    assert detector.detect(mit + extra).spdx == NOASSERTION


def test_spdx_identifier_line(detector):
    assert detector.detect("SPDX-License-Identifier: MIT\n").spdx == "MIT"
    assert detector.detect("# SPDX-License-Identifier: Apache-2.0 OR mit\n").spdx == "Apache-2.0 OR MIT"
    assert expression_ids("(MIT OR Apache-2.0) AND BSD-3-Clause") == ["MIT", "Apache-2.0", "BSD-3-Clause"]


def test_missing_reference_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="Apache-2.0"):
        LicenseDetector(str(tmp_path)).setup()


def test_threshold_validated():
    with pytest.raises(ValueError, match="license_threshold"):
        LicenseDetector(threshold=1.5)


def test_licence_file_names():
    for name in ("LICENSE", "LICENSE.txt", "LICENCE.md", "COPYING", "COPYING.LESSER", "LICENSE-MIT",
                 "MIT-LICENSE", "license.rst"):
        assert is_license_file(name), name
    for name in ("README.md", "license_check.py", "licenses", "setup.py", "license.py", "LICENSE.json"):
        assert not is_license_file(name), name


def test_dataset_licence_ids():
    assert normalize_license_id("apache-2.0") == "Apache-2.0"
    assert normalize_license_id("bsd-3-clause") == "BSD-3-Clause"
    assert normalize_license_id("mit") == "MIT"
    assert normalize_license_id("") is None and normalize_license_id(None) is None
    assert normalize_license_id("wtfpl") == "wtfpl"  # unknown ids pass through (and are not permissive)


def test_dice():
    assert dice(frozenset("ab"), frozenset("ab")) == 1.0
    assert dice(frozenset("ab"), frozenset("cd")) == 0.0
    assert dice(frozenset("abc"), frozenset("ab")) == pytest.approx(0.8)
    # Normalisation: spelling, copyright lines and case do not count.
    assert wordset("Copyright (c) 2001 X\nThe LICENCE applies.") == wordset("the license applies")
