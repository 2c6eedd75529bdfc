//! The desk's data in the record: live alerts (stored, listed since an id, acknowledged once) and
//! training playlists, each on SQLite and on a private PostgreSQL; alerts written by the live
//! record sink across a PostgreSQL outage.

use std::time::Duration;

use courtesy::sink::event::{Alert, Event, EventSink};
use courtesy::sink::RecordSink;
use courtesy::store::*;

use crate::pg;

enum Keep {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Pg(#[allow(dead_code)] pg::PgDatabase),
}

fn sqlite() -> (Store, Keep) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("courtesy.db").to_str().unwrap()).unwrap();
    (store, Keep::Dir(dir))
}

fn postgres() -> (Store, Keep) {
    let db = pg::database();
    (Store::open(&db.url).unwrap(), Keep::Pg(db))
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { let (s, _k) = super::sqlite(); super::$name(&s) })*
        }
        mod postgres {
            $(#[test] fn $name() { let (s, _k) = super::postgres(); super::$name(&s) })*
        }
    };
}

both!(
    alerts_are_stored_once_listed_since_an_id_and_acknowledged_once,
    playlists_keep_order_suggestions_and_no_duplicates,
);

fn new_alert(n: usize, day: &str, window: &str) -> NewAlert {
    NewAlert {
        event_id: format!("run1-{window}-{n}-0"),
        window: window.into(),
        label: format!("{window} 窗口"),
        day: day.into(),
        at: format!("{day}T10:{n:02}:00.000+08:00"),
        phrase: "不知道".into(),
        category: "推诿".into(),
        severity: 2,
        clause: "文明服务用语规范 三、禁忌用语".into(),
        text: "这个我不知道".into(),
        matched: "不知道".into(),
        span: [9, 18],
        confidence: 0.9,
        method: "exact".into(),
        clip: Some(format!("{window}/20261130-10{n:02}00-{n:04}.wav")),
        host: "box1".into(),
    }
}

fn alerts_are_stored_once_listed_since_an_id_and_acknowledged_once(store: &Store) {
    let today = "2026-11-30";
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(store.insert_alert(&new_alert(n, today, "w07")).unwrap());
    }
    store
        .insert_alert(&new_alert(0, "2026-11-29", "w08"))
        .unwrap();
    // A retried write is the same row.
    assert_eq!(
        store.insert_alert(&new_alert(2, today, "w07")).unwrap(),
        ids[2]
    );

    let all = store.alerts_since(today, 0, 100).unwrap();
    assert_eq!(all.iter().map(|a| a.id).collect::<Vec<_>>(), ids);
    assert_eq!(
        all[1].alert.clip.as_deref(),
        Some("w07/20261130-100100-0001.wav")
    );
    assert_eq!(all[1].alert.span, [9, 18]);
    assert!(all.iter().all(|a| a.acknowledgement.is_none()));
    let newer = store.alerts_since(today, ids[1], 100).unwrap();
    assert_eq!(newer.iter().map(|a| a.id).collect::<Vec<_>>(), &ids[2..]);
    assert_eq!(store.alerts_since(today, ids[0], 1).unwrap().len(), 1);

    let before = courtesy::sink::event::now_rfc3339();
    let Acknowledged::Done(ack) = store
        .acknowledge_alert(ids[1], "王主管", Some("  已提醒当事人  "))
        .unwrap()
    else {
        panic!("the first acknowledgement is recorded")
    };
    assert_eq!(ack.by, "王主管");
    assert_eq!(ack.note.as_deref(), Some("已提醒当事人"));
    // A second supervisor is told whose stands.
    match store.acknowledge_alert(ids[1], "李主管", None).unwrap() {
        Acknowledged::Already(a) => assert_eq!(a, ack),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.acknowledge_alert(999_999, "王主管", None).unwrap(),
        Acknowledged::NoSuchAlert
    );
    let stored = store.alert(ids[1]).unwrap().unwrap();
    assert_eq!(stored.acknowledgement, Some(ack));
    let acked = store.alerts_acknowledged_since(today, &before).unwrap();
    assert_eq!(acked.iter().map(|a| a.id).collect::<Vec<_>>(), [ids[1]]);
    assert!(store
        .alerts_acknowledged_since("2026-11-29", &before)
        .unwrap()
        .is_empty());
}

