// The live view: cards per window and today's alerts, from /live/events; 确认 records an
// acknowledgement. Every piece of text from the record goes in through textContent, never
// innerHTML: transcripts are what people said and may hold anything.
"use strict";
(function () {
  var MAX_ALERTS = 300;
  var SEVERITY = { 1: "轻微", 2: "一般", 3: "严重" };
  var cards = {};   // window id → card elements and counts
  var items = {};   // alert id → its list item parts
  var total = 0;
  var started = Date.now();

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function field(name, value) {
    var f = el("span", "field", name + " ");
    f.appendChild(el("b", null, value));
    return f;
  }

  // HH:MM:SS as the box wrote it (its local time), whatever the browser's time zone.
  function clock(time) {
    var m = /T(\d\d:\d\d:\d\d)/.exec(time || "");
    return m ? m[1] : String(time || "");
  }

  function clipUrl(clip) {
    return "/live/clips/" + String(clip).split(/[\\/]/).map(encodeURIComponent).join("/");
  }

  function card(id, label) {
    var c = cards[id];
    if (c) return c;
    var root = el("article", "window unknown");
    root.dataset.window = id;
    var head = el("div", "head");
    var name = el("span", "label", label || id);
    var state = el("span", "state", "—");
    head.appendChild(name);
    head.appendChild(state);
    root.appendChild(head);
    root.appendChild(el("div", "score-title", "文明服务评分"));
    var score = el("div", "score", "—");
    root.appendChild(score);
    var counts = el("div", "counts", "今日告警 0 条");
    root.appendChild(counts);
    var detail = el("div", "detail", "");
    root.appendChild(detail);
    document.getElementById("windows").appendChild(root);
    c = cards[id] = { root: root, name: name, state: state, score: score, counts: counts,
      detail: detail, alerts: 0, open: 0 };
    return c;
  }

  function recount(c) {
    c.counts.textContent = "";
    c.counts.appendChild(document.createTextNode("今日告警 " + c.alerts + " 条 · 未确认 "));
    c.counts.appendChild(el("b", null, c.open));
    c.counts.appendChild(document.createTextNode(" 条"));
  }

  function onWindow(w) {
    var c = card(w.window, w.label);
    c.root.classList.remove("unknown", "online", "offline");
    c.root.classList.add(w.online ? "online" : "offline");
    c.state.textContent = w.online ? "在线" : "离线";
    c.detail.textContent = (w.online ? "" : "原因：") + (w.detail || "") + " · " + clock(w.time);
  }

  function onScore(s) {
    var c = card(s.window, s.label);
    c.score.classList.remove("good", "fair", "poor");
    if (typeof s.score === "number") {
      c.score.textContent = s.score.toFixed(1);
      c.score.classList.add(s.score >= 90 ? "good" : s.score >= 70 ? "fair" : "poor");
    } else {
      c.score.textContent = "—";
    }
  }

  // The sentence with the hit in <mark>; char_span counts code points, as Array.from splits.
  function sentence(a) {
    var p = el("p", "text");
    p.appendChild(el("span", "k", "原话"));
    var chars = Array.from(a.text || "");
    var s = a.char_span && a.char_span[0], e = a.char_span && a.char_span[1];
    if (!(Number.isInteger(s) && Number.isInteger(e) && 0 <= s && s < e && e <= chars.length)) {
      var at = a.matched ? String(a.text).indexOf(a.matched) : -1;
      if (at < 0) { p.appendChild(document.createTextNode(a.text || "")); return p; }
      s = Array.from(String(a.text).slice(0, at)).length;
      e = s + Array.from(a.matched).length;
    }
    p.appendChild(document.createTextNode(chars.slice(0, s).join("")));
    p.appendChild(el("mark", null, chars.slice(s, e).join("")));
    p.appendChild(document.createTextNode(chars.slice(e).join("")));
    return p;
  }

  function showAck(id, ack) {
    var it = items[id];
    if (!it || it.acked) return;
    it.acked = true;
    it.li.classList.add("acked");
    it.ack.textContent = "";
    var by = "已确认 · " + ack.by + " · " + clock(ack.at) + (ack.note ? " · " + ack.note : "");
    it.ack.appendChild(el("span", "acked-by", by));
    var c = cards[it.window];
    if (c) { c.open = Math.max(0, c.open - 1); recount(c); }
  }

  function ackForm(a, box) {
    var note = el("input");
    note.type = "text";
    note.placeholder = "备注（可选）";
    note.maxLength = 500;
    note.setAttribute("aria-label", "确认备注");
    var button = el("button", "ack-button", "确认");
    button.type = "button";
    button.addEventListener("click", function () {
      button.disabled = true;
      desk.post("/live/alerts/" + a.id + "/ack", { note: note.value }).then(function (r) {
        showAck(a.id, r);
      }, function (err) {
        button.disabled = false;
        button.title = String(err && err.message || err);
        button.textContent = "重试确认";
      });
    });
    box.appendChild(note);
    box.appendChild(button);
  }

  function onAlert(a) {
    if (items[a.id]) return;
    var c = card(a.window, a.label);
    var fresh = Date.now() - started > 1500;
    var li = el("li", "alert sev" + a.severity + (fresh ? " fresh" : ""));
    li.dataset.id = a.id;
    var meta = el("div", "meta");
    var time = el("span", "field", "时间 ");
    time.appendChild(el("b", "time", clock(a.at)));
    meta.appendChild(time);
    meta.appendChild(field("窗口", c.name.textContent || a.label || a.window));
    var phrase = el("span", "field", "用语 ");
    phrase.appendChild(el("span", "phrase", a.phrase));
    meta.appendChild(phrase);
    meta.appendChild(field("类别", a.category));
    meta.appendChild(field("严重程度", (SEVERITY[a.severity] || a.severity) + "（" + a.severity + "）"));
    meta.appendChild(field("置信度", Math.round((Number(a.confidence) || 0) * 100) + "%"));
    li.appendChild(meta);
    li.appendChild(sentence(a));
    var actions = el("div", "actions");
    if (a.clip) {
      var play = el("div", "play");
      play.appendChild(el("span", "field", "播放"));
      var audio = el("audio");
      audio.controls = true;
      audio.preload = "none";
      audio.src = clipUrl(a.clip);
      play.appendChild(audio);
      actions.appendChild(play);
    }
    var ack = el("div", "ack");
    actions.appendChild(ack);
    li.appendChild(actions);
    items[a.id] = { li: li, ack: ack, window: a.window, acked: false };
    c.alerts += 1;
    c.open += 1;
    recount(c);
    if (a.acknowledgement) showAck(a.id, a.acknowledgement); else ackForm(a, ack);
    var list = document.getElementById("alerts");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > MAX_ALERTS) list.removeChild(list.lastChild);
    total += 1;
    document.getElementById("alert-count").textContent = "共 " + total + " 条";
    document.getElementById("no-alerts").hidden = true;
  }

  function setConn(state, text) {
    var c = document.getElementById("conn");
    c.className = state;
    document.getElementById("conn-text").textContent = text;
  }

  function parse(ev) {
    try { return JSON.parse(ev.data); } catch (e) { return null; }
  }

  var config = [];
  try { config = JSON.parse(document.getElementById("live-windows").textContent); } catch (e) {}
  config.forEach(function (w) { recount(card(w.id, w.label)); });

  var source = null;
  function connect() {
    source = new EventSource("/live/events");
    source.onopen = function () { setConn("open", "已连接"); };
    source.onerror = function () {
      setConn("closed", "连接断开，正在重连…");
      // A closed stream (e.g. the login expired) is retried by reloading: the desk then asks
      // for the password again.
      if (source.readyState === EventSource.CLOSED) setTimeout(function () { location.reload(); }, 3000);
    };
    source.addEventListener("alert", function (ev) { var a = parse(ev); if (a) onAlert(a); });
    source.addEventListener("ack", function (ev) { var k = parse(ev); if (k) showAck(k.id, k); });
    source.addEventListener("window", function (ev) { var w = parse(ev); if (w) onWindow(w); });
    source.addEventListener("score", function (ev) { var s = parse(ev); if (s) onScore(s); });
    source.addEventListener("record", function (ev) {
      if (ev.data === "down") setConn("down", "数据库暂时无法读取，正在重试…");
      else setConn("open", "已连接");
    });
    source.addEventListener("day", function () { location.reload(); });
  }
  connect();
})();
