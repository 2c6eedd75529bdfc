//! End-pointing per window: a live stream of frames becomes timed utterances ([`Job`]s) for Whisper.
//!
//! The speech detector is the batch one ([`Segmenter`]); this adds the clocks. Frames arrive in
//! real time, so each utterance learns *when* its speaker stopped (the arrival of the frame that
//! held the last voiced sample, back-dated by the samples after it) and the wall-clock time it began.

use std::time::{Duration, Instant};

use crate::audio::AudioFrame;
use crate::live::schedule::Job;
use crate::vad::{Segmenter, SpeechSegment, VadConfig};

/// One window's end-pointer.
#[derive(Debug)]
pub struct Listener {
    window: usize,
    vad: Segmenter,
    padding: f64,
    seq: u64,
    /// Wall-clock time of stream second 0.
    wall_origin: chrono::DateTime<chrono::Local>,
    /// The latest frame: its end (stream seconds) and when it arrived.
    last: Option<(f64, Instant)>,
}

impl Listener {
    /// `wall_origin` is the wall-clock time of the stream's second 0.
    pub fn new(
        window: usize,
        config: VadConfig,
        wall_origin: chrono::DateTime<chrono::Local>,
    ) -> Listener {
        Listener {
            window,
            padding: config.padding.max(0.0),
            vad: Segmenter::new(config),
            seq: 0,
            wall_origin,
            last: None,
        }
    }

    /// Feeds one frame that arrived at `arrived`; returns the utterances it closed.
    pub fn push(&mut self, frame: &AudioFrame, arrived: Instant) -> Vec<Job> {
        self.last = Some((frame.end(), arrived));
        let segments = self.vad.push(frame);
        segments.into_iter().map(|s| self.job(s)).collect()
    }

    /// The stream ended or stops: closes an utterance still open.
    pub fn finish(&mut self) -> Option<Job> {
        let segment = self.vad.finish()?;
        Some(self.job(segment))
    }

    fn job(&mut self, segment: SpeechSegment) -> Job {
        self.seq += 1;
        // The padding after the last voiced hop is not speech.
        let spoken_end = (segment.end - self.padding).max(segment.start);
        let speech_end = match self.last {
            Some((frame_end, arrived)) => {
                let behind = (frame_end - spoken_end).max(0.0);
                arrived
                    .checked_sub(Duration::from_secs_f64(behind))
                    .unwrap_or(arrived)
            }
            None => Instant::now(),
        };
        let wall_start = self.wall_origin
            + chrono::Duration::milliseconds((segment.start * 1000.0).round() as i64);
        Job {
            window: self.window,
            seq: self.seq,
            segment,
            speech_end,
            wall_start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utterance_is_dated_from_when_the_speaker_stopped() {
        // A real spoken sentence between silences.
        let sr = 16_000usize;
        let clip =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/labelled/L001.wav");
        let mut samples = vec![0.0f32; sr];
        samples.extend(crate::audio::read_wav(&clip).unwrap());
        samples.extend(vec![0.0f32; 2 * sr]);
        let origin = chrono::Local::now();
        let mut l = Listener::new(3, VadConfig::default(), origin);
        let t0 = Instant::now();
        let mut jobs = Vec::new();
        for (k, chunk) in samples.chunks(1600).enumerate() {
            let frame = AudioFrame {
                start: k as f64 * 0.1,
                samples: chunk.to_vec(),
                levels: Default::default(),
            };
            let arrived = t0 + Duration::from_secs_f64(frame.end());
            jobs.extend(l.push(&frame, arrived));
        }
        jobs.extend(l.finish());
        assert!(!jobs.is_empty(), "the sentence was not heard");
        for j in &jobs {
            assert_eq!(j.window, 3);
            let end = (j.speech_end - t0).as_secs_f64();
            // Frames arrive exactly at their stream time here, so the two clocks must agree.
            assert!((end - (j.segment.end - 0.3)).abs() < 0.05, "{end}");
            let wall = (j.wall_start - origin).num_milliseconds() as f64 / 1000.0;
            assert!((wall - j.segment.start).abs() < 0.002);
        }
        let seqs: Vec<u64> = jobs.iter().map(|j| j.seq).collect();
        assert_eq!(seqs, (1..=jobs.len() as u64).collect::<Vec<_>>());
    }
}
