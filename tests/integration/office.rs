//! The quality office's reports and the trainers' training sets in the desk, on a month of the
//! record, in Chromium: charts drawn, every count leading to its hits, the workbook downloaded and
//! opened, a playlist built from confirmed clips and printed on one A4 page; views, exports and
//! changes audited.

use courtesy::desk::Role;
use courtesy::report::{self, Period};
use courtesy::store::{ItemKey, NewVerdict, Value, Verdict};

use crate::desk::Desk;
use crate::weeks;

fn month() -> Period {
    Period::range(weeks::day(weeks::FIRST), weeks::day(weeks::LAST)).unwrap()
}

/// A desk on the month's record (clips in the desk's clip folder).
fn desk() -> Desk {
    let desk = Desk::start();
    weeks::fill(&desk.store, &desk.dir.path().join("clips"));
    desk
}

#[test]
fn the_reports_page_draws_its_charts_links_every_count_and_downloads_the_workbook() {
    let desk = desk();
    let r = report::query(&desk.store, month(), None).unwrap();
    let password = desk.user("质量办", Role::Office);
    let path = format!(
        "/reports?from={}&to={}&trend=week",
        weeks::FIRST,
        weeks::LAST
    );
    let mut b = desk.browser_as("质量办", &password, &path);
    b.wait("document.querySelectorAll('svg.chart').length === 3");
    let charts = b.eval(
        "Array.from(document.querySelectorAll('svg.chart')).map(s => ({
            lines: s.querySelectorAll('polyline').length,
            texts: Array.from(s.querySelectorAll('text')).map(t => t.textContent),
            width: s.getBoundingClientRect().width,
        }))",
    );
    for c in charts.as_array().unwrap() {
        assert!(c["lines"].as_u64().unwrap() >= 3, "a line per window: {c}");
        assert!(c["width"].as_f64().unwrap() > 400.0, "{c}");
        let texts: Vec<&str> = c["texts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        assert!(texts.contains(&"周"), "{texts:?}");
        assert!(texts.contains(&"11-02～11-08"), "{texts:?}");
    }
    b.screenshot("desk-reports.png");

    // The ranking's banned count of the worst window leads to exactly its hits.
    let w02 = r.windows.iter().find(|w| w.window == "w02").unwrap();
    b.click("tr[data-window=w02] td.banned a");
    b.wait("location.pathname === '/reports/evidence'");
    b.wait("document.readyState === 'complete'");
    let rows = b.eval("document.querySelectorAll('tr.hit').length");
    assert_eq!(rows.as_i64(), Some(w02.totals.banned_hits));
    let marks = b.eval("document.querySelectorAll('tr.hit mark').length");
    assert_eq!(marks.as_i64(), Some(w02.totals.banned_hits));
    // Each hit plays its clip from the clip folder.
    b.eval("document.querySelector('tr.hit audio').load()");
    b.wait("(a => a.readyState >= 1 && Math.abs(a.duration - 0.5) < 0.01)(document.querySelector('tr.hit audio'))");
    b.screenshot("desk-evidence.png");

    // The workbook, downloaded with the page's own session and opened.
    let url = format!(
        "/reports/export.xlsx?from={}&to={}",
        weeks::FIRST,
        weeks::LAST
    );
    let b64 = b.eval(&format!(
        "fetch({}).then(r => r.arrayBuffer()).then(buf => {{
            const bytes = new Uint8Array(buf); let s = '';
            for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
            return btoa(s);
        }})",
        serde_json::Value::from(url)
    ));
    drop(b);
    let bytes = crate::browser::base64(b64.as_str().unwrap());
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let windows = book.worksheet_range("窗口排名").unwrap();
    let ranked: Vec<String> = (1..=3)
        .map(|i| match windows.get((i, 1)) {
            Some(Data::String(s)) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ranked, ["w03", "w01", "w02"]);
    assert!(book.sheet_names().contains(&"周趋势".to_string()));

    let audit = desk.audit();
    for action in ["report_view", "evidence_view", "report_export"] {
        assert!(
            audit
                .iter()
                .any(|(a, u, _)| a == action && u.as_deref() == Some("质量办")),
            "{action}: {audit:?}"
        );
    }
}

/// A hit's review item, its day and recording, for recording a verdict as the review desk does.
fn judge(desk: &Desk, hit: &report::HitRow, verdict: Verdict) {
    let rows = desk
        .store
        .query(
            "SELECT recording_id FROM utterances WHERE id = $1",
            &[Value::Int(hit.utterance_id)],
        )
        .unwrap();
    desk.store
        .add_verdict(&NewVerdict {
            item: ItemKey::parse(&hit.item).unwrap(),
            day: hit.day.clone(),
            utterance_id: Some(hit.utterance_id),
            recording_id: rows[0].i64("recording_id").unwrap(),
            verdict,
            comment: None,
            user_name: "审核员".into(),
        })
        .unwrap();
}

