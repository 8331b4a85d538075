"""The control-character check in names equals its definition by Unicode category."""

import unicodedata

import pytest

from edgechat.core import names

BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _by_category(c: str, allowed: str) -> bool:
    return (unicodedata.category(c) in ("Cc", "Cs", "Co") and c not in allowed) or c in BIDI


# Everything up to U+3000, both sides of every range edge, and a stride beyond.
EDGES = (0xD800, 0xDFFF, 0xE000, 0xF8FF, 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD, 0x10FFFF)
NEAR_EDGES = {e + d for e in EDGES for d in (-1, 0, 1) if e + d < 0x110000}
CODE_POINTS = sorted({*range(0x3000), *NEAR_EDGES, *range(0x3000, 0x110000, 61)})


@pytest.mark.parametrize("allowed", ["", "\n\t"])
def test_code_points_are_judged_as_by_their_category(allowed):
    wrong = [
        hex(cp) for cp in CODE_POINTS
        if names._has_control(chr(cp), allowed) != _by_category(chr(cp), allowed)
    ]  # fmt: skip
    assert wrong == []


def test_text_keeps_newlines_tabs_and_emoji_and_refuses_controls():
    assert names.text("a\n\tb \u00ad 👩\u200d💻", 100) == "a\n\tb \u00ad 👩\u200d💻"
    for bad in ("a\x00", "a\x7f", "\u202eevil", "a\ue000", "a\U0010fffd"):
        with pytest.raises(names.ClientError):
            names.text(bad, 100)
