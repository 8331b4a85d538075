"""Pictures in the browser app against the real stack: a picture posted on one
page shows as a thumbnail on another, and the offline Labeler's labels appear in
the room's tag cloud (issue 7)."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from skimage import data as samples
from tests.web.conftest import room_name

from edgechat.labeler.wiring import extra_installed

pytestmark = pytest.mark.skipif(not extra_installed(), reason="the labeler extra is not installed")

# A user-chosen file name: shown as text, never as markup.
HOSTILE_NAME = '<img src=x onerror="alert(1)">.jpg'


def chelsea() -> bytes:
    out = io.BytesIO()
    Image.fromarray(samples.chelsea()).save(out, "JPEG", quality=90)
    return out.getvalue()


def test_a_posted_picture_is_a_thumbnail_elsewhere_and_its_labels_fill_the_tag_cloud(open_tab, capsys):
    room = room_name("pics")
    ann = open_tab("Ann", room)
    bob = open_tab("Bob", room)
    assert bob.page.locator("#tags li").count() == 0 and bob.page.is_visible("#tagcloud .hint")

    ann.page.set_input_files("#picture-input", files=[{"name": HOSTILE_NAME, "mimeType": "image/jpeg",
                                                        "buffer": chelsea()}])  # fmt: skip
    staged = ann.page.locator("#staged-pictures li .name")
    staged.wait_for()
    assert staged.text_content() == HOSTILE_NAME
    sent = time.monotonic()
    ann.page.click("#send")

    # Bob sees the thumbnail (loaded: the Web service served it) ...
    thumb = bob.page.locator("#messages li .pictures img[data-sha]")
    thumb.wait_for()
    bob.page.wait_for_function("() => document.querySelector('#messages .pictures img').naturalWidth === 320")
    sha = thumb.get_attribute("data-sha")
    assert thumb.get_attribute("src") == f"/pictures/{sha}/thumb"
    shown = time.monotonic()
    # ... and, once the Labeler has looked, Cat in the room's tag cloud.
    bob.page.wait_for_selector('#tags button[data-tag="Cat"]', timeout=60_000)
    labelled = time.monotonic()
    assert thumb.get_attribute("alt").startswith("Picture: ")  # the labels event named it
    tags = bob.page.locator("#tags button").all_text_contents()
    assert {"Cat", "Animal"} <= set(tags)

    # A tag lists its pictures; a thumbnail opens the whole picture.
    bob.page.click('#tags button[data-tag="Cat"]')
    listed = bob.page.locator("#tagged-pictures img")
    assert listed.count() == 1 and listed.get_attribute("data-sha") == sha
    listed.click()
    bob.page.wait_for_function(
        "() => document.querySelector('#picture-viewer').open"
        " && document.querySelector('#picture-viewer img').naturalWidth === 451"
    )
    assert "Cat" in bob.page.locator("#picture-viewer .labels").text_content()
    bob.page.click("#picture-viewer button")
    bob.screenshot("pictures-tagcloud")
    # A stricter threshold keeps only the confident labels.
    bob.page.fill("#tag-threshold", "95")
    strict = set(bob.page.locator("#tags button").all_text_contents())
    assert strict < set(tags)
    # The whole site's cloud (every room's pictures) has the cat too.
    bob.page.click('#tagcloud button[data-scope="site"]')
    bob.page.wait_for_selector('#tags button[data-tag="Animal"]')
    assert bob.page.get_attribute('#tagcloud button[data-scope="site"]', "aria-pressed") == "true"

    # Someone opening the room later gets the thumbnail from history and the cloud at once.
    cy = open_tab("Cy", room)
    cy.page.locator(f'#messages img[data-sha="{sha}"]').wait_for()
    cy.page.wait_for_selector('#tags button[data-tag="Cat"]', timeout=10_000)
    with capsys.disabled():
        print(f"\npicture: thumbnail on the other page {shown - sent:.2f} s after Send, in the tag "
              f"cloud {labelled - sent:.2f} s after Send (models loaded on first use)")  # fmt: skip


def test_a_photo_over_the_pixel_cap_is_scaled_down_in_the_page_and_sent(open_tab, edge):
    """A phone's 30+ megapixel photo: the core refuses it (24 MP), the page makes
    a 12 MP JPEG of it and sends that instead, with no error for the person."""
    import urllib.request

    import numpy as np

    room = room_name("bigpic")
    ann = open_tab("Ann", room)
    ramp = np.linspace(0, 255, 6400, dtype=np.uint8)
    big = io.BytesIO()
    Image.fromarray(np.dstack([np.tile(ramp, (4800, 1))] * 3)).save(big, "JPEG", quality=80)  # 30.7 MP
    ann.page.set_input_files("#picture-input", files=[{"name": "phone.jpg", "mimeType": "image/jpeg",
                                                        "buffer": big.getvalue()}])  # fmt: skip
    ann.page.locator("#staged-pictures li .name").wait_for()
    assert ann.page.is_hidden("#picture-status")
    ann.page.click("#send")
    sha = ann.page.locator("#messages img[data-sha]").get_attribute("data-sha")
    url = f"http://127.0.0.1:{edge.http_port}/pictures/{sha}"
    with urllib.request.urlopen(url, timeout=10) as got, Image.open(io.BytesIO(got.read())) as stored:
        width, height = stored.size
    assert 11_000_000 < width * height <= 12_000_000 and abs(width / height - 4 / 3) < 0.01
