// The review queue (/review): loads the items of the page's filters from /api/review/items and
// moves through them without reloading. Keys: j/↓ next, k/↑ previous, 1–4 verdicts (saved in the
// background, in order, and the next item shown at once), c comment, space play. Every string
// from the record goes into the page as text, never as HTML.
"use strict";
(() => {
  const root = document.getElementById("review");
  if (!root) return;
  const canJudge = root.dataset.judge === "1";
  const canFix = root.dataset.fix === "1";
  const list = document.getElementById("queue");
  const pane = document.getElementById("item");
  const count = document.getElementById("count");
  const statusLine = document.getElementById("status");
  const VERDICTS = [
    ["confirmed", "属实"],
    ["false_alarm", "误报"],
    ["citizen", "群众说的"],
    ["unclear", "听不清"],
  ];
  const LABEL = Object.fromEntries(VERDICTS);
  const REASONS = {
    banned: "禁忌用语",
    low_confidence: "低置信度",
    no_greeting: "缺迎声",
    no_farewell: "缺送声",
  };
  const METHODS = { exact: "原文", gapped: "插字", sound: "音近" };
  const SPEAKERS = { staff: "工作人员", citizen: "群众", unknown: "未知" };
  let items = [];
  let numbersByDay = {};
  let at = -1;
  let saving = Promise.resolve();
  let inflight = 0;

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function say(text, bad) {
    statusLine.textContent = text;
    statusLine.className = bad ? "status error" : "status";
  }

  function time(t) {
    return t ? t.slice(11, 19) : "";
  }

  function what(it) {
    return it.phrase || REASONS[it.reason] || it.reason;
  }

  function clipUrl(it) {
    const path = it.clip.split("/").map(encodeURIComponent).join("/");
    return "/clips/" + path + "#t=" + it.clip_offset.toFixed(2);
  }

  async function load() {
    const res = await fetch("/api/review/items" + location.search, {
      credentials: "same-origin",
    });
    const data = await res.json();
    if (!res.ok) {
      pane.replaceChildren(el("p", { class: "error" }, data.error || res.statusText));
      count.textContent = "无法加载";
      return;
    }
    items = data.items;
    numbersByDay = data.numbers || {};
    list.replaceChildren(...items.map((it, i) => row(it, i)));
    heading();
    if (items.length === 0) {
      pane.replaceChildren(el("p", { class: "notice" }, "没有符合条件的待审核项。"));
      root.dataset.ready = "1";
      return;
    }
    const first = items.findIndex((it) => !it.verdict);
    select(first < 0 ? 0 : first);
    root.dataset.ready = "1";
  }

  function heading() {
    const open = items.filter((it) => !it.verdict).length;
    count.textContent = `共 ${items.length} 条 · 未审核 ${open} 条`;
  }

  function row(it, i) {
    const v = it.verdict ? it.verdict.verdict : "";
    return el(
      "li",
      {
        "data-i": i,
        class: ["row", i === at ? "current" : "", v ? "v-" + v : "", it.failed ? "failed" : ""].join(" "),
        onclick: () => select(i),
      },
      el("span", { class: "t" }, time(it.clock_time)),
      el("span", { class: "w" }, it.window),
      el("span", { class: "what" }, what(it)),
      el("span", { class: "v" }, v ? LABEL[v] + (it.verdict.pending ? "…" : "") : "")
    );
  }

  function redrawRow(i) {
    const old = list.children[i];
    if (old) old.replaceWith(row(items[i], i));
  }

  function select(i) {
    if (i < 0 || i >= items.length) return;
    const before = at;
    at = i;
    if (before >= 0) redrawRow(before);
    redrawRow(i);
    list.children[i].scrollIntoView({ block: "nearest" });
    render(items[i]);
    history(items[i]);
  }

  /** The item's verdict history; asking for it records the view in the audit log. */
  async function history(it) {
    try {
      const res = await fetch("/api/review/item?key=" + encodeURIComponent(it.key), {
        credentials: "same-origin",
      });
      if (!res.ok) return;
      const data = await res.json();
      it.history = data.history;
      if (items[at] === it) drawHistory(it);
    } catch (e) {
      // The history is a nicety; the item itself is on the page already.
    }
  }

  function transcript(it) {
    if (it.text === null || it.text === undefined) {
      return el("span", { class: "gone" }, "（转写文本已按保存期限清除）");
    }
    if (!it.span) return el("span", {}, it.text);
    // The span is in bytes of UTF-8: cut there, not at UTF-16 positions.
    const bytes = new TextEncoder().encode(it.text);
    const dec = new TextDecoder();
    const [a, b] = it.span;
    return el(
      "span",
      {},
      dec.decode(bytes.slice(0, a)),
      el("mark", {}, dec.decode(bytes.slice(a, b))),
      dec.decode(bytes.slice(b))
    );
  }

  /** A polite context to suggest for an exception: the find and the words after it. */
  function suggestion(it) {
    if (!it.text || !it.span) return it.phrase || "";
    const bytes = new TextEncoder().encode(it.text);
    const dec = new TextDecoder();
    const found = dec.decode(bytes.slice(it.span[0], it.span[1]));
    const after = dec.decode(bytes.slice(it.span[1])).split(/[，。！？、；,.!?;：:\s]/)[0];
    return found + Array.from(after).slice(0, 6).join("");
  }

  function windowNumbers(it) {
    return (numbersByDay[it.day] || []).find((n) => n.window === it.window);
  }

  function numbers(it) {
    const w = windowNumbers(it);
    if (!w) return null;
    const s = (x) => (x === null || x === undefined ? "无得分" : x.toFixed(1));
    return el(
      "p",
      { class: "numbers" },
      `${it.window} 当日得分：机器 ${s(w.score)} · 审核后 ${s(w.reviewed_score)}（禁忌用语 ${w.banned_hits} → ${w.reviewed_banned_hits}，已判定 ${w.judged_hits}）`
    );
  }

  function render(it) {
    pane.dataset.key = it.key;
    const head = el(
      "header",
      {},
      el("span", { class: "reason r-" + it.reason }, REASONS[it.reason] || it.reason),
      it.phrase ? el("b", { class: "phrase" }, it.phrase) : null,
      it.category && it.phrase ? el("span", { class: "cat" }, it.category) : null,
      it.severity && it.reason === "banned" ? el("span", { class: "sev" }, "严重程度 " + it.severity) : null,
      it.low_confidence ? el("span", { class: "low" }, "低置信度") : null,
      it.finds > 1 ? el("span", { class: "finds" }, `本句 ${it.finds} 处`) : null
    );
    const meta = el(
      "p",
      { class: "meta" },
      [
        it.day + " " + time(it.clock_time),
        it.window,
        it.staff_id ? it.staff_id + (it.staff_name ? " " + it.staff_name : "") : "（排班表中无人）",
        it.confidence !== null && it.confidence !== undefined
          ? "置信度 " + it.confidence.toFixed(2) + " · " + (METHODS[it.method] || it.method)
          : null,
      ]
        .filter(Boolean)
        .join(" · ")
    );
    // Citizens' words are kept and shown, dimmed: they never count against the staff.
    const line = (cls, label, speaker, body) =>
      el(
        "p",
        { class: cls + (speaker ? " spk-" + speaker : "") },
        el("span", { class: "lbl" }, label),
        speaker ? el("span", { class: "spk" }, SPEAKERS[speaker] || speaker) : null,
        body
      );
    const context = el(
      "div",
      { class: "context" },
      line("before", "前一句", it.before_speaker, it.before ?? "（无）"),
      line("said", "本句", it.speaker, transcript(it)),
      line("after", "后一句", it.after_speaker, it.after ?? "（无）")
    );
    const audio = it.clip
      ? el("audio", { controls: true, preload: "metadata", src: clipUrl(it), "data-offset": it.clip_offset })
      : el("p", { class: "notice" }, "此句没有保存录音片段。");
    if (it.clip) {
      // The media fragment (#t=) starts the player at the hit; set it again once the metadata
      // is there, for players that ignore fragments.
      audio.addEventListener("loadedmetadata", () => {
        if (Math.abs(audio.currentTime - it.clip_offset) > 0.05) audio.currentTime = it.clip_offset;
      });
    }
    const parts = [
      head,
      meta,
      el("p", { class: "clause" }, "条款：" + it.clause),
      context,
      el("p", { class: "file" }, it.file + " · " + it.offset.toFixed(1) + " 秒"),
      audio,
    ];
    if (canJudge) {
      parts.push(
        el(
          "div",
          { class: "verdicts" },
          VERDICTS.map(([v, label], n) =>
            el(
              "button",
              {
                type: "button",
                "data-verdict": v,
                class: it.verdict && it.verdict.verdict === v ? "chosen" : "",
                onclick: () => judge(v),
              },
              el("kbd", {}, String(n + 1)),
              " " + label
            )
          )
        ),
        el("input", {
          id: "comment",
          type: "text",
          maxlength: 500,
          placeholder: "备注（按 c 输入，Esc 返回，再按 1–4 给结论）",
          autocomplete: "off",
        })
      );
    }
    parts.push(el("p", { id: "current" }), numbers(it), el("div", { id: "history" }));
    if (canFix && it.key.startsWith("hit:")) parts.push(fixForm(it));
    pane.replaceChildren(...parts.filter(Boolean));
    drawCurrent(it);
    if (it.history) drawHistory(it);
  }

  function drawCurrent(it) {
    const p = document.getElementById("current");
    if (!p) return;
    const v = it.verdict;
    p.textContent = v
      ? `当前结论：${LABEL[v.verdict]}${v.pending ? "（保存中）" : ""}${v.user_name ? " · " + v.user_name : ""}${v.comment ? " · 备注：" + v.comment : ""}`
      : "尚未审核";
  }

  function drawHistory(it) {
    const box = document.getElementById("history");
    if (!box || !it.history || it.history.length === 0) return;
    box.replaceChildren(
      el(
        "details",
        { class: "history" },
        el("summary", {}, `审核记录（${it.history.length}）`),
        el(
          "ol",
          {},
          it.history.map((h) =>
            el("li", {}, `${h.at.slice(0, 19).replace("T", " ")} ${h.user_name}：${LABEL[h.verdict]}${h.comment ? "（" + h.comment + "）" : ""}`)
          )
        )
      )
    );
  }

  function fixForm(it) {
    const isFalse = it.verdict && it.verdict.verdict === "false_alarm" && !it.verdict.pending;
    if (!isFalse) {
      return el("p", { class: "notice fixhint" }, "判为“误报”的命中可在此加为例外或变体。");
    }
    const result = el("div", { class: "result", id: "fix-result" });
    const form = el(
      "form",
      { id: "fix", class: "fix" },
      el("h3", {}, "修正规则"),
      el(
        "div",
        { class: "kinds" },
        el("label", {}, el("input", { type: "radio", name: "kind", value: "exception", checked: true }), "加为例外（礼貌语境）"),
        el("label", {}, el("input", { type: "radio", name: "kind", value: "variant" }), "加为变体（另一种说法）")
      ),
      el("label", {}, "文字", el("input", { name: "text", required: true, maxlength: 60, value: suggestion(it) })),
      el("label", {}, "理由", el("input", { name: "reason", maxlength: 200, placeholder: "例如：客气话，不是推诿" })),
      el("button", { type: "submit" }, "检查并记录"),
      result
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = {
        key: it.key,
        kind: form.querySelector("input[name=kind]:checked").value,
        text: form.elements.text.value,
        reason: form.elements.reason.value,
      };
      result.replaceChildren(el("p", { class: "notice" }, "正在检查回归句和标注集…"));
      try {
        const r = await desk.post("/api/review/rule", body);
        if (r.outcome === "accepted") {
          const apply = el("button", { type: "button", id: "apply" }, "应用到 " + it.day + "（重新评分）");
          apply.addEventListener("click", () => rescore(it, result));
          result.replaceChildren(
            el("p", { class: "ok" }, `已记录（第 ${r.change.id} 条修改）：检查了 ${r.regressions} 条回归句、${r.labelled} 条标注句。新词库版本 ${r.change.version}。`),
            apply
          );
        } else {
          result.replaceChildren(
            el("p", { class: "error" }, "未记录，原因："),
            el("ul", { class: "reasons" }, r.reasons.map((x) => el("li", {}, x)))
          );
        }
      } catch (err) {
        result.replaceChildren(el("p", { class: "error" }, "出错：" + err.message));
      }
    });
    return form;
  }

  async function rescore(it, result) {
    const working = el("p", { class: "notice" }, "正在按新规则重新评分…");
    result.append(working);
    try {
      const r = await desk.post("/api/review/rescore", { day: it.day });
      const before = windowNumbers(it);
      numbersByDay[it.day] = r.windows;
      const w = windowNumbers(it);
      const s = (x) => (x === null || x === undefined ? "无得分" : x.toFixed(1));
      working.remove();
      const shown = pane.querySelector(".numbers");
      if (shown && items[at] === it) shown.replaceWith(numbers(it));
      result.append(
        el(
          "p",
          { class: "ok", id: "rescored" },
          `${it.day} 已重新评分（词库 ${r.rescored.lexicon_version}）。` +
            (w ? `${it.window} 机器得分 ${before ? s(before.score) + " → " : ""}${s(w.score)}。` : "")
        )
      );
    } catch (err) {
      working.remove();
      result.append(el("p", { class: "error" }, "重新评分失败：" + err.message));
    }
  }

  /** Records a verdict on the current item: shown at once, saved in order in the background. */
  function judge(v) {
    const it = items[at];
    if (!canJudge || !it) return;
    const box = document.getElementById("comment");
    const comment = box ? box.value.trim() : "";
    const before = it.verdict;
    it.verdict = { verdict: v, comment: comment || null, pending: true };
    const i = at;
    redrawRow(i);
    heading();
    inflight += 1;
    root.dataset.pending = String(inflight);
    saving = saving
      .then(() => desk.post("/api/review/verdict", { key: it.key, verdict: v, comment: comment || null }))
      .then((r) => {
        it.verdict = r.verdict;
        numbersByDay[it.day] = r.windows;
        say(`已保存：${it.window} ${what(it)} → ${LABEL[v]}`);
      })
      .catch((err) => {
        it.verdict = before;
        it.failed = true;
        say(`未保存（${what(it)}）：${err.message}`, true);
      })
      .finally(() => {
        inflight -= 1;
        root.dataset.pending = String(inflight);
        redrawRow(i);
        heading();
        if (items[at] === it) render(it);
      });
    if (at + 1 < items.length) select(at + 1);
    else render(it);
  }

  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (t && t.matches && t.matches("input, textarea, select")) {
      if (e.key === "Escape" || (e.key === "Enter" && t.id === "comment")) {
        e.preventDefault();
        t.blur();
      }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const n = "1234".indexOf(e.key);
    if (n >= 0) {
      e.preventDefault();
      judge(VERDICTS[n][0]);
    } else if (e.key === "j" || e.key === "ArrowDown") {
      e.preventDefault();
      select(at + 1);
    } else if (e.key === "k" || e.key === "ArrowUp") {
      e.preventDefault();
      select(at - 1);
    } else if (e.key === "c") {
      const box = document.getElementById("comment");
      if (box) {
        e.preventDefault();
        box.focus();
      }
    } else if (e.key === " ") {
      const a = pane.querySelector("audio");
      if (a) {
        e.preventDefault();
        if (a.paused) a.play().catch(() => {});
        else a.pause();
      }
    }
  });

  load().catch((err) => {
    pane.replaceChildren(el("p", { class: "error" }, "无法加载队列：" + err.message));
  });
})();
