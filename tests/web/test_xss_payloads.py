"""Classic XSS payloads in every user-controlled field the app shows today
(message text, nick — a LAN device's name is its nick — and room names): all
render literally, nothing runs, no node is injected, the CSP is never tripped.
(File names and labels join this list with pictures, issue 7.)"""

from __future__ import annotations

import uuid

from tests.web.conftest import room_name

from edgechat.core import names

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
    "<div style=\"background:url(javascript:alert(1))\">",
    "<div onmouseover=alert(1)>hover</div>",
    "<img src=\"x\" onerror=\"alert(String.fromCharCode(88,83,83))\">",
    "<IMG SRC=JaVaScRiPt:alert(1)>",
    "<IMG SRC=`javascript:alert(1)`>",
    "<img src=x:alert(alt) onerror=eval(src) alt=1>",
    "\"><script>alert(1)</script>",
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
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
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
