"""Classic XSS payloads in every user-controlled field the app shows today
(message text, nick — a LAN device's name is its nick — and room names): all
render literally, nothing runs, no node is injected, the CSP is never tripped.
The second test carries them into every field added since: picture file
names, labels and tag clouds, device readings, typing, read marks, reactions,
edits, replies, announcements, notices, messages from another site, the console."""

from __future__ import annotations

import io
import time
import uuid

from PIL import Image
from tests.support.edge import system_client
from tests.web.conftest import room_name
from tests.web.test_moderation_browser import sign_in_as_moderator

from edgechat.core import names
from edgechat.core.clock import Hlc, order_key
from edgechat.core.errors import ClientError
from edgechat.labeler.wiring import extra_installed

MAX_PICTURES = 4  # per message (web/src/pictures.js)

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "<body onload=alert(1)>",
    "<iframe src=javascript:alert(1)>",
    "<iframe srcdoc='<script>alert(1)</script>'>",
    "<a href=javascript:alert(1)>x</a>",
    "<a href='javascript:alert(1)'>click</a>",
    "javascript:alert(1)",
    "<input onfocus=alert(1) autofocus>",
    "<select onfocus=alert(1) autofocus>",
    "<textarea onfocus=alert(1) autofocus>",
    "<keygen onfocus=alert(1) autofocus>",
    "<video><source onerror=alert(1)>",
    "<audio src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<marquee onstart=alert(1)>",
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<math><mtext><img src=x onerror=alert(1)>",
    "<style>@import 'javascript:alert(1)'</style>",
    "<link rel=stylesheet href=javascript:alert(1)>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<isindex action=javascript:alert(1) type=image>",
    '<div style="background:url(javascript:alert(1))">',
    "<div onmouseover=alert(1)>hover</div>",
    '<img src="x" onerror="alert(String.fromCharCode(88,83,83))">',
    "<IMG SRC=JaVaScRiPt:alert(1)>",
    "<IMG SRC=`javascript:alert(1)`>",
    "<img src=x:alert(alt) onerror=eval(src) alt=1>",
    '"><script>alert(1)</script>',
    "'><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>alert(1);//<</script>",
    "<script src=//example.invalid/x.js></script>",
    "<script>document.body.innerHTML=1</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "{{constructor.constructor('alert(1)')()}}",
    "${alert(1)}",
    "<template><script>alert(1)</script></template>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<svg><a xlink:href=javascript:alert(1)><text y=20>x</text></a></svg>",
    "<base href=javascript:alert(1)//>",
    "<img srcset=x onerror=alert(1)>",
    "<picture><source srcset=x><img onerror=alert(1)></picture>",
    "<x contenteditable onblur=alert(1)>lose focus</x>",
    "<b>bold</b><i>italic</i><u>underline</u>",
]

MARKUP = (
    "script, img, svg, iframe, object, embed, video, audio, source, picture, details, marquee, math, "
    "style, link, meta, form, input, select, textarea, keygen, base, template, noscript, b, i, u, x, "
    "isindex, a[href^='javascript']"
)


def test_fifty_classic_payloads_render_as_text_and_run_nothing(open_tab, paho):
    assert len(PAYLOADS) >= 50
    room = room_name("xss50")
    victim = open_tab("Victim", room)
    device = paho("sensor", room)
    sent = []
    for i, payload in enumerate(PAYLOADS):
        nick = names.nick(payload[:32])  # a device's name is its nick: payloads there too
        device.request({"type": "hello", "nick": nick}, "welcome", 30)
        mid = f"xss50-{i:03d}-{uuid.uuid4().hex[:8]}"
        device.send({"type": "message", "id": mid, "room": room, "text": payload})
        sent.append((nick, payload))
    victim.wait_texts(*PAYLOADS)
    shown = victim.messages()
    assert [(m["nick"], m["text"]) for m in shown] == sent  # literally, in order
    page = victim.page
    assert page.locator(f":is(#messages, #members) :is({MARKUP})").count() == 0
    members = page.locator("#members li").all_text_contents()
    assert any(sent[-1][0] in m for m in members)  # the device's latest name, as text

    # Room names: refused by the server's rules, and shown literally when refused.
    own = page.locator(f"body :is({MARKUP})").count()  # the app's own form, inputs, script...
    for payload in PAYLOADS:
        page.evaluate("p => { location.hash = '#/room/' + encodeURIComponent(p) }", payload)
        page.wait_for_function(
            "p => document.getElementById('room-error').textContent.includes(p)", arg=payload
        )
    assert page.locator(f"body :is({MARKUP})").count() == own
    assert page.evaluate("typeof window.__pwned") == "undefined"
    victim.screenshot("xss-50-payloads")


