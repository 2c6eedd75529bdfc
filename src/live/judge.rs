//! Judging live utterances: transcript → hits → debounced alerts, kept clips and rolling scores, as [`Event`]s.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::asr::Transcript;
use crate::lexicon::Kind;
use crate::live::schedule::Job;
use crate::matcher::Matcher;
use crate::score::{score_window, ScoreWeights};
use crate::sink::event::{rfc3339, Alert, Event, Failure, HeardUtterance, HitSummary, ScoreUpdate};
use crate::sink::Debouncer;
use crate::utterance::Utterance;

/// A window as the run knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowInfo {
    pub id: String,
    /// Display name for people (7号窗口); the id when none is configured.
    pub label: String,
}

/// What the judge needs besides the matcher.
#[derive(Debug, Clone)]
pub struct JudgeConfig {
    /// Where utterance clips go (`<dir>/<window>/<time>-<seq>.wav`).
    pub clip_dir: PathBuf,
    /// Keep every utterance's clip, not only those with a banned hit.
    pub keep_all_clips: bool,
    pub debounce: Duration,
    /// The rolling score covers this much of the window's recent speech.
    pub score_seconds: f64,
    pub weights: ScoreWeights,
    /// Makes alert ids unique across runs (the webhook's idempotency key).
    pub run_id: String,
    /// Who said each utterance: only staff's (and, with `count_unknown`, unknown) raise alerts.
    pub attributor: crate::speaker::Attributor,
    /// One-microphone windows (with the voice model): the voices enrolled and heard so far.
    pub voices: crate::speaker::running::RunningVoices,
}

/// Utterances whose speaker the judge remembers for a second hearing.
const REMEMBERED: usize = 256;

/// Turns transcripts into events; owns the per-window history behind the rolling scores.
#[derive(Debug)]
pub struct Judge {
    matcher: Matcher,
    windows: Vec<WindowInfo>,
    config: JudgeConfig,
    debouncer: Debouncer,
    history: Vec<VecDeque<Utterance>>,
    /// Seconds from end of speech to the alert, for every alert raised.
    pub alert_latencies: Vec<f64>,
    /// Seconds from end of speech to the transcript, for every utterance with text.
    pub utterance_latencies: Vec<f64>,
    pub utterances: u64,
    pub alerts: u64,
    /// Utterances heard a second time (`judge_again`).
    pub rechecked: u64,
    /// Who said the last utterances, by (window, seq): a second hearing is judged as the first
    /// was attributed (the voice is not learnt twice).
    spoken: VecDeque<((usize, u64), crate::speaker::Speaker)>,
    /// Clips cannot be written (the outage has been reported); cleared by the next clip written.
    clips_failing: bool,
}

impl Judge {
    pub fn new(matcher: Matcher, windows: Vec<WindowInfo>, config: JudgeConfig) -> Judge {
        Judge {
            matcher,
            history: windows.iter().map(|_| VecDeque::new()).collect(),
            windows,
            debouncer: Debouncer::new(config.debounce),
            config,
            alert_latencies: Vec::new(),
            utterance_latencies: Vec::new(),
            utterances: 0,
            alerts: 0,
            rechecked: 0,
            spoken: VecDeque::new(),
            clips_failing: false,
        }
    }

    /// Who said `job`: by its microphone on a two-microphone window, by its voice on one
    /// microphone when the voice model is loaded, else unknown.
    fn speaker(&mut self, job: &Job) -> crate::speaker::Speaker {
        let window = &self.windows[job.window].id;
        let attributor = &self.config.attributor;
        if attributor.channels_of(window).is_some() || !attributor.hears_voices() {
            return attributor.attribute(window, &job.segment);
        }
        let voice = attributor.voice(window, &job.segment);
        self.config.voices.attribute(
            window,
            voice,
            job.wall_start.fixed_offset(),
            job.segment.duration(),
        )
    }

