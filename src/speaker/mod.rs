//! Speaker roles: whether staff or the citizen said an utterance, from two microphones' levels or one microphone's voice.
//!
//! A [`Speaker`] rides on every utterance. Only staff utterances (and, with
//! `[score] count_unknown`, unknown ones) raise alerts and count in scores; citizens'
//! utterances are kept and labelled. [`channels`] attributes by the staff and citizen
//! microphones' energy on two-channel recorders and intercoms; on one microphone, [`encoder`]
//! (Resemblyzer's GE2E network, read by [`torch`] and [`pickle`]) turns an utterance into a voice
//! and [`voices`] tells the staff's voice, present across a day's sessions (or enrolled, see
//! [`enroll`]), from the citizens'.

pub mod channels;
pub mod encoder;
pub mod enroll;
pub mod install;
pub mod pickle;
pub mod running;
pub mod torch;
pub mod voices;

use crate::vad::SpeechSegment;

/// Who said an utterance.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Staff,
    Citizen,
    #[default]
    Unknown,
}

impl Role {
    /// The name the record and every output use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Citizen => "citizen",
            Role::Unknown => "unknown",
        }
    }

    /// Reads a stored name; anything else is [`Role::Unknown`].
    pub fn parse(s: &str) -> Role {
        match s {
            "staff" => Role::Staff,
            "citizen" => Role::Citizen,
            _ => Role::Unknown,
        }
    }

    /// What people read (工作人员 / 群众 / 未知).
    pub fn label(self) -> &'static str {
        match self {
            Role::Staff => "工作人员",
            Role::Citizen => "群众",
            Role::Unknown => "未知",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who said an utterance, and how sure the attribution is (0–1).
///
/// Serialized flat beside the utterance's other fields: `"speaker": "staff",
/// "speaker_confidence": 0.93`.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Speaker {
    #[serde(rename = "speaker", default)]
    pub role: Role,
    #[serde(rename = "speaker_confidence", default)]
    pub confidence: f32,
}

impl Speaker {
    /// Nothing to tell by: unknown, confidence 0.
    pub const UNKNOWN: Speaker = Speaker {
        role: Role::Unknown,
        confidence: 0.0,
    };

    pub fn new(role: Role, confidence: f32) -> Speaker {
        Speaker {
            role,
            confidence: if confidence.is_finite() {
                confidence.clamp(0.0, 1.0)
            } else {
                0.0
            },
        }
    }

    /// Whether this utterance raises alerts and counts in scores (`[score] count_unknown`).
    pub fn counts(&self, count_unknown: bool) -> bool {
        match self.role {
            Role::Staff => true,
            Role::Citizen => false,
            Role::Unknown => count_unknown,
        }
    }
}

/// `[speaker]`: what counts, and how voices are told apart.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpeakerConfig {
    /// Two channels: how many dB the louder microphone must lead by, in a 10 ms block, for
    /// the block to vote for its side (bleed between the microphones is usually 10–20 dB down).
    pub channel_margin_db: f32,
}

impl Default for SpeakerConfig {
    fn default() -> Self {
        SpeakerConfig {
            channel_margin_db: 3.0,
        }
    }
}

impl SpeakerConfig {
    pub fn validate(&self) -> Result<(), String> {
        crate::config::in_range(
            "speaker.channel_margin_db",
            self.channel_margin_db.into(),
            0.0,
            40.0,
        )
    }
}

/// A window's microphones, counted from 0: which channel is the staff's, which the citizen's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowChannels {
    pub staff: usize,
    pub citizen: usize,
}

/// Attributes the utterances of the windows of one run.
#[derive(Debug, Clone, Default)]
pub struct Attributor {
    config: SpeakerConfig,
    /// Per window id: its two microphones, when it has them.
    channels: Vec<(String, WindowChannels)>,
    /// The speaker-embedding model, when installed (one-microphone windows use it).
    encoder: Option<std::sync::Arc<encoder::Encoder>>,
}

impl Attributor {
    /// From the configuration: `[speaker]` and each `[[window]]`'s `staff_channel`/`citizen_channel`.
    pub fn new(config: &crate::config::Config) -> Attributor {
        Attributor {
            config: config.speaker.clone(),
            channels: config
                .window
                .iter()
                .filter_map(|w| Some((w.id.clone(), w.channels()?)))
                .collect(),
            encoder: None,
        }
    }

    /// For a run over recordings (`analyze`, `batch`): [`Attributor::new`], with the installed
    /// speaker-embedding model when there is one. A model that cannot be read is one warning;
    /// one-microphone windows then stay unattributed and the run goes on.
    pub fn for_run(config: &crate::config::Config) -> Attributor {
        let path = install::default_path();
        if !path.exists() {
            return Attributor::new(config);
        }
        Attributor::new(config)
            .with_voices(&path)
            .unwrap_or_else(|e| {
                eprintln!("warning: {e} — one-microphone windows stay unattributed");
                Attributor::new(config)
            })
    }