fn playlists_keep_order_suggestions_and_no_duplicates(store: &Store) {
    let p = store
        .create_playlist(" 张三 11月 ", Some("S1"), "培训员甲")
        .unwrap();
    let item = |k: &str, instead: Option<&str>| NewPlaylistItem {
        item: k.into(),
        utterance_id: Some(7),
        phrase: Some("不知道".into()),
        instead: instead.map(Into::into),
    };
    assert!(store
        .add_to_playlist(p, &item("a", Some("有什么需要请讲")), "培训员甲")
        .unwrap());
    assert!(store
        .add_to_playlist(p, &item("b", Some("  ")), "培训员甲")
        .unwrap());
    assert!(store
        .add_to_playlist(p, &item("c", None), "培训员乙")
        .unwrap());
    assert!(
        !store
            .add_to_playlist(p, &item("a", None), "培训员甲")
            .unwrap(),
        "already on it"
    );
    assert!(
        !store
            .add_to_playlist(p + 100, &item("x", None), "培训员甲")
            .unwrap(),
        "no such list"
    );
    assert!(store.remove_from_playlist(p, "b").unwrap());
    assert!(!store.remove_from_playlist(p, "b").unwrap());
    assert!(store
        .add_to_playlist(p, &item("d", None), "培训员甲")
        .unwrap());
    assert!(store.set_playlist_instead(p, "c", " 请您稍候 ").unwrap());
    let items = store.playlist_items(p).unwrap();
    let got: Vec<(&str, Option<&str>, &str)> = items
        .iter()
        .map(|i| (i.item.as_str(), i.instead.as_deref(), i.added_by.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("a", Some("有什么需要请讲"), "培训员甲"),
            ("c", Some("请您稍候"), "培训员乙"),
            ("d", None, "培训员甲")
        ]
    );
    let list = store.playlist(p).unwrap().unwrap();
    assert_eq!(
        (list.name.as_str(), list.staff_id.as_deref(), list.items),
        ("张三 11月", Some("S1"), 3)
    );
    let q = store.create_playlist("全员", None, "培训员乙").unwrap();
    assert_eq!(
        store
            .playlists()
            .unwrap()
            .iter()
            .map(|l| l.id)
            .collect::<Vec<_>>(),
        [q, p]
    );
    assert!(store.delete_playlist(p).unwrap());
    assert!(store.playlist_items(p).unwrap().is_empty());
    assert!(store.playlist(p).unwrap().is_none());
}

fn alert(n: usize) -> Event {
    Event::Alert(Alert {
        id: format!("run1-w07-{n}-0"),
        window: "w07".into(),
        label: "7号窗口".into(),
        time: format!("2026-11-30T10:{n:02}:00.000+08:00"),
        phrase: "不知道".into(),
        category: "推诿".into(),
        severity: 2,
        clause: "文明服务用语规范 三、禁忌用语".into(),
        confidence: 1.0,
        method: courtesy::matcher::Method::Exact,
        text: "这个我不知道".into(),
        matched: "不知道".into(),
        span: [9, 18],
        char_span: [3, 6],
        clip: Some(format!("w07/{n}.wav").into()),
        latency: 1.0,
    })
}

/// PostgreSQL goes down in the middle of a live day and comes back: the sink reports the outage
/// once, keeps the alerts, and stores every one exactly once when the server answers again.
#[test]
fn live_alerts_survive_a_postgresql_outage() {
    let server = pg::PgServer::own();
    let url = server.create_database("outage");
    let mut sink = RecordSink::start(&url, "box1");
    for n in 0..2 {
        sink.send(&alert(n)).unwrap();
    }
    assert!(
        sink.wait_stored(Duration::from_secs(20)),
        "{:?}",
        sink.stats()
    );

    server.stop();
    let mut errors = Vec::new();
    for n in 2..6 {
        if let Err(e) = sink.send(&alert(n)) {
            errors.push(e.to_string());
        }
        std::thread::sleep(Duration::from_millis(700));
    }
    assert_eq!(errors.len(), 1, "one report per outage: {errors:?}");
    assert!(errors[0].contains("wait in memory"), "{}", errors[0]);
    assert!(!errors[0].contains('\n'), "{}", errors[0]);
    assert!(sink.stats().waiting > 0);

    server.restart();
    assert!(
        sink.wait_stored(Duration::from_secs(30)),
        "{:?}",
        sink.stats()
    );
    sink.send(&alert(6)).unwrap();
    sink.flush().unwrap();
    let store = Store::open(&url).unwrap();
    let got: Vec<String> = store
        .alerts_since("2026-11-30", 0, 100)
        .unwrap()
        .into_iter()
        .map(|a| a.alert.event_id)
        .collect();
    let want: Vec<String> = (0..7).map(|n| format!("run1-w07-{n}-0")).collect();
    assert_eq!(got, want);
}

