//! What the page shows right now: each window's latest status and score, and the recent alerts.

use std::collections::VecDeque;

use crate::sink::event::{Alert, Event, ScoreUpdate, WindowStatus};

/// How many alerts a page gets when it (re)connects.
pub const RECENT_ALERTS: usize = 100;

/// The JSON snapshot of `/api/state`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct State {
    /// Configured windows first, in their order, then any window only the events named.
    pub windows: Vec<WindowState>,
    /// The last [`RECENT_ALERTS`] alerts, oldest first (the order they happened and are replayed in).
    pub alerts: Vec<Alert>,
}

/// One window on the page.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WindowState {
    pub id: String,
    pub label: String,
    /// The latest online/offline report; `None` until the window reported.
    pub status: Option<WindowStatus>,
    /// The latest rolling score; `None` until one was computed.
    pub score: Option<ScoreUpdate>,
}

/// The page's state, folded from the events.
#[derive(Debug, Clone)]
pub struct Board {
    windows: Vec<WindowState>,
    alerts: VecDeque<Alert>,
}

impl Board {
    /// A board with the configured windows (id, label), nothing reported yet.
    pub fn new(windows: &[(String, String)]) -> Board {
        let mut board = Board {
            windows: Vec::with_capacity(windows.len()),
            alerts: VecDeque::with_capacity(RECENT_ALERTS),
        };
        for (id, label) in windows {
            board.window(id, label);
        }
        board
    }

    /// Folds one event in. Events the page does not show change nothing.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Window(w) => self.window(&w.window, &w.label).status = Some(w.clone()),
            Event::Score(s) => self.window(&s.window, &s.label).score = Some(s.clone()),
            Event::Alert(a) => {
                self.window(&a.window, &a.label);
                if self.alerts.len() == RECENT_ALERTS {
                    self.alerts.pop_front();
                }
                self.alerts.push_back(a.clone());
            }
            Event::Utterance(_)
            | Event::Overrun(_)
            | Event::Dropped(_)
            | Event::Failure(_)
            | Event::Shutdown(_)
            | Event::Capacity(_)
            | Event::Load(_)
            | Event::Summary(_) => {}
        }
    }

    /// The events that rebuild this state on a fresh page: every window's status and score, then
    /// the recent alerts, oldest first.
    pub fn replay(&self) -> Vec<Event> {
        let mut events = Vec::new();
        for w in &self.windows {
            events.extend(w.status.clone().map(Event::Window));
            events.extend(w.score.clone().map(Event::Score));
        }
        events.extend(self.alerts.iter().cloned().map(Event::Alert));
        events
    }

    /// The snapshot for `/api/state`.
    pub fn state(&self) -> State {
        State {
            windows: self.windows.clone(),
            alerts: self.alerts.iter().cloned().collect(),
        }
    }

    /// The window with this id, added (with this label) when the configuration did not name it.
    /// A configured label wins over the one an event carries: the page's cards keep their names.
    fn window(&mut self, id: &str, label: &str) -> &mut WindowState {
        let i = match self.windows.iter().position(|w| w.id == id) {
            Some(i) => i,
            None => {
                self.windows.push(WindowState {
                    id: id.to_string(),
                    label: if label.is_empty() { id } else { label }.to_string(),
                    status: None,
                    score: None,
                });
                self.windows.len() - 1
            }
        };
        &mut self.windows[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Method;

    fn alert(n: usize) -> Alert {
        Alert {
            id: format!("w07-{n}-0"),
            window: "w07".into(),
            label: "7号窗口".into(),
            time: "2026-11-27T11:48:03.000+08:00".into(),
            phrase: "不知道".into(),
            category: "推诿".into(),
            severity: 2,
            clause: "文明服务用语规范 三、禁忌用语".into(),
            confidence: 1.0,
            method: Method::Exact,
            text: "这个我不知道".into(),
            matched: "不知道".into(),
            span: [6, 15],
            char_span: [3, 6],
            clip: None,
            latency: 1.0,
        }
    }

    fn score(window: &str, score: f64) -> Event {
        Event::Score(ScoreUpdate {
            window: window.into(),
            label: format!("{window} label"),
            time: "2026-11-27T11:48:03.000+08:00".into(),
            score: Some(score),
            utterances: 3,
            civil_hits: 1,
            banned_hits: 1,
        })
    }

    #[test]
    fn keeps_the_latest_score_and_configured_labels() {
        let mut board = Board::new(&[("w01".into(), "1号窗口".into())]);
        board.apply(&score("w01", 90.0));
        board.apply(&score("w01", 80.0));
        board.apply(&score("w09", 70.0));
        let state = board.state();
        assert_eq!(state.windows.len(), 2);
        assert_eq!(state.windows[0].label, "1号窗口");
        assert_eq!(state.windows[0].score.as_ref().unwrap().score, Some(80.0));
        assert_eq!(state.windows[1].label, "w09 label");
        assert!(state.windows[1].status.is_none());
    }

    #[test]
    fn keeps_the_recent_alerts_oldest_first() {
        let mut board = Board::new(&[]);
        for n in 0..RECENT_ALERTS + 5 {
            board.apply(&Event::Alert(alert(n)));
        }
        let state = board.state();
        assert_eq!(state.alerts.len(), RECENT_ALERTS);
        assert_eq!(state.alerts[0].id, "w07-5-0");
        assert_eq!(
            state.alerts.last().unwrap().id,
            format!("w07-{}-0", RECENT_ALERTS + 4)
        );
        let replay = board.replay();
        assert_eq!(replay.len(), RECENT_ALERTS);
        assert_eq!(replay[0], Event::Alert(alert(5)));
    }

    #[test]
    fn replays_status_and_score_before_alerts() {
        let mut board = Board::new(&[("w07".into(), "7号窗口".into())]);
        board.apply(&Event::Alert(alert(1)));
        board.apply(&score("w07", 95.0));
        board.apply(&Event::Window(WindowStatus {
            window: "w07".into(),
            label: "7号窗口".into(),
            time: "2026-11-27T11:48:03.000+08:00".into(),
            online: true,
            detail: "hw:1".into(),
        }));
        let kinds: Vec<&str> = board
            .replay()
            .iter()
            .map(|e| match e {
                Event::Window(_) => "window",
                Event::Score(_) => "score",
                Event::Alert(_) => "alert",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["window", "score", "alert"]);
    }
}
