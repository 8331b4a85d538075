"""The revision cursor (docs/sync.md): a room's edits and deletes are numbered by
the cloud (``revSeq``) and reach the site gap-free, like its messages, so a site
that missed an announcement (offline, or Sync killed) still learns of it."""

from edgechat.sync.core import InjectMessages, SaveCursors, SyncCore
from tests.sync.test_core import CFG, connected, sends
from tests.sync.test_revision_core import cloud_edit


def numbered(n: int, room: str = "lobby") -> dict:
    return {**cloud_edit(n, "cloud0001"), "room": room, "revSeq": n}


def page(ask: dict, revs: list[dict], more: bool = False) -> dict:
    return {"type": "revisionPage", "requestId": ask["requestId"], "room": ask["room"], "revisions": revs,
            "hasMore": more}  # fmt: skip


def stored(core: SyncCore, inject: InjectMessages, now: int = 50) -> list:
    return core.on_router({"type": "stored", "requestId": inject.request_id}, now)


def test_the_next_numbered_revision_is_injected_and_moves_the_revision_cursor_once_stored():
    core = connected({"lobby": 4})
    assert core.on_cloud(numbered(1), 10) == []
    (inject,) = core.flush(10)
    assert inject.messages == [] and [r["revSeq"] for r in inject.revisions] == [1]
    assert not core.caught_up()
    assert stored(core, inject) == [SaveCursors({}, {"lobby": 1})]  # the message cursor is not touched
    assert core.rooms["lobby"].cursor == 4 and core.caught_up()
    assert core.on_cloud(numbered(1), 60) == [] and core.flush(60) == []  # a duplicate: old news


def test_a_gap_fetches_the_missed_revisions_and_live_ones_meanwhile_are_left_to_the_fetch():
    core = connected()
    (ask,) = sends(core.on_cloud(numbered(3), 10), "revisions")
    assert (ask["room"], ask["after"]) == ("lobby", 0)
    assert core.on_cloud(numbered(4), 11) == [] and core.on_cloud(numbered(2), 12) == []  # out of order
    effects = core.on_cloud(page(ask, [numbered(2), numbered(1), numbered(3)]), 20)
    injects = [e for e in effects if isinstance(e, InjectMessages)]
    assert [r["revSeq"] for i in injects for r in i.revisions] == [1, 2, 3]  # in revSeq order
    (again,) = sends(effects, "revisions")  # 4 was seen meanwhile: asked again after 3
    assert again["after"] == 3
    more = core.on_cloud(page(again, [numbered(4)]), 30)
    assert not sends(more, "revisions")
    out = [e for i in [*injects, *more] if isinstance(i, InjectMessages) for e in stored(core, i)]
    assert out[-1] == SaveCursors({}, {"lobby": 4}) and core.caught_up()


def test_a_failed_store_rewinds_to_the_cursor_and_fetches_again():
    core = connected()
    core.on_cloud(numbered(1), 10)
    (first,) = core.flush(10)
    stored(core, first)
    core.on_cloud(numbered(2), 20)
    (second,) = core.flush(20)
    failed = {"type": "storeFailed", "requestId": second.request_id, "error": "disk"}
    (ask,) = sends(core.on_router(failed, 30), "revisions")
    assert ask["after"] == 1  # not lost: the cursor had not passed it
    (inject,) = core.on_cloud(page(ask, [numbered(2)]), 40)
    assert stored(core, inject) == [SaveCursors({}, {"lobby": 2})]


def test_an_unanswered_fetch_is_asked_again_and_a_page_with_more_goes_on():
    core = connected()
    (ask,) = sends(core.on_cloud(numbered(5), 10), "revisions")
    (retry,) = sends(core.tick(10 + CFG.backfill_timeout_ms), "revisions")
    assert retry["after"] == 0 and retry["requestId"] != ask["requestId"]
    effects = core.on_cloud(page(retry, [numbered(1), numbered(2)], more=True), 20_100)
    (nxt,) = sends(effects, "revisions")
    assert nxt["after"] == 2


def test_rooms_state_finds_revisions_missed_while_away_and_a_restart_keeps_the_cursor():
    core = connected({"lobby": 7})
    state = {"type": "roomsState", "requestId": core._rooms_request,
             "rooms": [{"room": "lobby", "lastSeq": 7, "lastRevSeq": 3}]}  # fmt: skip
    effects = core.on_cloud(state, 10)
    assert sends(effects, "backfill") == []  # messages are up to date
    (ask,) = sends(effects, "revisions")
    assert ask["after"] == 0 and not core.caught_up()
    # restarted with its cursors stored: nothing to fetch
    again = SyncCore(CFG, {"lobby": 7}, "u", {"lobby": 3})
    again.on_connected(0)
    assert again.on_cloud({**state, "requestId": again._rooms_request}, 10) == [] and again.caught_up()