/// A month of the record read as the office reads it: the rankings, the weekly and monthly
/// trends, the counts per clause; every number drills down to exactly the hits it counted; the
/// workbook reads back with the same numbers.
#[test]
fn a_months_numbers_drill_down_to_their_evidence() {
    use courtesy::report::drill::{self, Drill};
    use courtesy::report::trend::{self, Granularity};
    use courtesy::report::{self, Period, Subject};

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("r.db").to_str().unwrap()).unwrap();
    crate::weeks::fill(&store, &dir.path().join("clips"));
    let period = Period::range(
        crate::weeks::day(crate::weeks::FIRST),
        crate::weeks::day(crate::weeks::LAST),
    )
    .unwrap();
    let r = report::query(&store, period, None).unwrap();

    let ranking: Vec<(&str, Option<usize>)> = r
        .windows
        .iter()
        .map(|w| (w.window.as_str(), w.rank))
        .collect();
    assert_eq!(
        ranking,
        [("w03", Some(1)), ("w01", Some(2)), ("w02", Some(3))]
    );
    assert_eq!(
        r.staff
            .iter()
            .map(|s| s.staff_id.as_str())
            .collect::<Vec<_>>(),
        ["S03", "S01", "S02"]
    );
    assert!(r.hits.len() > 20, "{} hits", r.hits.len());

    // Every count leads to exactly its hits.
    for w in &r.windows {
        let e = drill::evidence(&r, Drill::Window(w.window.clone()));
        assert_eq!(e.hits.len() as i64, w.totals.banned_hits, "{}", w.window);
        assert_eq!(e.sessions.len() as i64, w.totals.sessions, "{}", w.window);
    }
    for s in &r.staff {
        let e = drill::evidence(&r, Drill::Staff(s.staff_id.clone()));
        assert_eq!(e.hits.len() as i64, s.totals.banned_hits, "{}", s.staff_id);
        assert!(e.hits.iter().all(|h| h.staff_name == s.name));
    }
    let clauses = drill::clauses(&r);
    assert_eq!(
        clauses.len(),
        1,
        "every banned phrase is in the regulation's 三、禁忌用语"
    );
    assert_eq!(clauses[0].hits, r.hits.len());
    assert_eq!(clauses[0].phrases[0].phrase, "有意见找领导去");
    assert_eq!(clauses[0].windows, 3);
    for p in &clauses[0].phrases {
        assert_eq!(
            drill::evidence(&r, Drill::Phrase(p.phrase.clone()))
                .hits
                .len(),
            p.hits
        );
    }

    // Four ISO weeks; w02's banned hits grow week by week and the weeks add up to the month.
    let weeks = trend::trend(&r, Granularity::Week);
    assert_eq!(
        weeks
            .buckets
            .iter()
            .map(|b| b.key.as_str())
            .collect::<Vec<_>>(),
        ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    );
    let w02 = |value: fn(&trend::TrendRow) -> Option<f64>| -> Vec<f64> {
        let series = weeks.series(Subject::Window, value);
        let w02 = series.into_iter().find(|s| s.0 == "w02").unwrap().2;
        w02.into_iter().map(|v| v.unwrap()).collect()
    };
    let banned = w02(|row| Some(row.banned_hits as f64));
    assert!(
        banned.windows(2).all(|p| p[0] <= p[1]) && banned[0] < banned[3],
        "{banned:?}"
    );
    let scores = w02(|row| row.score);
    assert!(
        scores[0] > scores[3],
        "the score falls as the hits grow: {scores:?}"
    );
    let months = trend::trend(&r, Granularity::Month);
    assert_eq!(months.buckets.len(), 1);
    for w in &r.windows {
        let row = months
            .rows
            .iter()
            .find(|t| t.subject == Subject::Window && t.id == w.window)
            .unwrap();
        assert_eq!(row.banned_hits, w.totals.banned_hits);
        assert_eq!(row.score, w.score, "a month's mean is the period's mean");
    }

    // A week's drill-down is the report of that week, filtered.
    let week = &weeks.buckets[3];
    let wr = report::query(
        &store,
        Period::range(crate::weeks::day(&week.from), crate::weeks::day(&week.to)).unwrap(),
        None,
    )
    .unwrap();
    let w02_week = weeks
        .rows
        .iter()
        .find(|t| t.id == "w02" && t.bucket == week.key)
        .unwrap();
    assert_eq!(
        drill::evidence(&wr, Drill::Window("w02".into())).hits.len() as i64,
        w02_week.banned_hits
    );

    // The workbook of the month, read back.
    use calamine::{Data, Reader, Xlsx};
    let mut bytes = Vec::new();
    report::xlsx::write(&r, &mut bytes).unwrap();
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let windows = book.worksheet_range("窗口排名").unwrap();
    for (i, w) in r.windows.iter().enumerate() {
        assert_eq!(
            windows.get((i + 1, 1)),
            Some(&Data::String(w.window.clone()))
        );
        assert_eq!(
            windows.get((i + 1, 11)),
            Some(&Data::Float(w.totals.banned_hits as f64))
        );
    }
    let weekly = book.worksheet_range("周趋势").unwrap();
    assert_eq!(weekly.height(), 1 + weeks.rows.len());
}
