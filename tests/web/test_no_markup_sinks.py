"""The app has no place that turns a string into markup or code, so no user
data can reach one (docs/security.md: text is data).  A guard against a
future edit; the browser tests show the same from the outside."""

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "web" / "src"
SINKS = re.compile(
    r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function\s*\("
    r"|set(Timeout|Interval)\s*\(\s*[`'\"]|createContextualFragment|DOMParser|srcdoc"
)


def code_lines(path: Path) -> list[tuple[int, str]]:
    return [
        (n, line)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if not line.lstrip().startswith("//")
    ]


def test_no_string_to_markup_or_code_sinks_in_the_app():
    sources = sorted(SRC.glob("*.js"))
    assert sources, "web/src has no sources"
    found = [
        f"{p.name}:{n}: {line.strip()}" for p in sources for n, line in code_lines(p) if SINKS.search(line)
    ]
    assert found == []


def test_attribute_names_set_from_data_are_literal():
    # el(tag, {attrs}) sets attributes by name: every call site names them literally,
    # so a value can never become an event handler (on...) attribute.
    for path in sorted(SRC.glob("*.js")):
        for n, line in code_lines(path):
            assert (
                not re.search(r"setAttribute\(\s*[a-zA-Z_$]", line)
                or "node.setAttribute(name, value)" in line
            ), f"{path.name}:{n}: attribute name from a variable"
            assert not re.search(r"""attrs:\s*\{[^}]*['"]on[a-z]+['"]\s*:""", line), f"{path.name}:{n}"