# Every element a page may legitimately hold in the regions below; anything else
# matching MARKUP, any on* attribute, or a new <script> is an injection.
OFFENDERS = """([regions, markup, scripts]) => {
  const picture = /^\\/pictures\\/[0-9a-f]{64}(\\/thumb)?$/;
  const legit = (e) => (e.matches("img") && picture.test(e.getAttribute("src")))
    || (e.matches("svg") && e.closest("#readings")) || e.matches("input[data-announce]");
  const bad = [...document.querySelectorAll(`:is(${regions}) :is(${markup})`)].filter((e) => !legit(e));
  const handlers = [...document.querySelectorAll("*")]
    .filter((e) => [...e.attributes].some((a) => a.name.toLowerCase().startsWith("on")));
  const extra = document.scripts.length - scripts;
  const found = [...bad, ...handlers].map((e) => e.outerHTML.slice(0, 120));
  return extra ? [...found, `${extra} new scripts`] : found;
}"""
REGIONS = (
    "#messages, #members, #readings, #typing, #tags, #tagged-pictures, #staged-pictures, #picture-status, "
    "#notices, #pinned, #console, #sync-state, #picture-viewer"
)


def _png(i: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (i * 7 % 256, 40, 200)).save(out, "PNG")
    return out.getvalue()


def _nick(payload: str) -> str:
    try:
        return names.nick(payload[:32])
    except ClientError:
        return "remote"


