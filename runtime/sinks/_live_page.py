"""The live page MjpegServer serves at ``/``: the MJPEG stream, the current counts and the last events, updated
by server-sent events from ``/events``. One HTML document with inline CSS and JS: no external assets, no build
step, works offline on a device's local network."""

from __future__ import annotations

import html

__all__ = ["render_page"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{margin:0;background:#111;color:#ddd;font:14px system-ui,sans-serif}}
header{{display:flex;gap:1em;align-items:baseline;padding:.4em .8em;background:#1b1b1b}}
h1{{font-size:1.1em;margin:0}}h2{{font-size:1em;margin:.8em 0 .3em}}
#status{{color:#999}}#status.live{{color:#7c7}}#status.lost{{color:#e77}}
main{{display:flex;flex-wrap:wrap;gap:.8em;padding:.8em}}
#stream{{flex:3 1 480px;min-width:0}}#stream img{{width:100%;height:auto;display:block;background:#000}}
aside{{flex:1 1 240px}}table{{border-collapse:collapse;width:100%}}
td{{padding:.15em .4em;border-bottom:1px solid #2a2a2a}}td.n{{text-align:right;font-variant-numeric:tabular-nums}}
ol{{list-style:none;margin:0;padding:0;max-height:60vh;overflow:auto}}
li{{padding:.2em .3em;border-bottom:1px solid #2a2a2a}}li .t{{color:#888;margin-right:.5em}}
li.new,li.enter{{color:#9d9}}li.end,li.leave{{color:#d99}}li.cross{{color:#9cf}}
.empty{{color:#666}}a{{color:#9cf}}footer{{padding:0 .8em .8em;color:#888}}
</style></head>
<body>
<header><h1>{title}</h1><span id="status">connecting&hellip;</span></header>
<main>
<div id="stream"><img src="/stream.mjpg" id="frame" alt="live stream"></div>
<aside>
<h2>Counts</h2><table id="counts"><tbody><tr><td class="empty">nothing counted yet</td></tr></tbody></table>
<h2>Last events</h2><ol id="events"><li class="empty">no events yet</li></ol>
</aside>
</main>
<footer>{caption}<a href="/snapshot.jpg">snapshot</a> &middot; <a href="/state.json">state.json</a></footer>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function row(cells) {{
  const tr = document.createElement("tr");
  cells.forEach(([text, cls]) => {{ const td = document.createElement("td"); td.textContent = text;
    if (cls) td.className = cls; tr.appendChild(td); }});
  return tr;
}}
function describe(e) {{
  let s = `${{e.type}} ${{e.label ?? ""}} #${{e.track_id ?? "?"}}`;
  if (e.zone) s += ` ${{e.type === "leave" ? "from" : "in"}} ${{e.zone}}`;
  if (e.line) s += ` over ${{e.line}}`;
  if (e.direction) s += ` (${{e.direction}})`;
  return s;
}}
function render(state) {{
  const body = $("counts").tBodies[0];
  const keys = Object.keys(state.counts || {{}}).sort();
  body.replaceChildren(...(keys.length ? keys.map((k) => row([[k], [String(state.counts[k]), "n"]]))
                                         : [row([["nothing counted yet", "empty"]])]));
  const list = $("events");
  const events = state.events || [];
  list.replaceChildren(...(events.length ? events.map((e) => {{
      const li = document.createElement("li"); li.className = e.type;
      const t = document.createElement("span"); t.className = "t";
      t.textContent = typeof e.time === "number" ? e.time.toFixed(1) + " s" : `frame ${{e.frame}}`;
      li.append(t, describe(e)); return li; }})
    : [Object.assign(document.createElement("li"), {{className: "empty", textContent: "no events yet"}})]));
}}
function status(text, cls) {{ const s = $("status"); s.textContent = text; s.className = cls; }}
const source = new EventSource("/events");
source.onopen = () => status("live", "live");
source.onmessage = (m) => {{ status("live", "live"); render(JSON.parse(m.data)); }};
source.onerror = () => status("connection lost, retrying", "lost");
$("frame").onerror = () => status("stream ended", "lost");
</script>
</body></html>
"""


def render_page(title: str, caption: str = "") -> bytes:
    """The page as UTF-8 bytes; ``title`` and ``caption`` are escaped."""
    cap = f"{html.escape(caption)} &middot; " if caption else ""
    return _PAGE.format(title=html.escape(title), caption=cap).encode("utf-8")
