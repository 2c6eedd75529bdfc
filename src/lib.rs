//! `courtesy` scores how courteously service-window staff speak.
//!
//! The pipeline is linear and streaming-first. An audio source ([`audio`]) yields
//! [`audio::AudioFrame`]s at 16 kHz mono; the voice activity detector ([`vad`]) turns
//! them into [`vad::SpeechSegment`]s; Whisper ([`asr`]) turns each segment into a
//! [`asr::Transcript`]; the text stage ([`text`]) normalizes it into a
//! [`text::NormalizedText`] that remembers where every character came from; the
//! matcher ([`matcher`]) finds civil and banned lexicon phrases ([`lexicon`]) and
//! emits [`matcher::Hit`]s; [`score`] folds utterances and hits into a
//! [`score::WindowScore`] per window; [`sink`] prints or serializes the result.
//! [`pipeline`] wires the stages for recordings; [`model`] installs the Whisper weights.
//!
//! The text half runs without a model:
//!
//! ```
//! use courtesy::{lexicon::Lexicon, matcher::Matcher};
//! let lexicon = Lexicon::builtin().unwrap();
//! let matcher = Matcher::new(&lexicon);
//! let hits = matcher.find("有意見找領導去！");
//! assert_eq!(hits[0].phrase, "有意见找领导去");
//! ```

pub mod asr;
pub mod audio;
pub mod batch;
pub mod clock;
pub mod config;
pub mod desk;
pub mod error;
pub mod eval;
pub mod inside;
pub mod lexicon;
pub mod live;
pub mod matcher;
pub mod message;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod review;
pub mod roster;
pub mod score;
pub mod serve;
pub mod sink;
pub mod speaker;
pub mod store;
pub mod text;
pub mod training;
pub mod utterance;
pub mod vad;
pub mod window_id;
