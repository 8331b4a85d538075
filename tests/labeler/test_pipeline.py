"""Pure tests for every pipeline step; laziness and incrementality by counting calls."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest

from edgechat.labeler.labels import Label
from edgechat.labeler.pipeline import (
    HtmlParams,
    Labelled,
    Tally,
    compose,
    confident,
    count,
    font_size,
    group_by,
    render_html,
    tag_cloud,
    top,
    unseen,
)

TRUTH = {
    "cat.jpg": (Label("Cat", 95.0), Label("Animal", 95.0)),
    "dog.jpg": (Label("Dog", 90.0), Label("Animal", 92.0)),
    "cup.jpg": (Label("Cup", 80.0), Label("Cat", 30.0)),
}


def counting_labeller() -> tuple[Callable[[str], Labelled], list[str]]:
    calls: list[str] = []

    def get_labels(picture: str) -> Labelled:
        calls.append(picture)
        return Labelled(picture, TRUTH[picture])

    return get_labels, calls


def test_count_tallies_pictures_per_label() -> None:
    tally = count(Labelled(p, labels) for p, labels in TRUTH.items())
    assert dict(tally.counts()) == {"Cat": 2, "Animal": 2, "Dog": 1, "Cup": 1}
    assert dict(tally.counts(min_confidence=50)) == {"Cat": 1, "Animal": 2, "Dog": 1, "Cup": 1}
    assert tally.pictures_of("Animal") == ("cat.jpg", "dog.jpg")
    assert tally.pictures == {"cat.jpg", "dog.jpg", "cup.jpg"}


def test_count_counts_a_picture_once() -> None:
    item = Labelled("cat.jpg", TRUTH["cat.jpg"])
    assert dict(count([item, item]).counts()) == {"Cat": 1, "Animal": 1}


def test_count_of_nothing_is_empty() -> None:
    assert count([]) == Tally() and dict(Tally().counts()) == {}


def test_tallies_are_immutable_and_add_up() -> None:
    a = count([Labelled("cat.jpg", TRUTH["cat.jpg"])])
    b = count([Labelled("dog.jpg", TRUTH["dog.jpg"]), Labelled("cat.jpg", TRUTH["cat.jpg"])])
    both = a + b
    assert dict(both.counts()) == {"Cat": 1, "Animal": 2, "Dog": 1}
    assert dict(a.counts()) == {"Cat": 1, "Animal": 1}  # a is unchanged
    with pytest.raises(TypeError):
        a.occurrences["Cat"] = ()  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.pictures = frozenset()  # type: ignore[misc]
    assert Tally.from_json(both.to_json()) == both


def test_map_is_lazy_nothing_is_labelled_until_counted() -> None:
    get_labels, calls = counting_labeller()
    pending = map(get_labels, TRUTH)
    assert calls == []
    count(pending)
    assert calls == list(TRUTH)


def test_adding_pictures_labels_only_the_new_ones() -> None:
    get_labels, calls = counting_labeller()
    first = count(map(get_labels, ["cat.jpg", "dog.jpg"]))
    assert len(calls) == 2
    everything = ["cat.jpg", "dog.jpg", "cup.jpg"]
    second = first + count(map(get_labels, unseen(first, everything, key=str)))
    assert calls == ["cat.jpg", "dog.jpg", "cup.jpg"]  # one more labelling, not three
    assert second == count(Labelled(p, TRUTH[p]) for p in everything)  # same as recounting


def test_confident_drops_weak_labels() -> None:
    step = confident(50)
    assert step(Labelled("cup.jpg", TRUTH["cup.jpg"])).labels == (Label("Cup", 80.0),)


def test_group_by_keeps_first_seen_order() -> None:
    rooms = group_by(lambda m: m[0], [("lobby", 1), ("dev", 2), ("lobby", 3)])
    assert list(rooms) == ["lobby", "dev"] and rooms["lobby"] == (("lobby", 1), ("lobby", 3))


def test_top_breaks_ties_by_name() -> None:
    assert top(2, {"b": 2, "a": 2, "c": 5}) == (("c", 5), ("a", 2))
    assert top(0, {"a": 1}) == ()


def test_compose_runs_steps_in_reading_order() -> None:
    assert compose(lambda x: x + 1, lambda x: x * 10)(1) == 20


def test_font_size_grows_with_count_on_a_log_scale() -> None:
    params = HtmlParams(min_em=1.0, max_em=3.0)
    assert font_size(1, 100, params) == 1.0 and font_size(100, 100, params) == 3.0
    assert font_size(10, 100, params) == 2.0
    assert font_size(1, 1, params) == 3.0


def test_render_html_sizes_words_by_count_alphabetically() -> None:
    html = render_html(
        count(Labelled(p, labels) for p, labels in TRUTH.items()), HtmlParams(min_confidence=50)
    )
    tags = re.findall(r'data-label="([^"]*)" data-count="(\d+)"', html)
    assert tags == [("Animal", "2"), ("Cat", "1"), ("Cup", "1"), ("Dog", "1")]
    assert 'style="font-size:2.4em" data-label="Animal"' in html


def test_render_html_threshold_and_limit() -> None:
    tally = count(Labelled(p, labels) for p, labels in TRUTH.items())
    assert 'data-label="Cup"' not in render_html(tally, HtmlParams(min_confidence=85))
    assert render_html(tally, HtmlParams(max_tags=1)).count("<li") == 1
    assert render_html(Tally()) == '<ul class="tag-cloud" data-empty="true"></ul>'


def test_render_html_escapes_labels_and_picture_names() -> None:
    evil = "<img src=x onerror=alert(1)>\"'&"
    tally = count([Labelled(f"{evil}.jpg", (Label(evil, 99.0),))])
    html = render_html(tally)
    assert "<img" not in html and "onerror=alert(1)>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;&quot;&#x27;&amp;" in html
    # Only our own tags remain.
    assert re.findall(r"<(/?\w+)", html) == ["ul", "li", "/li", "/ul"]


def test_html_params_validate_and_round_trip() -> None:
    with pytest.raises(ValueError):
        HtmlParams(min_em=3, max_em=1)
    with pytest.raises(ValueError):
        HtmlParams.from_json({"maxTags": "all"})
    params = HtmlParams(min_confidence=70, max_tags=5)
    assert HtmlParams.from_json(params.to_json()) == params


def test_tag_cloud_is_the_expression() -> None:
    get_labels, calls = counting_labeller()
    params = HtmlParams()
    assert tag_cloud(get_labels, list(TRUTH), params) == render_html(count(map(get_labels, TRUTH)), params)
    assert len(calls) == 2 * len(TRUTH)
