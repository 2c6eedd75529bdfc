//! The review pages of the desk over real HTTP and in headless Chromium: the JSON API and its
//! audit rows, a trainer judging items by keyboard, the office turning a false alarm into an
//! exception and rescoring the day, and the time to judge 100 items.

use std::time::{Duration, Instant};

use courtesy::desk::Role;
use courtesy::lexicon::Lexicon;
use courtesy::store::{ItemKey, Store, Value};

use crate::browser::Browser;
use crate::desk::{encode, Client, Desk};
use crate::review::{night, night_with, scores, DAY, EXCEPTION, FALSE_ALARM};

/// The record's verdicts: (item, verdict, comment, user), oldest first.
fn verdicts(store: &Store) -> Vec<(String, String, Option<String>, String)> {
    store
        .query(
            "SELECT item, verdict, comment, user_name FROM verdicts ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.string("item").unwrap(),
                r.string("verdict").unwrap(),
                r.opt_string("comment").unwrap(),
                r.string("user_name").unwrap(),
            )
        })
        .collect()
}

/// A four-second tone as the clip of the false alarm, so the player has something to load.
fn clip(desk: &Desk) {
    let tone: Vec<f32> = (0..64_000)
        .map(|i| 0.2 * (i as f32 * 440.0 * std::f32::consts::TAU / 16_000.0).sin())
        .collect();
    let path = desk
        .dir
        .path()
        .join("clips/2026-11-30/W01/083000_5000.opus");
    courtesy::audio::clip::write_opus(&path, &tone).unwrap();
}

fn json(reply: &crate::desk::Reply) -> serde_json::Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
}

fn items(client: &mut Client, query: &str) -> Vec<serde_json::Value> {
    let r = client.get(&format!("/api/review/items?{query}"));
    assert_eq!(r.status, 200, "{}", r.body);
    json(&r)["items"].as_array().unwrap().clone()
}