    /// The events one transcribed utterance causes: its alerts first (they are what matters
    /// most), then the utterance itself and the window's new rolling score.
    pub fn judge(&mut self, job: &Job, transcript: &Transcript) -> Vec<Event> {
        if transcript.text.trim().is_empty() {
            return Vec::new();
        }
        let speaker = self.speaker(job);
        let win = &self.windows[job.window];
        let utterance =
            Utterance::from_transcript(&win.id, PathBuf::from(&win.id), transcript, &self.matcher)
                .spoken_by(speaker);
        let counts = speaker.counts(self.config.weights.count_unknown);
        self.spoken.push_back(((job.window, job.seq), speaker));
        while self.spoken.len() > REMEMBERED {
            self.spoken.pop_front();
        }
        self.utterances += 1;
        let latency = Instant::now()
            .saturating_duration_since(job.speech_end)
            .as_secs_f64();
        let mut events = Vec::new();
        let (banned, clip) = self.alerts(job, &utterance, counts, latency, "", &mut events);
        let win = &self.windows[job.window];
        self.utterance_latencies.push(latency);
        events.push(Event::Utterance(HeardUtterance {
            window: win.id.clone(),
            seq: job.seq,
            time: rfc3339(job.wall_start),
            start: utterance.start,
            end: utterance.end,
            text: utterance.text.clone(),
            speaker,
            hits: utterance
                .hits
                .iter()
                .zip(&banned)
                .map(|(h, &alerted)| HitSummary {
                    kind: h.hit.kind,
                    phrase: h.hit.phrase.clone(),
                    category: h.hit.category.clone(),
                    confidence: h.hit.confidence,
                    alerted,
                })
                .collect(),
            clip,
            latency,
        }));

        let w = job.window;
        let end = utterance.end;
        self.history[w].push_back(utterance);
        while self.history[w]
            .front()
            .is_some_and(|u| end - u.end > self.config.score_seconds)
        {
            self.history[w].pop_front();
        }
        let recent: Vec<&Utterance> = self.history[w].iter().collect();
        let score = score_window(&self.windows[w].id, &recent, &self.config.weights);
        events.push(Event::Score(ScoreUpdate {
            window: self.windows[w].id.clone(),
            label: self.windows[w].label.clone(),
            time: crate::sink::event::now_rfc3339(),
            score: score.score,
            utterances: score.utterances,
            civil_hits: score.civil_hits,
            banned_hits: score.banned_hits,
        }));
        events
    }

    /// Who said `job`, as its first hearing was attributed (while remembered).
    fn spoken_by(&self, job: &Job) -> Option<crate::speaker::Speaker> {
        self.spoken
            .iter()
            .rev()
            .find(|(key, _)| *key == (job.window, job.seq))
            .map(|&(_, speaker)| speaker)
    }

    /// Whether the utterance `job`, judged last, was said by someone whose banned phrases count.
    pub fn counts(&self, job: &Job) -> bool {
        self.spoken_by(job)
            .is_some_and(|s| s.counts(self.config.weights.count_unknown))
    }

    /// The events of an utterance heard a second time, with more context (`matcher::nearly`): an
    /// alert for each banned phrase the first hearing missed (the debouncer holds back those it
    /// raised), attributed as the first hearing was. The utterance, its hits and the rolling
    /// score stay as first heard.
    pub fn judge_again(&mut self, job: &Job, transcript: &Transcript) -> Vec<Event> {
        self.rechecked += 1;
        let Some(speaker) = self.spoken_by(job) else {
            return Vec::new();
        };
        if transcript.text.trim().is_empty() {
            return Vec::new();
        }
        let win = &self.windows[job.window];
        let utterance =
            Utterance::from_transcript(&win.id, PathBuf::from(&win.id), transcript, &self.matcher)
                .spoken_by(speaker);
        let counts = speaker.counts(self.config.weights.count_unknown);
        let latency = Instant::now()
            .saturating_duration_since(job.speech_end)
            .as_secs_f64();
        let mut events = Vec::new();
        self.alerts(job, &utterance, counts, latency, "again-", &mut events);
        events
    }

