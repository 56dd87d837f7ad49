"""PII masking rules: each type masked, and the hard negatives that only look like PII left alone."""
import pytest

from filters.github import license_header_end
from filters.pii import EMAIL, IP, PHONE, PLACEHOLDERS, PiiMasker

MASK = PiiMasker()


@pytest.mark.parametrize("text, masked, kind", [
    ("Send bug reports to docs@python.org.", "Send bug reports to |||EMAIL_ADDRESS|||.", EMAIL),
    ("author_email='gward@python.net',", "author_email='|||EMAIL_ADDRESS|||',", EMAIL),
    ("<first.last+tag@mail.example.co.uk>", "<|||EMAIL_ADDRESS|||>", EMAIL),
    ("Write to a@b.org: we answer.", "Write to |||EMAIL_ADDRESS|||: we answer.", EMAIL),
    ("server at 192.168.1.1.", "server at |||IP_ADDRESS|||.", IP),
    ("listen 0.0.0.0:8080", "listen |||IP_ADDRESS|||:8080", IP),
    ("zlib 1.2.3.4 fixed it", "zlib |||IP_ADDRESS||| fixed it", IP),  # a four-part version: masked (README)
    ("root 2001:503:ba3e::2:30 here", "root |||IP_ADDRESS||| here", IP),
    ("call (801) 596-1887 now", "call |||PHONE_NUMBER||| now", PHONE),
    ("tel. 801-596-1887", "tel. |||PHONE_NUMBER|||", PHONE),
    ("tel 801.596.1887", "tel |||PHONE_NUMBER|||", PHONE),
    ("+1 801 596 1887", "|||PHONE_NUMBER|||", PHONE),
    ("London +44 20 7946 0958.", "London |||PHONE_NUMBER|||.", PHONE),
])
def test_each_type_is_masked_with_its_placeholder(text, masked, kind):
    result = MASK.mask(text)
    assert result.text == masked and result.counts == {kind: 1}


@pytest.mark.parametrize("text", [
    "Python 3.10.2 was released",  # three-part version
    "1.2.3.4.5", "v1.2.3.4", "256.1.1.1", "01.2.3.4", "10.0.0",  # not four parts each 0-255
    "on 2023-10-05, 05.10.2023 and 10/05/2023",  # dates
    "pi is 3.14159265358979 and e 2.718281828",  # decimals
    "$ 1,234,567.89 and 12345.6789",
    "user@host:~$ ls -la",  # shell prompts in code blocks
    "pi@raspberrypi.local:~ $ sudo reboot",
    "root@web01.example.com:/var/www# make",
    "git clone git@github.com:org/repo.git",  # an scp-style path, not mail
    "@decorator and x @ y and @scope/package",
    "ISBN 978-3-16-148410-0, EIN 64-6221541, SSN-like 123-45-6789, zip 84116-1234",
    "123-456-7890 and 8015961887",  # an area code cannot start with 1; ten bare digits are an id
    "a[1::2] and b[::3], at 12:30:45, mac 00:1a:2b:3c:4d:5e, std::vector",
    "2 + 3 = 5 and +1 2 3",
])
def test_hard_negatives_are_left_alone(text):
    result = MASK.mask(text)
    assert result.text == text and result.counts == {}


def test_each_type_can_be_switched_off():
    text = "mail a@b.org from 10.0.0.1 or call 801-596-1887"
    assert PiiMasker(emails=False).mask(text).counts == {IP: 1, PHONE: 1}
    assert PiiMasker(ip_addresses=False, phone_numbers=False).mask(text).text == (
        f"mail {PLACEHOLDERS[EMAIL]} from 10.0.0.1 or call 801-596-1887")
    assert PiiMasker(emails=False, ip_addresses=False, phone_numbers=False).mask(text).text == text


def test_every_match_is_replaced_and_counted():
    result = MASK.mask("a@b.org, c@d.org; 10.0.0.1 and 10.0.0.2")
    assert result.text == "|||EMAIL_ADDRESS|||, |||EMAIL_ADDRESS|||; |||IP_ADDRESS||| and |||IP_ADDRESS|||"
    assert result.counts == {EMAIL: 2, IP: 2}


HEADER_C = """/*
 * Copyright (c) 2020 Jane Doe <jane@example.org>
 * Licensed under the MIT License.
 */

// Contact bugs@example.org for help.
int main(void) { return 0; }
"""

HEADER_PY = '''#!/usr/bin/env python
"""
requests.auth
~~~~~~~~~~~~~
:copyright: (c) 2012 by Kenneth Reitz <me@kennethreitz.org>.
:license: Apache 2.0, see LICENSE for more details.
"""
AUTHOR = "me@kennethreitz.org"
'''


def test_code_keeps_its_licence_header_addresses_unless_asked():
    result = MASK.mask(HEADER_C, code=True, path="src/main.c")
    assert "<jane@example.org>" in result.text and "Contact |||EMAIL_ADDRESS||| for help" in result.text
    assert result.counts == {EMAIL: 1} and result.kept_in_header == {EMAIL: 1}
    asked = PiiMasker(mask_license_headers=True).mask(HEADER_C, code=True, path="src/main.c")
    assert asked.counts == {EMAIL: 2} and asked.kept_in_header == {}
    # not code: the same text is masked throughout
    assert MASK.mask(HEADER_C).counts == {EMAIL: 2}


def test_a_python_module_docstring_is_a_licence_header():
    result = MASK.mask(HEADER_PY, code=True, path="requests/auth.py")
    assert "Kenneth Reitz <me@kennethreitz.org>" in result.text
    assert 'AUTHOR = "|||EMAIL_ADDRESS|||"' in result.text


def test_licence_header_end():
    assert HEADER_C[:license_header_end(HEADER_C, "main.c")].endswith(" */\n")
    assert license_header_end("// just a note\nint x;\n", "a.c") == 0  # no licence words: no header
    assert license_header_end("int x; // Copyright 2020\n", "a.c") == 0  # code first: no header