/// Counts the pages of a PDF (each page object is `/Type /Page`; the tree is `/Pages`).
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.match_indices("/Type /Page")
        .filter(|(i, _)| !text[i + 11..].starts_with('s'))
        .count()
}

#[test]
fn a_trainer_builds_a_playlist_of_confirmed_clips_and_prints_it_on_one_page() {
    let desk = desk();
    let r = report::query(&desk.store, month(), None).unwrap();
    let s02: Vec<&report::HitRow> = r
        .hits
        .iter()
        .filter(|h| h.staff_id.as_deref() == Some("S02"))
        .collect();
    assert!(s02.len() >= 12, "{}", s02.len());
    for h in &s02[..11] {
        judge(&desk, h, Verdict::Confirmed);
    }
    // A false alarm is never a candidate, and cannot be posted onto a list either.
    judge(&desk, s02[11], Verdict::FalseAlarm);

    let password = desk.user("培训员甲", Role::Trainer);
    let mut b = desk.browser_as("培训员甲", &password, "/training");
    b.eval("document.querySelector('select[name=staff_id]').value = 'S02'");
    b.click("input[name=name]");
    b.type_text("李四 十一月");
    b.click("form[action='/training'] button");
    b.wait("/^\\/training\\/\\d+$/.test(location.pathname) && document.readyState === 'complete'");
    let id: i64 = b
        .eval("location.pathname.split('/')[2]")
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let candidates = b.eval("document.querySelectorAll('tr.candidate').length");
    assert_eq!(candidates.as_i64(), Some(11), "the confirmed hits of S02");
    // The lexicon's suggestion is filled in.
    let suggested = b.eval("document.querySelector('form.add input[name=instead]').value");
    assert!(
        ["谢谢您的意见，我们会尽快研究改进", "请您慢慢讲，不要着急"]
            .contains(&suggested.as_str().unwrap()),
        "{suggested}"
    );
    for n in 1..=10 {
        b.click("form.add button");
        b.wait(&format!("document.readyState === 'complete' && document.querySelectorAll('tr.item').length === {n}"));
    }
    // The trainer's own wording for the first item.
    b.eval("document.querySelector('tr.item input[name=instead]').value = '请您留下意见，我们会尽快研究改进'");
    // Marked, so the wait below sees the page the save leads to, not this one.
    b.eval("window.before = true");
    b.click("tr.item form[action$='/instead'] button");
    b.wait("!window.before && document.readyState === 'complete' && document.querySelector('tr.item input[name=instead]').value === '请您留下意见，我们会尽快研究改进'");
    b.eval("document.querySelector('tr.item audio').load()");
    b.wait("(a => a.readyState >= 1 && a.duration > 0.4)(document.querySelector('tr.item audio'))");
    b.screenshot("desk-training.png");

    // The sheet: one A4 page for ten items.
    b.navigate(&format!("{}/training/{id}/sheet", desk.base));
    b.wait("document.querySelectorAll('tbody tr').length === 10");
    b.screenshot("desk-training-sheet.png");
    let pdf = b.call(
        "Page.printToPDF",
        serde_json::json!({ "preferCSSPageSize": true, "printBackground": true }),
    );
    let pdf = crate::browser::base64(pdf["data"].as_str().unwrap());
    std::fs::write(
        crate::browser::output_dir().join("desk-training-sheet.pdf"),
        &pdf,
    )
    .unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(pdf_pages(&pdf), 1, "ten items fit one A4 page");
    drop(b);

    let items = desk.store.playlist_items(id).unwrap();
    assert_eq!(items.len(), 10);
    assert_eq!(
        items[0].instead.as_deref(),
        Some("请您留下意见，我们会尽快研究改进")
    );
    assert!(items.iter().all(|i| i.added_by == "培训员甲"));
    let mut trainer = desk.login("培训员甲", &password);
    let false_alarm = s02[11];
    let reply = trainer.post_form(
        &format!("/training/{id}/add"),
        &[
            ("item", &false_alarm.item),
            ("utterance_id", &false_alarm.utterance_id.to_string()),
            ("phrase", &false_alarm.phrase),
        ],
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
    let audit = desk.audit();
    assert_eq!(
        audit.iter().filter(|(a, _, _)| a == "playlist_add").count(),
        10
    );
    for action in ["playlist_create", "playlist_instead", "playlist_print"] {
        assert!(
            audit.iter().any(|(a, _, _)| a == action),
            "{action}: {audit:?}"
        );
    }
}
