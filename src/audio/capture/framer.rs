//! Interleaved device samples in, one 16 kHz mono frame per requested channel out, all in step.

use crate::audio::resample::StreamResampler;
use crate::audio::{AudioFrame, SAMPLE_RATE};

/// Splits the requested channels out of interleaved audio, resamples each to 16 kHz and cuts
/// them into equal frames that share start times.
///
/// Times count samples from `start`, so frames of one stream are exactly contiguous; only a new
/// stream (after a reconnect) gets a new `start` from the wall clock.
pub(crate) struct Framer {
    /// Index of each requested channel inside an interleaved frame.
    channels: Vec<usize>,
    /// Interleaved channels per input frame.
    width: usize,
    frame_samples: usize,
    resamplers: Vec<StreamResampler>,
    /// Per requested channel: de-interleaved input (reused) and 16 kHz output not yet framed.
    input: Vec<Vec<f32>>,
    output: Vec<Vec<f32>>,
    /// Seconds of the first sample of this stream, and 16 kHz samples framed since.
    start: f64,
    emitted: u64,
    /// Input samples of an interleaved frame split across two pushes.
    carry: Vec<f32>,
}

impl Framer {
    /// `channels` must all be below `width` (checked when the device was opened).
    pub(crate) fn new(
        channels: &[u16],
        width: usize,
        rate: u32,
        frame_samples: usize,
        start: f64,
    ) -> Result<Framer, String> {
        let resamplers = channels
            .iter()
            .map(|_| StreamResampler::new(rate))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Framer {
            channels: channels.iter().map(|&c| c as usize).collect(),
            width: width.max(1),
            frame_samples: frame_samples.max(1),
            resamplers,
            input: vec![Vec::new(); channels.len()],
            output: vec![Vec::new(); channels.len()],
            start,
            emitted: 0,
            carry: Vec::new(),
        })
    }

    /// Feeds interleaved samples (any length) and returns every complete frame set now ready.
    pub(crate) fn push(&mut self, interleaved: &[f32]) -> Result<Vec<Vec<AudioFrame>>, String> {
        let mut data = interleaved;
        let joined;
        if !self.carry.is_empty() {
            self.carry.extend_from_slice(interleaved);
            joined = std::mem::take(&mut self.carry);
            data = &joined;
        }
        let whole = data.len() - data.len() % self.width;
        for (k, &ch) in self.channels.iter().enumerate() {
            let input = &mut self.input[k];
            input.clear();
            input.extend(data[..whole].chunks_exact(self.width).map(|f| f[ch]));
            self.resamplers[k].push(input, &mut self.output[k])?;
        }
        self.carry.extend_from_slice(&data[whole..]);
        Ok(self.take(false))
    }

    /// Flushes the resamplers; returns the remaining frames, the last one possibly shorter.
    pub(crate) fn finish(&mut self) -> Result<Vec<Vec<AudioFrame>>, String> {
        for (r, out) in self.resamplers.iter_mut().zip(self.output.iter_mut()) {
            r.finish(out)?;
        }
        Ok(self.take(true))
    }

    /// Seconds just after the last sample framed so far.
    pub(crate) fn end(&self) -> f64 {
        self.start + self.emitted as f64 / SAMPLE_RATE as f64
    }

    fn take(&mut self, all: bool) -> Vec<Vec<AudioFrame>> {
        let mut sets = Vec::new();
        loop {
            // Every channel went through the same resampler with the same input, so the
            // lengths are equal; the minimum is only a guard.
            let ready = self.output.iter().map(Vec::len).min().unwrap_or(0);
            let n = if ready >= self.frame_samples {
                self.frame_samples
            } else if all && ready > 0 {
                ready
            } else {
                break;
            };
            let start = self.end();
            sets.push(
                self.output
                    .iter_mut()
                    .map(|out| AudioFrame {
                        start,
                        samples: out.drain(..n).collect(),
                        levels: Default::default(),
                    })
                    .collect(),
            );
            self.emitted += n as u64;
        }
        sets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * hz * i as f64 / rate as f64).sin()) as f32
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
    }

    #[test]
    fn picks_the_requested_channels_in_order_with_shared_contiguous_times() {
        // Three interleaved channels at 48 kHz: a tone, silence, a louder tone; ask for 2 then 0.
        let n = 48_000;
        let (a, c) = (tone(48_000, 440.0, n), tone(48_000, 1000.0, n));
        let mut interleaved = Vec::with_capacity(3 * n);
        for i in 0..n {
            interleaved.extend_from_slice(&[a[i], 0.0, 2.0 * c[i].clamp(-0.45, 0.45)]);
        }
        let mut framer = Framer::new(&[2, 1, 0], 3, 48_000, 1600, 7.0).unwrap();
        let mut sets = Vec::new();
        // Odd piece sizes split interleaved frames across pushes.
        for piece in interleaved.chunks(1001) {
            sets.extend(framer.push(piece).unwrap());
        }
        sets.extend(framer.finish().unwrap());
        let mut expected_start = 7.0;
        let mut total = 0;
        for set in &sets {
            assert_eq!(set.len(), 3);
            assert!(set.iter().all(|f| f.start == set[0].start));
            assert!((set[0].start - expected_start).abs() < 1e-9);
            expected_start = set[0].end();
            total += set[0].samples.len();
        }
        assert_eq!(total, 16_000);
        let joined = |k: usize| -> Vec<f32> {
            sets.iter()
                .flat_map(|s| s[k].samples.iter().copied())
                .collect()
        };
        let (ch2, ch1, ch0) = (joined(0), joined(1), joined(2));
        assert!(rms(&ch2[2000..14000]) > 0.55, "ch2 {}", rms(&ch2));
        assert!(rms(&ch1) < 1e-6, "ch1 {}", rms(&ch1));
        let r0 = rms(&ch0[2000..14000]);
        assert!((r0 - 0.3535).abs() < 0.01, "ch0 {r0}");
    }

    #[test]
    fn sixteen_khz_passes_through_in_exact_frames() {
        let mut framer = Framer::new(&[0], 1, 16_000, 1600, 0.0).unwrap();
        let sets = framer.push(&vec![0.25; 4000]).unwrap();
        assert_eq!(sets.len(), 2);
        assert!((framer.end() - 0.2).abs() < 1e-12);
        let rest = framer.finish().unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0][0].samples.len(), 800);
        assert!((rest[0][0].start - 0.2).abs() < 1e-12);
    }
}
