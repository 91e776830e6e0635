"""The inline CSS and JavaScript of the HTML run report (no network, no framework).

The script reads the report's data from ``<script type="application/json" id="report-data">`` and
builds the episode list and the trajectory viewer with ``createElement`` and ``textContent`` only,
so no text from a trajectory is ever parsed as HTML. When it has rendered, it sets
``data-rendered="ok"`` on ``<body>`` (tests and headless browsers look for it).
"""

CSS = """
:root { --fg: #1d232b; --muted: #5c6773; --line: #d9dee4; --bg: #f6f8fa; --ok: #1a7f37; --bad: #cf222e;
  --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); }
header, section { padding: 12px 24px; }
header { background: var(--bg); border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 8px 0; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: var(--ok); } .fail { color: var(--bad); } .error { color: var(--warn); }
.viewer { display: grid; grid-template-columns: 340px 1fr; gap: 16px; min-height: 400px; }
#episodes { list-style: none; margin: 0; padding: 0; border: 1px solid var(--line); max-height: 900px;
  overflow: auto; }
#episodes li { padding: 6px 10px; border-bottom: 1px solid var(--line); cursor: pointer; }
#episodes li:hover { background: var(--bg); } #episodes li.selected { background: #ddf4ff; }
#episodes .mark { display: inline-block; width: 1.2em; font-weight: 700; }
.msg { border: 1px solid var(--line); border-left: 4px solid var(--muted); border-radius: 4px; margin: 6px 0;
  padding: 6px 10px; }
.msg.system { border-left-color: #8250df; } .msg.user { border-left-color: #0969da; }
.msg.assistant { border-left-color: var(--ok); } .msg.tool { border-left-color: var(--warn); }
.role { font-weight: 600; font-size: 12px; text-transform: uppercase; color: var(--muted); }
pre { margin: 4px 0; white-space: pre-wrap; word-break: break-word; font: 12px/1.4 ui-monospace, monospace; }
.call { background: var(--bg); border-radius: 4px; padding: 4px 8px; margin: 4px 0; }
.empty { color: var(--muted); font-style: italic; }
svg text { font: 12px system-ui, sans-serif; fill: var(--fg); }
"""

JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function show(value) {
    if (value === undefined) return "(absent)";
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }
  function prettyArguments(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return String(text); }
  }
  function mark(episode) {
    return episode.success ? "\u2713" : "\u2717";
  }

  function renderMessage(message) {
    var role = String(message.role || "?");
    var box = el("div", "msg " + role.replace(/[^a-z]/g, ""));
    var head = role;
    if (role === "tool") head += " result" + (message.name ? " \u00b7 " + message.name : "");
    if (message.tool_call_id) head += " \u00b7 " + message.tool_call_id;
    box.appendChild(el("div", "role", head));
    if (message.content !== null && message.content !== undefined && message.content !== "") {
      box.appendChild(el("pre", "", show(message.content)));
    }
    (message.tool_calls || []).forEach(function (call) {
      var fn = call["function"] || {};
      var wrap = el("div", "call");
      wrap.appendChild(el("div", "", "call " + (fn.name || "?") + (call.id ? "  (" + call.id + ")" : "")));
      wrap.appendChild(el("pre", "", prettyArguments(fn.arguments)));
      box.appendChild(wrap);
    });
    return box;
  }

  function table(headers, rows) {
    var t = el("table");
    var tr = el("tr");
    headers.forEach(function (h) { tr.appendChild(el("th", "", h)); });
    t.appendChild(tr);
    rows.forEach(function (cells) {
      var row = el("tr");
      cells.forEach(function (cell) {
        var td = el("td", cell && cell.cls ? cell.cls : "");
        var text = cell && typeof cell === "object" && "text" in cell ? cell.text : cell;
        if (typeof text === "object" && text !== null) td.appendChild(el("pre", "", show(text)));
        else td.textContent = text === undefined ? "" : String(text);
        row.appendChild(td);
      });
      t.appendChild(row);
    });
    return t;
  }

  function renderEpisode(index) {
    var episode = data.episodes[index];
    var pane = document.getElementById("episode");
    pane.textContent = "";
    if (!episode) return;
    pane.appendChild(el("h2", "", episode.scenario + " \u00b7 " + episode.agent + " \u00b7 trial " + episode.trial));
    pane.appendChild(el("div", "muted",
      "run " + episode.run + " \u00b7 status " + episode.status + " \u00b7 reward " + episode.reward +
      " \u00b7 " + episode.turns + " turns \u00b7 " + episode.tool_calls + " tool calls \u00b7 " +
      (episode.input_tokens + episode.output_tokens) + " tokens \u00b7 $" + episode.cost_usd.toFixed(4)));
    if (episode.error) pane.appendChild(el("pre", "fail", episode.error));

    pane.appendChild(el("h2", "", "Checks"));
    if (episode.checks.length) {
      pane.appendChild(table(["check", "verdict", "detail"], episode.checks.map(function (c) {
        return [c.id, { text: c.verdict, cls: c.verdict }, c.detail];
      })));
    } else pane.appendChild(el("p", "empty", "no checks were graded"));

    var trajectory = episode.trajectory;
    pane.appendChild(el("h2", "", "State diff"));
    if (trajectory && trajectory.state_diff && trajectory.state_diff.length) {
      pane.appendChild(table(["path", "before", "after"], trajectory.state_diff.map(function (d) {
        return [d.path, { text: "before" in d ? d.before : "(absent)" }, { text: "after" in d ? d.after : "(absent)" }];
      })));
    } else pane.appendChild(el("p", "empty", "the state did not change"));

    pane.appendChild(el("h2", "", "Dialogue"));
    if (!trajectory) {
      pane.appendChild(el("p", "empty", episode.trajectory_note || "no trajectory"));
    } else {
      trajectory.messages.forEach(function (m) { pane.appendChild(renderMessage(m)); });
    }
  }

  function select(index) {
    var items = document.querySelectorAll("#episodes li");
    for (var i = 0; i < items.length; i++) {
      items[i].className = i === index ? "selected" : "";
    }
    renderEpisode(index);
  }

  var list = document.getElementById("episodes");
  data.episodes.forEach(function (episode, index) {
    var item = el("li");
    item.appendChild(el("span", "mark " + (episode.success ? "pass" : "fail"), mark(episode)));
    item.appendChild(document.createTextNode(episode.scenario + " "));
    item.appendChild(el("span", "muted", episode.agent + " #" + episode.trial + " \u00b7 " + episode.status));
    item.addEventListener("click", function () { select(index); });
    list.appendChild(item);
  });
  var wanted = /^#episode-(\d+)$/.exec(window.location.hash);
  var start = wanted ? Number(wanted[1]) : 0;
  if (data.episodes.length) select(start < data.episodes.length ? start : 0);
  else document.getElementById("episode").appendChild(el("p", "empty", "this run has no episodes"));
  document.body.setAttribute("data-rendered", "ok");
  document.title = document.title + " \u2014 rendered";
})();
"""