def test_payloads_in_every_newer_field_render_as_text_and_run_nothing(open_tab, paho, edge):
    """File names, labels and tag clouds, readings, typing, reactions, edits,
    replies, announcements, notices, messages from another site and the
    operator's console: each carries all the payloads, one page shows them."""
    room = room_name("xssall")
    victim = open_tab("Victim", room)
    page = victim.page
    sign_in_as_moderator(victim, edge)  # the console is a moderator's
    me = victim.client_id()
    page.wait_for_selector(f'#members li[data-client-id="{me}"]', state="attached")
    scripts = page.evaluate("document.scripts.length")
    logged: list[str] = []  # console errors (a refused upload's 415 is the network's, not a script's)
    page.on(
        "console",
        lambda m: m.type == "error" and "Failed to load resource" not in m.text and logged.append(m.text),
    )
    chunks = [" ".join(PAYLOADS[i : i + 11]) for i in range(0, len(PAYLOADS), 11)]
    system = system_client(edge, "xss-system")
    system.subscribe("edgechat/sync/stored", f"chat/pub/{room}")
    try:
        # Picture file names, five payloads to a name (uploads are limited per session).
        file_names = [" ".join(PAYLOADS[i : i + 5]) for i in range(0, len(PAYLOADS), 5)]
        batches = [file_names[i : i + MAX_PICTURES] for i in range(0, len(file_names), MAX_PICTURES)]
        for b, batch in enumerate(batches):
            files = [
                {"name": n, "mimeType": "image/png", "buffer": _png(b * 10 + k)} for k, n in enumerate(batch)
            ]
            page.set_input_files("#picture-input", files=files)
            page.wait_for_function(
                "n => document.querySelectorAll('#staged-pictures li .name').length === n"
                " && !document.querySelector('#staged-pictures .uploading')", arg=len(batch),
            )  # fmt: skip
            assert page.locator("#staged-pictures li .name").all_text_contents() == batch
            assert page.locator("#staged-pictures img").evaluate_all("i => i.map(x => x.alt)") == batch
            if b < len(batches) - 1:
                while page.locator("#staged-pictures li button").count():
                    page.locator("#staged-pictures li button").first.click()
        victim.send("pictures with hostile names")
        if extra_installed():  # the Labeler's own labels and clouds come first, or they would replace ours
            system.wait_for(
                lambda t, b: b.get("type") == "tagcloud" and b.get("pictures") == len(batches[-1]), 90
            )
        thumb = page.locator("#messages li .pictures img[data-sha]").first
        thumb.wait_for()
        sha = thumb.get_attribute("data-sha")
        refused = PAYLOADS[1]  # not a picture: its name comes back in the error line
        page.set_input_files(
            "#picture-input", files=[{"name": refused, "mimeType": "image/png", "buffer": b"<p>"}]
        )
        page.wait_for_function(
            "p => document.getElementById('picture-status').textContent.startsWith(p)", arg=refused
        )

        # A LAN device with a hostile name: messages it edits to the payloads, each replying to the last.
        device = paho("sensor", room)
        nick = _nick("<img src=x onerror=alert(1)>")
        device.request({"type": "hello", "nick": nick}, "welcome", 30)
        ids = [f"xssdev-{i:03d}-{uuid.uuid4().hex[:8]}" for i in range(len(PAYLOADS))]
        for i, mid in enumerate(ids):
            device.send({"type": "message", "id": mid, "room": room, "text": f"draft {i}"}
                        | ({"replyTo": ids[i - 1]} if i else {}))  # fmt: skip
        device.wait_for(lambda t, b: b.get("type") == "ack" and b.get("id") in ids, 60, len(ids))
        for mid, payload in zip(ids, PAYLOADS, strict=True):
            device.send({"type": "edit", "id": "e" + mid[1:], "target": mid, "room": room, "text": payload})
        device.wait_for(lambda t, b: b.get("type") == "ack" and b.get("target") in ids, 60, len(ids))
        stream = f"chat/stream/{device.client_id}"
        device.send(
            {"type": "reading", "room": room, "sensor": "temp", "value": 1, "unit": "<b>°C</b>"}, stream
        )

        # Messages from another site, as Sync hands them to the Router.
        now = int(time.time() * 1000)
        remote_ids = [f"xssremote{i:03d}{uuid.uuid4().hex[:8]}" for i in range(len(PAYLOADS))]
        remote = [
            {"type": "message", "id": rid, "room": room, "text": p, "clientId": f"far-{i}", "nick": _nick(p),
             "site": "site-x", "ts": now, "orderKey": order_key(Hlc(now, i), "site-x", rid)}
            | ({"replyTo": remote_ids[i - 1]} if i else {})
            for i, (rid, p) in enumerate(zip(remote_ids, PAYLOADS, strict=True))
        ]  # fmt: skip
        system.send({"type": "inject", "requestId": "xss1", "messages": remote}, "edgechat/sync/in")
        ((_, stored),) = system.wait_for(lambda t, b: b.get("requestId") == "xss1", 30)
        assert stored["type"] == "stored" and not stored["rejected"], stored
        # What the Labeler, the Stream and the Router's control channel would publish.
        pub, inbox = f"chat/pub/{room}", f"chat/in/{me}"
        tags = [
            {"label": p, "count": 1, "pictures": [{"picture": sha, "confidence": 90.0}]} for p in PAYLOADS
        ]
        mine = [[p, i] for i, p in enumerate(PAYLOADS)]
        events = [
            (pub, {"type": "tagcloud", "scope": "room", "room": room, "minConfidence": 50, "pictures": 1,
                   "tags": tags}),
            ("chat/pub/_site", {"type": "tagcloud", "scope": "site", "minConfidence": 50, "pictures": 1,
                                "tags": tags[::-1]}),
            (pub, {"type": "activity", "room": room, "ts": now,
                   "reactions": [{"messageId": ids[0], "counts": {p: 1 for p in PAYLOADS}}],
                   "readings": [{"clientId": f"dev-{i}", "sensor": p, "unit": p, "count": 1, "latest": i,
                                 "min": i, "max": i, "avg": i, "ts": now} for p, i in mine]}),
            *[(inbox, {"type": "notice", "text": chunk, "ts": now}) for chunk in chunks],
        ]  # fmt: skip
        for topic, event in events:
            system.send(event, topic)

        victim.wait_texts(*PAYLOADS)
        page.wait_for_function(
            "n => document.querySelectorAll('#messages > li .text').length >= n", arg=2 * len(PAYLOADS) + 1
        )
        shown = victim.messages()
        by_id = {m["id"]: m for m in shown}
        assert [by_id[i]["text"] for i in ids] == PAYLOADS  # edited, literally
        assert [(by_id[r["id"]]["nick"], by_id[r["id"]]["text"]) for r in remote] == [
            (r["nick"], r["text"]) for r in remote
        ]
        refs = page.eval_on_selector_all(
            "#messages > li", "ls => Object.fromEntries(ls.map(l => [l.dataset.id, "
            "l.querySelector('.reply-ref')?.textContent]))"
        )  # fmt: skip
        for i in range(1, len(PAYLOADS)):
            excerpt = " ".join(PAYLOADS[i - 1].split())[:80]
            assert refs[ids[i]].startswith(f"↪ {nick}: ") and excerpt in refs[ids[i]]
            assert refs[remote_ids[i]] == f"↪ {remote[i - 1]['nick']}: {excerpt}" + (
                "…" if len(PAYLOADS[i - 1]) > 80 else ""
            )
        device.send({"type": "typing", "room": room}, stream)  # now: a typist shows for 6 s
        device.send({"type": "read", "room": room, "seq": 10**6}, stream)  # "Seen by" the device
        page.wait_for_function(
            "t => [...document.querySelectorAll('#messages > li > .seen')].some(p => p.textContent === t)",
            arg=f"Seen by {nick}",
        )
        page.wait_for_function(
            "n => document.getElementById('typing').textContent === n + ' is typing…'", arg=nick
        )
        page.wait_for_function(
            "n => document.querySelectorAll('#tags button').length === n", arg=len(PAYLOADS)
        )
        assert sorted(page.locator("#tags button").all_text_contents()) == sorted(PAYLOADS)
        # Labels, once the room has settled (a page re-rendered from history takes the stored ones).
        ranked = [(p, 90.0 - i) for i, p in enumerate(PAYLOADS)]  # stored most confident first
        stored_labels = [{"name": p, "confidence": c} for p, c in ranked[:20]]
        system.send({"picture": sha, "labels": stored_labels}, "edgechat/labels")
        labels = [{"Name": p, "Confidence": c} for p, c in ranked]
        system.send(
            {"type": "labels", "room": room, "messageId": ids[0], "picture": sha, "labels": labels}, pub
        )
        page.wait_for_function(
            "([sha, alt]) => document.querySelector(`#messages img[data-sha='${sha}']`)?.alt === alt",
            arg=[sha, "Picture: " + ", ".join(PAYLOADS[:5])],
        )
        page.evaluate(
            "p => [...document.querySelectorAll('#tags button')].find(b => b.dataset.tag === p).click()",
            PAYLOADS[0],
        )
        assert page.locator("#tagged-pictures h3").text_content() == PAYLOADS[0]
        page.click('#tagcloud button[data-scope="site"]')
        assert sorted(
            page.locator("#tags button").evaluate_all("bs => bs.map(b => b.dataset.tag)")
        ) == sorted(PAYLOADS)
        cards = page.locator("#readings figure").evaluate_all(
            "fs => fs.map(f => [f.dataset.sensor, f.querySelector('.who').textContent,"
            " f.querySelector('.latest').textContent])"
        )
        for p, i in mine:
            assert [p, f"Someone · {p}", f"{i} {p}"] in cards
        page.wait_for_function(
            "() => document.querySelector('#readings').textContent.includes('1 <b>°C</b>')"
        )
        for chunk in chunks:  # an announcement is at most 1000 characters
            system.send({"type": "announcement", "room": room, "text": chunk, "ts": now, "nick": chunk}, pub)
            page.wait_for_function(
                "t => document.querySelector('#pinned .pinned-text')?.textContent === t", arg=chunk
            )
            assert page.evaluate(OFFENDERS, [REGIONS, MARKUP, scripts]) == []
        page.wait_for_function(
            "p => document.getElementById('notices').textContent.includes(p)", arg=" ".join(PAYLOADS[-11:])
        )

        # The operator's console: real lists (the device's name, the pinned
        # text), then lists as hostile as the strings in them can be.
        page.click("#console-open")
        page.wait_for_function(
            "n => document.getElementById('console-rooms').textContent.includes(n)", arg=nick
        )
        page.click("#console-close")  # no refresh replaces what comes next
        rooms = [
            {
                "room": p,
                "members": [{"clientId": f"c{i}", "nick": p}],
                "locked": i % 2 == 0,
                "pinned": {"text": p},
                "muted": [{"clientId": f"c{i}", "untilTs": now}],
            }
            for p, i in mine
        ]
        bans = [{"address": p, "clientId": f"c{i}", "untilTs": now, "reason": p} for p, i in mine]
        audit = [{"ts": now, "actor": p, "action": p, "target": p, "room": p} for p in PAYLOADS]
        system.send({"type": "console", "present": rooms, "sessions": 1, "counters": {}, "rates": {},
                     "stored": {"messages": 1, "rooms": []}, "disk": {}, "bans": bans, "sync": None,
                     "serverTime": now}, inbox)  # fmt: skip
        system.send({"type": "audit", "entries": audit}, inbox)
        page.wait_for_function(
            "n => document.querySelectorAll('#console-audit li').length === n"
            " && document.querySelectorAll('#console-bans li').length === n", arg=len(PAYLOADS),
        )  # fmt: skip
        console = page.locator("#console").text_content()
        assert all(console.count(p) >= 3 for p in PAYLOADS)  # room, nick, pinned, ban, audit
    finally:
        system.close()

    assert page.evaluate(OFFENDERS, [REGIONS, MARKUP, scripts]) == []
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert logged == []
    victim.screenshot("xss-every-field")