    /// Pushes the utterance's alerts (banned hits by someone who counts, past the debouncer) to
    /// `events`, with its clip when one is raised (or every clip is kept); returns which hits
    /// raised one, and the clip. `tag` keeps the ids of a second hearing's alerts apart.
    fn alerts(
        &mut self,
        job: &Job,
        utterance: &Utterance,
        counts: bool,
        latency: f64,
        tag: &str,
        events: &mut Vec<Event>,
    ) -> (Vec<bool>, Option<PathBuf>) {
        let win = &self.windows[job.window];
        let banned: Vec<bool> = utterance
            .hits
            .iter()
            .map(|h| {
                h.hit.kind == Kind::Banned
                    && counts
                    && self.debouncer.allow(&win.id, &h.hit.phrase, job.speech_end)
            })
            .collect();
        let clip = if self.config.keep_all_clips || banned.iter().any(|&b| b) {
            self.keep_clip(job, events)
        } else {
            None
        };
        let win = &self.windows[job.window];
        for (k, h) in utterance
            .hits
            .iter()
            .enumerate()
            .filter(|(k, _)| banned[*k])
        {
            let text = &utterance.text;
            let span = h.hit.span.clone();
            let char_start = text[..span.start].chars().count();
            let char_end = char_start + text[span.clone()].chars().count();
            let when = job.wall_start
                + chrono::Duration::milliseconds(
                    ((h.start - job.segment.start).max(0.0) * 1000.0) as i64,
                );
            events.push(Event::Alert(Alert {
                id: format!("{}-{}-{}-{tag}{}", self.config.run_id, win.id, job.seq, k),
                window: win.id.clone(),
                label: win.label.clone(),
                time: rfc3339(when),
                phrase: h.hit.phrase.clone(),
                category: h.hit.category.clone(),
                severity: h.hit.severity,
                clause: h.hit.clause.clone(),
                confidence: h.hit.confidence,
                method: h.hit.method,
                text: text.clone(),
                matched: h.hit.matched.clone(),
                span: [span.start, span.end],
                char_span: [char_start, char_end],
                clip: clip.clone(),
                latency,
            }));
            self.alerts += 1;
            self.alert_latencies.push(latency);
        }
        (banned, clip)
    }

    /// Writes the utterance's audio; returns its path relative to the clip folder. A failure is
    /// reported once per outage — a warning on stderr and a `failure` event pushed to `events`,
    /// ahead of the alert — and the alert goes out without a clip: an alert matters more than its
    /// audio.
    fn keep_clip(&mut self, job: &Job, events: &mut Vec<Event>) -> Option<PathBuf> {
        let win = &self.windows[job.window];
        // Ids are checked when they are read; escaping again here means no id, checked or
        // not, can put a clip outside the clip folder.
        let rel = PathBuf::from(crate::inside::component(&win.id)).join(format!(
            "{}-{:04}.wav",
            job.wall_start.format("%Y%m%d-%H%M%S"),
            job.seq
        ));
        let written = crate::inside::join(&self.config.clip_dir, &rel)
            .map_err(|e| e.to_string())
            .and_then(|path| crate::audio::write_wav(&path, &job.segment.samples));
        match written {
            Ok(()) => {
                self.clips_failing = false;
                Some(rel)
            }
            Err(e) => {
                if !self.clips_failing {
                    self.clips_failing = true;
                    let error = format!(
                        "{}: cannot write clips ({e}) — check the [live] clips folder; alerts go on without audio until it works",
                        self.config.clip_dir.display()
                    );
                    eprintln!("warning: {error}");
                    events.push(Event::Failure(Failure {
                        window: win.id.clone(),
                        time: crate::sink::event::now_rfc3339(),
                        what: "clip".into(),
                        file: Some(self.config.clip_dir.join(&rel)),
                        error,
                    }));
                }
                None
            }
        }
    }
}

