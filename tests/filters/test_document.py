"""filters.document: the byte count every stat uses."""
from hypothesis import given
from hypothesis import strategies as st

from filters.document import Document, digest_id


@given(st.text(st.characters(exclude_categories=("Cs",))))
def test_nbytes_is_the_utf8_length_ascii_or_not(text):
    assert Document(id="x", source="cc", text=text).nbytes == len(text.encode("utf-8"))


def test_digest_ids_are_stable_and_prefixed():
    assert digest_id("github", "repo/a.py") == digest_id("github", "repo/a.py") != digest_id("github", "repo/b.py")
    assert digest_id("github", "repo/a.py").startswith("github/")
