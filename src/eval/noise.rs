//! Hall noise for the labelled set: a noise recording mixed into every clip at a chosen SNR.
//!
//! The level of speech and of noise is each one's *active* level: the mean power of the 20 ms
//! frames within 30 dB of its loudest frame (and above −60 dBFS), so the pauses of a clip or the
//! gaps between announcements do not dilute it (the idea of ITU-T P.56, simplified). The noise is
//! calibrated once over the whole file, so every clip hears the hall at the same loudness relative
//! to its speech; each clip takes its stretch of the noise from an offset derived from its id
//! (looping), the same on every run.

use std::path::{Path, PathBuf};

use super::{audio_path, Labelled};
use crate::audio::SAMPLE_RATE;

const FRAME: usize = SAMPLE_RATE as usize / 50;
/// Frames quieter than this many dB below the loudest are pauses.
const ACTIVE_RANGE_DB: f64 = 30.0;
/// Frames below −60 dBFS are never active.
const FLOOR_POWER: f64 = 1e-6;

/// A noise recording and the level it is mixed at.
#[derive(Debug, Clone)]
pub struct Noise {
    pub file: PathBuf,
    pub samples: Vec<f32>,
    /// Active power of `samples` (see the module's description).
    pub power: f64,
    pub snr_db: f64,
}

impl Noise {
    /// Reads `file` (any WAV; converted to 16 kHz mono) to be mixed at `snr_db`.
    pub fn load(file: &Path, snr_db: f64) -> Result<Noise, String> {
        if !snr_db.is_finite() || !(-20.0..=60.0).contains(&snr_db) {
            return Err(format!(
                "--snr {snr_db}: give a signal-to-noise ratio from -20 to 60 dB"
            ));
        }
        let samples = crate::audio::read_wav(file).map_err(|e| {
            format!(
                "{}: cannot read the noise recording ({e}) — give a WAV file of hall noise",
                file.display()
            )
        })?;
        if samples.len() < SAMPLE_RATE as usize {
            return Err(format!(
                "{}: the noise recording is shorter than 1 s — give at least a few seconds of hall noise",
                file.display()
            ));
        }
        let power = active_power(&samples).ok_or_else(|| {
            format!(
                "{}: the noise recording is silent — give a recording of the hall's noise",
                file.display()
            )
        })?;
        Ok(Noise {
            file: file.to_path_buf(),
            samples,
            power,
            snr_db,
        })
    }

    /// `speech` with this noise added at the SNR, its stretch starting at `offset` (looping). A
    /// mix that would clip is scaled down as a whole, which keeps the ratio.
    pub fn mix(&self, speech: &[f32], offset: usize) -> Vec<f32> {
        let Some(speech_power) = active_power(speech) else {
            return speech.to_vec();
        };
        let gain = (speech_power / (self.power * 10f64.powf(self.snr_db / 10.0))).sqrt() as f32;
        let n = self.samples.len();
        let mut out: Vec<f32> = speech
            .iter()
            .enumerate()
            .map(|(i, &s)| s + gain * self.samples[(offset + i) % n])
            .collect();
        let peak = out.iter().fold(0f32, |m, s| m.max(s.abs()));
        if peak > 0.99 {
            let scale = 0.99 / peak;
            out.iter_mut().for_each(|s| *s *= scale);
        }
        out
    }

    /// Where a clip's stretch of noise starts: a hash of its id, the same on every run.
    pub fn offset(&self, id: &str) -> usize {
        // FNV-1a.
        let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        (hash % self.samples.len() as u64) as usize
    }

    /// Writes every clip of the set in `dir`, mixed with this noise, into `out` under the same
    /// names. Returns the clips that could not be read or written, one line each; the rest are
    /// mixed.
    pub fn mix_set(&self, dir: &Path, labels: &[Labelled], out: &Path) -> Vec<String> {
        let mut failures = Vec::new();
        for l in labels {
            let mixed = audio_path(dir, l)
                .and_then(|p| crate::audio::read_wav(&p).map_err(|e| e.to_string()))
                .map(|speech| self.mix(&speech, self.offset(&l.id)))
                .and_then(|mixed| {
                    let path = out.join(super::audio_name(&l.id));
                    crate::audio::write_wav(&path, &mixed).map_err(|e| {
                        format!("{}: cannot write the mixed clip ({e})", path.display())
                    })
                });
            if let Err(e) = mixed {
                failures.push(e);
            }
        }
        failures
    }

    /// "babble.wav at 10 dB SNR".
    pub fn describe(&self) -> String {
        let name = self
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.file.display().to_string());
        format!("{name} at {} dB SNR", self.snr_db)
    }
}