    /// With the speaker-embedding model at `path` (one-microphone windows are then told apart
    /// by voice); a model that cannot be read is one line naming it.
    pub fn with_voices(mut self, path: &std::path::Path) -> Result<Attributor, String> {
        self.encoder = Some(std::sync::Arc::new(encoder::Encoder::load(path)?));
        Ok(self)
    }

    /// The voice of `segment` at a one-microphone `window`, when the model is loaded and the
    /// utterance is long enough to embed.
    pub fn voice(&self, window: &str, segment: &SpeechSegment) -> Option<Vec<f32>> {
        if self.channels_of(window).is_some() {
            return None;
        }
        self.encoder.as_ref()?.embed(&segment.samples)
    }

    /// Whether one-microphone windows are told apart by voice in this run.
    pub fn hears_voices(&self) -> bool {
        self.encoder.is_some()
    }

    /// A window's microphones, if it has two.
    pub fn channels_of(&self, window: &str) -> Option<WindowChannels> {
        self.channels
            .iter()
            .find(|(id, _)| id == window)
            .map(|&(_, c)| c)
    }

    /// Who said `segment` at `window`.
    pub fn attribute(&self, window: &str, segment: &SpeechSegment) -> Speaker {
        match self.channels_of(window) {
            Some(c) => channels::attribute(&segment.levels, c, self.config.channel_margin_db),
            None => Speaker::UNKNOWN,
        }
    }

    pub fn config(&self) -> &SpeakerConfig {
        &self.config
    }

    /// Who `segment` sounds like at `window`, as far as telling turns apart needs: its side on a
    /// two-microphone window, its voice on one microphone (with the model loaded), else nothing.
    pub fn turn(&self, window: &str, segment: &SpeechSegment) -> Turn {
        match self.channels_of(window) {
            Some(_) => match self.attribute(window, segment).role {
                Role::Unknown => Turn::Unheard,
                role => Turn::Side(role),
            },
            None => self
                .voice(window, segment)
                .map_or(Turn::Unheard, Turn::Voice),
        }
    }
}

/// Who one speech segment sounds like, before anything is transcribed: a long-form Whisper call
/// never joins two segments of different speakers, so no utterance mixes the staff's words with
/// the citizen's (text is never split at token times: [`crate::asr::Worker::transcribe_window`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// Nothing tells (one microphone without the voice model, or too short to judge).
    Unheard,
    /// The microphone that heard it louder.
    Side(Role),
    /// Its voice (a GE2E embedding).
    Voice(Vec<f32>),
}

impl Turn {
    /// Whether `next` may be the same speaker going on: a side that differs, or a voice clearly
    /// unlike this one, is a change of turn; a segment nothing tells about changes nothing.
    pub fn continues(&self, next: &Turn) -> bool {
        match (self, next) {
            (Turn::Side(a), Turn::Side(b)) => a == b,
            // Only a voice clearly unlike the turn's (below the band left unknown around
            // `same`) changes it: a short segment of the same voice can fall just under `same`.
            (Turn::Voice(a), Turn::Voice(b)) => {
                let t = voices::Thresholds::default();
                encoder::similarity(a, b) >= t.same - t.band
            }
            _ => true,
        }
    }

    /// This turn after `next` (which [`Turn::continues`] it) was said too: a voice becomes the
    /// mean of both, weighted by their seconds (`so_far`, `seconds`), so it steadies as the turn
    /// goes on rather than hanging on the last short segment.
    pub fn then(self, next: Turn, so_far: f64, seconds: f64) -> Turn {
        match (self, next) {
            (turn, Turn::Unheard) => turn,
            (Turn::Voice(a), Turn::Voice(b)) => {
                let mean =
                    encoder::weighted_mean([(&a[..], so_far as f32), (&b[..], seconds as f32)]);
                Turn::Voice(mean.unwrap_or(b))
            }
            (_, next) => next,
        }
    }
}

/// A voice (speaker embedding) as the record keeps it: JSON floats, 4 decimals.
pub fn voice_json(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{:.4}", x)).collect();
    format!("[{}]", parts.join(","))
}

/// A stored voice back (`None` when it is not a JSON array of numbers).
pub fn parse_voice(s: &str) -> Option<Vec<f32>> {
    serde_json::from_str(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_staff_and_optionally_unknown_count() {
        assert!(Speaker::new(Role::Staff, 0.9).counts(false));
        assert!(!Speaker::new(Role::Citizen, 0.9).counts(true));
        assert!(Speaker::UNKNOWN.counts(true));
        assert!(!Speaker::UNKNOWN.counts(false));
    }

    #[test]
    fn names_round_trip_and_serialize_flat() {
        for r in [Role::Staff, Role::Citizen, Role::Unknown] {
            assert_eq!(Role::parse(r.as_str()), r);
        }
        assert_eq!(Role::parse("somebody"), Role::Unknown);
        let json = serde_json::to_string(&Speaker::new(Role::Citizen, 2.0)).unwrap();
        assert_eq!(json, r#"{"speaker":"citizen","speaker_confidence":1.0}"#);
    }
}
