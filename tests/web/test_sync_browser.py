"""The sync indicator in the browser, driven by a real Sync component whose
cloud is unreachable (docs/sync.md): the page says how many messages wait."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.edge import Edge, free_port, running_edge
from tests.web.conftest import FAST, room_name

from edgechat.cloud.local import certs
from edgechat.cloud.local.up import issue_core_certificate

# How many messages the indicator says wait (0 when it names none).
WAITING = (
    "Number((/(\\d+) messages? waiting/"
    ".exec(document.getElementById('sync-state').textContent) || [0, 0])[1])"
)


@pytest.fixture(scope="module")
def edge(tmp_path_factory) -> Iterator[Edge]:
    root = tmp_path_factory.mktemp("web-sync")
    ca = certs.ensure_ca(root / "ca")
    cert = issue_core_certificate(root / "ca", "site-w")
    settings = {
        **FAST, "site_id": "site-w", "sync_url": f"mqtts://127.0.0.1:{free_port()}",  # nobody listens
        "sync_cert_file": str(cert.cert), "sync_key_file": str(cert.key), "sync_ca_file": str(ca.cert),
    }  # fmt: skip
    with running_edge(root / "data", settings) as e:
        yield e


def test_the_page_shows_how_many_messages_wait_for_the_cloud(open_tab):
    ann = open_tab("Ann", room_name("sync"))
    ann.page.wait_for_selector('#sync-state[data-status="offline"]')
    before = int(ann.page.evaluate(WAITING))
    ann.send("one")
    ann.send("two")
    ann.wait_texts("one", "two", state="sent")
    ann.page.wait_for_function(f"() => ({WAITING}) === {before + 2}")
    assert ann.page.text_content("#sync-state") == f"Cloud offline: {before + 2} messages waiting to sync"
    assert ann.page.get_attribute("#sync-state", "role") == "status" and not ann.errors