/// The mean power of the frames within 30 dB of the loudest (and above −60 dBFS); `None` when
/// there is no such frame.
pub fn active_power(samples: &[f32]) -> Option<f64> {
    let powers: Vec<f64> = samples
        .chunks(FRAME)
        .map(|f| f.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / f.len() as f64)
        .collect();
    let loudest = powers.iter().copied().fold(0f64, f64::max);
    let threshold = (loudest * 10f64.powf(-ACTIVE_RANGE_DB / 10.0)).max(FLOOR_POWER);
    let active: Vec<f64> = powers.into_iter().filter(|&p| p >= threshold).collect();
    (!active.is_empty()).then(|| active.iter().sum::<f64>() / active.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, seconds: f32, amp: f32) -> Vec<f32> {
        let n = (seconds * SAMPLE_RATE as f32) as usize;
        (0..n)
            .map(|i| {
                amp * (2.0 * std::f32::consts::PI * freq * i as f32 / SAMPLE_RATE as f32).sin()
            })
            .collect()
    }

    fn noise(samples: Vec<f32>, snr_db: f64) -> Noise {
        let power = active_power(&samples).unwrap();
        Noise {
            file: PathBuf::from("hall.wav"),
            samples,
            power,
            snr_db,
        }
    }

    fn db(ratio: f64) -> f64 {
        10.0 * ratio.log10()
    }

    #[test]
    fn the_mix_holds_the_asked_ratio_over_the_speech() {
        // Speech: 1 s of tone between two 1 s pauses. Noise: a different tone, much louder.
        let mut speech = vec![0.0; SAMPLE_RATE as usize];
        speech.extend(tone(440.0, 1.0, 0.3));
        speech.extend(vec![0.0; SAMPLE_RATE as usize]);
        for snr in [10.0, 5.0, 0.0] {
            let n = noise(tone(1234.0, 3.0, 0.9), snr);
            let mixed = n.mix(&speech, 0);
            let added: Vec<f32> = mixed.iter().zip(&speech).map(|(m, s)| m - s).collect();
            // The pauses do not dilute the speech's level: measured over the speaking second.
            let s = active_power(&speech).unwrap();
            let a = active_power(&added).unwrap();
            assert!(
                (db(s / a) - snr).abs() < 0.1,
                "{snr} dB asked, {} dB mixed",
                db(s / a)
            );
        }
    }

    #[test]
    fn a_mix_that_would_clip_is_scaled_down_whole() {
        let speech = tone(440.0, 1.0, 0.95);
        let n = noise(tone(1234.0, 1.0, 0.5), 0.0);
        let mixed = n.mix(&speech, 0);
        assert!(mixed.iter().all(|s| s.abs() <= 0.99));
        // The same mix, scaled by one factor: the ratio is kept.
        let gain = (active_power(&speech).unwrap() / n.power).sqrt() as f32;
        let unscaled: Vec<f32> = speech
            .iter()
            .zip(&n.samples)
            .map(|(s, x)| s + gain * x)
            .collect();
        let k = 0.99 / unscaled.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!(k < 1.0);
        for (m, u) in mixed.iter().zip(&unscaled) {
            assert!((m - k * u).abs() < 1e-5);
        }
    }

    #[test]
    fn short_noise_loops_and_each_clip_keeps_its_offset() {
        let n = noise(tone(300.0, 1.0, 0.5), 10.0);
        let speech = tone(440.0, 2.5, 0.3);
        assert_eq!(n.mix(&speech, 7).len(), speech.len());
        assert_eq!(n.offset("L001"), n.offset("L001"));
        assert_ne!(n.offset("L001"), n.offset("L002"));
        assert!(n.offset("L001") < n.samples.len());
    }

    #[test]
    fn silent_speech_is_left_as_it_is_and_silent_noise_is_refused() {
        let n = noise(tone(300.0, 1.0, 0.5), 10.0);
        assert_eq!(n.mix(&[0.0; 1000], 0), vec![0.0; 1000]);
        assert_eq!(active_power(&[0.0; 16000]), None);
    }

    #[test]
    fn an_unreadable_noise_file_or_a_wild_snr_is_one_line_naming_the_fix() {
        let e = Noise::load(Path::new("/nonexistent/hall.wav"), 10.0).unwrap_err();
        assert!(
            e.contains("/nonexistent/hall.wav") && e.contains("WAV file of hall noise"),
            "{e}"
        );
        let e = Noise::load(Path::new("hall.wav"), f64::NAN).unwrap_err();
        assert!(e.contains("--snr"), "{e}");
    }
}