#[test]
fn the_review_api_judges_fixes_and_rescores_with_an_audit_row_for_each() {
    let desk = Desk::start();
    night(&desk.store, &Lexicon::builtin().unwrap());
    let mut trainer = desk.login_as("培训员", Role::Trainer);
    let mut office = desk.login_as("质量办", Role::Office);

    // The page: filters offer the record's windows, staff and phrases, escaped.
    desk.store
        .import_roster(&[courtesy::store::RosterEntry {
            window: "W02".into(),
            staff_id: "S<9>".into(),
            name: "<b>王</b>".into(),
            valid_from: format!("{DAY}T00:00:00.000+08:00"),
            valid_to: "2026-12-01T00:00:00.000+08:00".into(),
        }])
        .unwrap();
    let page = trainer.get("/review");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<option value=\"W03\">W03</option>"));
    assert!(page.body.contains("<option value=\"不行，重填\">"));
    assert!(
        page.body.contains("S&lt;9&gt; &lt;b&gt;王&lt;/b&gt;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<b>王"));
    assert!(page.body.contains("src=\"/static/review.js\""));
    assert!(page.body.contains("data-judge=\"1\" data-fix=\"0\""));

    // The queue defaults to the newest scored day.
    let r = trainer.get("/api/review/items");
    let all = json(&r);
    assert_eq!(
        (all["from"].as_str(), all["to"].as_str()),
        (Some(DAY), Some(DAY))
    );
    assert_eq!(all["items"].as_array().unwrap().len(), 8);
    assert_eq!(all["counts"]["unjudged"], 8);
    let fa = &all["items"][0];
    assert_eq!(fa["phrase"], "不知道");
    assert_eq!(fa["text"], FALSE_ALARM);
    assert_eq!(fa["reason"], "banned");
    let key = fa["key"].as_str().unwrap().to_string();
    let w03 = items(&mut trainer, "window=W03&reason=no_greeting");
    assert_eq!(w03.len(), 2);
    assert!(items(&mut trainer, "staff=S001&status=unjudged").len() == 1);
    let r = trainer.get("/api/review/items?from=2026-13-01");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(json(&r)["error"].as_str().unwrap().contains("YYYY-MM-DD"));

    // Viewing an item is audited; a verdict is stored, audited and rescored at once.
    let r = trainer.get(&format!("/api/review/item?key={}", encode(&key)));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["history"], serde_json::json!([]));
    let r = trainer.send_json(
        "POST",
        "/api/review/verdict",
        &serde_json::json!({ "key": key, "verdict": "false_alarm", "comment": "客气话" }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let judged = json(&r);
    assert_eq!(judged["verdict"]["verdict"], "false_alarm");
    assert_eq!(judged["verdict"]["user_name"], "培训员");
    let w01 = judged["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["window"] == "W01")
        .unwrap();
    assert_eq!(
        (w01["score"].as_f64(), w01["reviewed_score"].as_f64()),
        (Some(70.0), Some(100.0))
    );
    // Bad requests: a malformed key, an unknown verdict, an item not in the record.
    for (body, status) in [
        (
            serde_json::json!({ "key": "nonsense", "verdict": "confirmed" }),
            400,
        ),
        (serde_json::json!({ "key": key, "verdict": "maybe" }), 400),
        (
            serde_json::json!({ "key": "hit:999999:不知道", "verdict": "confirmed" }),
            400,
        ),
    ] {
        let r = trainer.send_json("POST", "/api/review/verdict", &body);
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
    // Roles: the office reads the queue but does not judge; trainers do not change rules.
    let r = office.send_json(
        "POST",
        "/api/review/verdict",
        &serde_json::json!({ "key": key, "verdict": "confirmed" }),
    );
    assert_eq!(r.status, 403);
    let rule = serde_json::json!({ "key": key, "kind": "exception", "text": EXCEPTION, "reason": "客气话" });
    assert_eq!(
        trainer.send_json("POST", "/api/review/rule", &rule).status,
        403
    );
    assert_eq!(items(&mut office, "status=false_alarm").len(), 1);

    // A refused fix says why; an accepted one is recorded; rescoring the day applies it.
    let refused = office.send_json(
        "POST",
        "/api/review/rule",
        &serde_json::json!({ "key": key, "kind": "exception", "text": "也不知道" }),
    );
    assert_eq!(refused.status, 200, "{}", refused.body);
    let refused = json(&refused);
    assert_eq!(refused["outcome"], "refused");
    assert!(refused["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r.as_str().unwrap().starts_with("labelled L004")));
    let accepted = json(&office.send_json("POST", "/api/review/rule", &rule));
    assert_eq!(accepted["outcome"], "accepted", "{accepted}");
    let version = accepted["change"]["version"].as_str().unwrap().to_string();
    assert_eq!(accepted["change"]["user_name"], "质量办");
    let r = office.send_json(
        "POST",
        "/api/review/rescore",
        &serde_json::json!({ "day": DAY }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rescored = json(&r);
    assert_eq!(rescored["rescored"]["lexicon_version"], version);
    assert_eq!(scores(&desk.store)["W01"].0, Some(100.0));
    assert!(items(&mut trainer, "phrase=不知道").is_empty(), "fixed");

    // Every view and change left its row, with who and what.
    let log = desk.audit();
    let has = |action: &str, user: &str, object: &str| {
        log.iter().any(|(a, u, o)| {
            a == action && u.as_deref() == Some(user) && o.as_deref() == Some(object)
        })
    };
    assert!(has("review_queue", "培训员", &format!("{DAY}..{DAY}")));
    assert!(has("review_view", "培训员", &key));
    assert!(has("verdict", "培训员", &key));
    assert!(has("rule_change", "质量办", &key));
    assert!(has("rescore", "质量办", DAY));
    let changes = log.iter().filter(|(a, _, _)| a == "rule_change").count();
    assert_eq!(changes, 2, "the refused fix is audited too");
}

/// A browser logged in as a new user `name` with `role`, on `path` with the queue loaded.
fn browser(desk: &Desk, name: &str, role: Role, path: &str) -> Browser {
    let password = desk.user(name, role);
    let mut b = desk.browser_as(name, &password, path);
    b.wait("document.getElementById('review').dataset.ready === '1'");
    b
}

/// The key of the item on show.
fn shown(b: &mut Browser) -> String {
    b.eval("document.getElementById('item').dataset.key")
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn saved(b: &mut Browser) {
    b.wait("document.getElementById('review').dataset.pending === '0'");
}

#[test]
fn in_chromium_a_trainer_judges_ten_items_by_keyboard_and_the_office_fixes_a_false_alarm() {
    let desk = Desk::start();
    night_with(&desk.store, &Lexicon::builtin().unwrap(), 4);
    clip(&desk);
    // A transcript that tries to be HTML stays text.
    desk.store
        .execute(
            "UPDATE utterances SET text = $1 WHERE text = '下一位。'",
            &[Value::from("<img src=x onerror=alert(1)>下一位。")],
        )
        .unwrap();
    let mut b = browser(&desk, "培训员", Role::Trainer, "/review");
    assert_eq!(
        b.eval("document.getElementById('count').textContent"),
        "共 14 条 · 未审核 14 条"
    );
    // The first item: the hit marked in its transcript, context either side, the clause, and a
    // player that starts at the hit (1.2 s into the clip).
    assert_eq!(
        b.eval("document.querySelector('#item mark').textContent"),
        "不知道"
    );
    assert_eq!(
        b.eval("document.querySelector('#item .said').textContent"),
        format!("本句未知{FALSE_ALARM}"),
        "each line names whose words they were (未知: the fixture's record has no speaker)"
    );
    assert_eq!(
        b.eval("document.querySelector('#item .before').textContent"),
        "前一句未知您好，请坐。请问您要办理什么业务？"
    );
    assert_eq!(
        b.eval("document.querySelector('#item .after').textContent"),
        "后一句未知请稍等一下"
    );
    assert!(b
        .eval("document.querySelector('#item .clause').textContent")
        .as_str()
        .unwrap()
        .contains("三、禁忌用语"));
    let src = b.eval("document.querySelector('#item audio').getAttribute('src')");
    assert_eq!(src, "/clips/2026-11-30/W01/083000_5000.opus#t=1.20");
    b.wait("document.querySelector('#item audio').readyState >= 1");
    let at = b.eval("document.querySelector('#item audio').currentTime");
    assert!(
        (at.as_f64().unwrap() - 1.2).abs() < 0.05,
        "the player is at {at}"
    );
    let fits = b.eval("document.documentElement.scrollWidth <= window.innerWidth");
    assert_eq!(fits, serde_json::Value::Bool(true), "fits 1366 px");
    b.screenshot("review-queue.png");

    // Ten items by keyboard: a verdict key judges and moves on; j/k move; c writes a comment.
    let first = shown(&mut b);
    b.press("2"); // 误报 on the false alarm
    let second = shown(&mut b);
    assert_ne!(first, second, "the next item is shown at once");
    b.press("k");
    assert_eq!(shown(&mut b), first);
    b.press("j");
    b.press("c");
    b.type_text("态度生硬");
    b.press("Escape");
    b.press("1"); // 属实, with the comment
    let mut keys = vec![
        (first.clone(), "false_alarm"),
        (second.clone(), "confirmed"),
    ];
    for key in ["1", "3", "4", "1", "ArrowDown", "2", "1", "1", "1"] {
        let on = shown(&mut b);
        b.press(key);
        match key {
            "1" => keys.push((on, "confirmed")),
            "2" => keys.push((on, "false_alarm")),
            "3" => keys.push((on, "citizen")),
            "4" => keys.push((on, "unclear")),
            _ => {}
        }
    }
    saved(&mut b);
    assert_eq!(keys.len(), 10);
    let stored = verdicts(&desk.store);
    let got: Vec<(String, &str)> = stored
        .iter()
        .map(|(k, v, _, _)| (k.clone(), v.as_str()))
        .collect();
    let want: Vec<(String, &str)> = keys.iter().map(|(k, v)| (k.clone(), *v)).collect();
    assert_eq!(got, want);
    assert!(stored.iter().all(|(_, _, _, u)| u == "培训员"));
    assert_eq!(stored[1].2.as_deref(), Some("态度生硬"));
    assert_eq!(
        b.eval("document.getElementById('count').textContent"),
        "共 14 条 · 未审核 4 条"
    );
    // The day's reviewed numbers followed: W01's false alarm is dropped.
    assert_eq!(
        scores(&desk.store)["W01"],
        (Some(70.0), Some(100.0), 1, 0, 1)
    );
    let views = desk
        .audit()
        .iter()
        .filter(|(a, u, _)| a == "review_view" && u.as_deref() == Some("培训员"))
        .count();
    assert!(views >= 10, "{views} views audited");
    // The transcript that tried to be HTML is on the page as text.
    let hostile = b.eval(
        "Array.from(document.querySelectorAll('#queue li')).map(li => li.textContent)\
         .findLastIndex(t => t.includes('W03') && t.includes('缺送声'))",
    );
    b.click(&format!("#queue li[data-i='{hostile}']"));
    assert_eq!(
        b.eval("document.querySelector('#item .said').textContent"),
        "本句未知<img src=x onerror=alert(1)>下一位。"
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#review img').length"),
        serde_json::json!(0)
    );
    b.screenshot("review-judged.png");
    drop(b);

    // The office: the false alarm, made an exception in one step, then the day rescored.
    let mut o = browser(&desk, "质量办", Role::Office, "/review?status=false_alarm");
    assert_eq!(shown(&mut o), first);
    assert_eq!(
        o.eval("document.querySelectorAll('#item .verdicts').length"),
        serde_json::json!(0),
        "the office does not judge"
    );
    let suggested = o.eval("document.querySelector('#fix input[name=text]').value");
    assert_eq!(
        suggested, "不知道",
        "the find and what follows it in its clause (nothing here: a comma follows)"
    );
    o.click("#fix input[name=text]");
    o.eval("document.querySelector('#fix input[name=text]').select()");
    o.type_text(EXCEPTION);
    o.click("#fix input[name=reason]");
    o.type_text("客气话，不是推诿");
    o.click("#fix button[type=submit]");
    o.wait("document.querySelector('#fix-result .ok') !== null");
    o.screenshot("review-fix.png");
    o.click("#apply");
    o.wait("document.getElementById('rescored') !== null");
    let said = o.eval("document.getElementById('rescored').textContent");
    assert!(
        said.as_str().unwrap().contains("W01 机器得分 70.0 → 100.0"),
        "{said}"
    );
    let line = o.eval("document.querySelector('#item .numbers').textContent");
    assert!(line.as_str().unwrap().contains("机器 100.0"), "{line}");
    o.screenshot("review-rescored.png");
    assert_eq!(
        scores(&desk.store)["W01"],
        (Some(100.0), Some(100.0), 0, 0, 0)
    );
    let change = &desk.store.rule_changes().unwrap()[0];
    assert_eq!(
        (
            change.text.as_str(),
            change.reason.as_deref(),
            change.user_name.as_str()
        ),
        (EXCEPTION, Some("客气话，不是推诿"), "质量办")
    );
    assert_eq!(
        ItemKey::parse(change.item.as_deref().unwrap()).unwrap(),
        ItemKey::parse(&first).unwrap()
    );
}

/// How long a trainer's 100 verdicts take to be stored when keys are pressed as fast as the
/// browser takes them: the desk's own cost per item (a person adds their listening time).
#[test]
fn in_chromium_a_hundred_items_are_judged_by_keyboard() {
    let desk = Desk::start();
    night_with(&desk.store, &Lexicon::builtin().unwrap(), 100);
    let mut b = browser(&desk, "培训员", Role::Trainer, "/review?reason=banned");
    assert_eq!(
        b.eval("document.getElementById('count').textContent"),
        "共 104 条 · 未审核 104 条"
    );
    let started = Instant::now();
    for i in 0..100 {
        b.press(["1", "2", "3", "4"][i % 4]);
    }
    let pressed = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = desk
            .store
            .query("SELECT count(*) AS n FROM verdicts", &[])
            .unwrap()[0]
            .i64("n")
            .unwrap();
        if n == 100 {
            break;
        }
        assert!(Instant::now() < deadline, "only {n} of 100 verdicts stored");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stored = started.elapsed();
    saved(&mut b);
    eprintln!(
        "100 items judged by keyboard: keys pressed in {:.2} s, all 100 verdicts stored (and the \
         day rescored after each) in {:.2} s ({:.0} ms per item)",
        pressed.as_secs_f64(),
        stored.as_secs_f64(),
        stored.as_secs_f64() * 10.0
    );
    assert_eq!(
        b.eval("document.getElementById('count').textContent"),
        "共 104 条 · 未审核 4 条"
    );
    assert!(
        stored < Duration::from_secs(60),
        "100 verdicts took {stored:?}"
    );
    // The night's 4 banned hits come first (earlier clock), then 96 of W04's.
    let numbers = scores(&desk.store);
    assert_eq!(numbers["W04"].4, 96);
    assert_eq!(numbers.values().map(|n| n.4).sum::<i64>(), 100);
}