/// The `q`-quantile (0–1) of `values`, nearest rank; `None` when empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::Lexicon;
    use crate::vad::SpeechSegment;
    use std::path::Path;

    fn judge(dir: &Path) -> Judge {
        Judge::new(
            Matcher::new(&Lexicon::builtin().unwrap()),
            vec![WindowInfo {
                id: "w07".into(),
                label: "7号窗口".into(),
            }],
            JudgeConfig {
                clip_dir: dir.to_path_buf(),
                keep_all_clips: false,
                debounce: Duration::from_secs(30),
                score_seconds: 3600.0,
                weights: ScoreWeights::default(),
                run_id: "r1".into(),
                attributor: Default::default(),
                voices: Default::default(),
            },
        )
    }

    fn heard(seq: u64, text: &str) -> (Job, Transcript) {
        let job = Job {
            window: 0,
            seq,
            segment: SpeechSegment {
                start: seq as f64 * 10.0,
                end: seq as f64 * 10.0 + 2.0,
                samples: vec![0.1; 32_000],
                levels: Default::default(),
            },
            speech_end: Instant::now(),
            wall_start: chrono::Local::now(),
        };
        let t = Transcript {
            start: job.segment.start,
            end: job.segment.end,
            text: text.into(),
            pieces: Vec::new(),
            rejected: Vec::new(),
        };
        (job, t)
    }

    #[test]
    fn banned_phrase_raises_one_alert_with_clip_and_highlight() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = judge(dir.path());
        let (job, t) = heard(1, "有意见找领导去！");
        let events = j.judge(&job, &t);
        let Event::Alert(a) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(a.phrase, "有意见找领导去");
        assert_eq!(a.label, "7号窗口");
        assert_eq!(a.char_span, [0, 7]);
        assert_eq!(a.id, "r1-w07-1-0");
        let clip = dir.path().join(a.clip.as_ref().unwrap());
        assert_eq!(crate::audio::read_wav(&clip).unwrap().len(), 32_000);
        assert!(matches!(events.last(), Some(Event::Score(s)) if s.banned_hits == 1));
    }

    #[test]
    fn repeats_are_debounced_and_polite_traps_stay_quiet() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = judge(dir.path());
        let (a, ta) = heard(1, "不知道。");
        let (b, tb) = heard(2, "不知道！");
        let (c, tc) = heard(3, "不知道您带身份证了吗？");
        let alerts = |ev: Vec<Event>| ev.iter().filter(|e| matches!(e, Event::Alert(_))).count();
        assert_eq!(alerts(j.judge(&a, &ta)), 1);
        assert_eq!(alerts(j.judge(&b, &tb)), 0);
        assert_eq!(alerts(j.judge(&c, &tc)), 0);
        assert_eq!(j.alerts, 1);
        // Only the alerted utterance kept a clip.
        assert_eq!(
            std::fs::read_dir(dir.path().join("w07")).unwrap().count(),
            1
        );
    }

    /// Issue 11, defect 6: a window id of `..` (a replayed file named `...wav`) put its clip
    /// outside the clip folder. Whatever the id, the clip stays inside.
    #[test]
    fn issue_11_a_clip_never_leaves_the_clip_folder() {
        let root = tempfile::tempdir().unwrap();
        let clips = root.path().join("clips");
        let long = "w".repeat(300);
        let wide = "窗".repeat(200);
        for id in [
            "..",
            "../..",
            ".",
            "a/../../b",
            "/abs",
            "..\\x",
            "C:\\Windows\\x",
            "\\\\server\\share",
            "a\0b",
            &long,
            &wide,
        ] {
            let mut j = judge(&clips);
            j.windows[0].id = id.into();
            let (job, t) = heard(1, "有意见找领导去！");
            let events = j.judge(&job, &t);
            let Event::Alert(a) = &events[0] else {
                panic!("{events:?}")
            };
            // Written (a 300-character id once made a name too long to create), and inside.
            let rel = a.clip.as_ref().unwrap_or_else(|| panic!("{id:?}: no clip"));
            {
                assert!(clips.join(rel).starts_with(&clips), "{id}: {rel:?}");
                assert!(clips.join(rel).is_file(), "{id}: {rel:?}");
                assert!(
                    rel.components()
                        .all(|c| matches!(c, std::path::Component::Normal(_))),
                    "{id}: {rel:?}"
                );
            }
            let outside: Vec<_> = std::fs::read_dir(root.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .filter(|n| n != "clips")
                .collect();
            assert!(outside.is_empty(), "{id}: {outside:?}");
        }
    }

    /// Issue 11: a window's clip folder that is a link out of the clip folder is not written
    /// through; the alert goes out without its clip.
    #[cfg(unix)]
    #[test]
    fn issue_11_a_link_in_the_clip_folder_is_not_followed_out() {
        let root = tempfile::tempdir().unwrap();
        let clips = root.path().join("clips");
        let outside = root.path().join("outside");
        std::fs::create_dir_all(&clips).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, clips.join("w07")).unwrap();
        let mut j = judge(&clips);
        let (job, t) = heard(1, "有意见找领导去！");
        let events = j.judge(&job, &t);
        let Some(Event::Alert(a)) = events.iter().find(|e| matches!(e, Event::Alert(_))) else {
            panic!("{events:?}")
        };
        assert_eq!(a.clip, None);
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert!(
            matches!(&events[0], Event::Failure(f) if f.what == "clip"),
            "{events:?}"
        );
    }

    /// Issue 11: a clip that could not be written was a line on stderr only, never a `failure`
    /// event nor counted. Now each outage is one event (ahead of the alert it concerns), and a
    /// clip written again ends the outage.
    #[test]
    fn issue_11_clips_that_cannot_be_written_are_one_failure_event_per_outage() {
        let root = tempfile::tempdir().unwrap();
        let clips = root.path().join("clips");
        // A file where the clip folder should be.
        std::fs::write(&clips, b"").unwrap();
        let mut j = judge(&clips);
        let failures = |events: &[Event]| -> Vec<Failure> {
            events
                .iter()
                .filter_map(|e| match e {
                    Event::Failure(f) => Some(f.clone()),
                    _ => None,
                })
                .collect()
        };
        // Different phrases, so that none is debounced.
        let (a, ta) = heard(1, "有意见找领导去！");
        let first = j.judge(&a, &ta);
        let f = failures(&first);
        assert_eq!(f.len(), 1, "{first:?}");
        assert_eq!((f[0].window.as_str(), f[0].what.as_str()), ("w07", "clip"));
        assert!(
            f[0].error.contains(&*clips.to_string_lossy()) && !f[0].error.contains('\n'),
            "{}",
            f[0].error
        );
        assert!(matches!(&first[1], Event::Alert(a) if a.clip.is_none()));
        let (b, tb) = heard(2, "不知道。");
        assert!(
            failures(&j.judge(&b, &tb)).is_empty(),
            "still the same outage"
        );
        // The folder comes back: clips are written again, and the next outage is reported.
        std::fs::remove_file(&clips).unwrap();
        let (c, tc) = heard(3, "我不管！");
        let back = j.judge(&c, &tc);
        assert!(failures(&back).is_empty());
        assert!(
            matches!(&back[0], Event::Alert(a) if a.clip.is_some()),
            "{back:?}"
        );
        std::fs::remove_dir_all(&clips).unwrap();
        std::fs::write(&clips, b"").unwrap();
        let (d, td) = heard(4, "快点，要下班了。");
        assert_eq!(failures(&j.judge(&d, &td)).len(), 1);
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(10.0));
        assert_eq!(quantile(&v, 0.95), Some(19.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
