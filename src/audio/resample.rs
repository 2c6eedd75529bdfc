//! Streaming conversion of mono audio at any rate to 16 kHz, chunk by chunk, with rubato.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Indexing, Resampler, SincInterpolationParameters,
    WindowFunction,
};

use super::{sanitize, SAMPLE_RATE};

/// Input frames per resampler call: big enough for a sharp anti-alias filter, small enough that
/// memory stays flat however long the recording is.
const CHUNK: usize = 4096;

/// Above this many input frames per exact-ratio block the FFT resampler gets huge (e.g. 44101 Hz
/// has no common factor with 16000), so an asynchronous sinc resampler takes over.
const MAX_FFT_BLOCK: usize = 8192;

/// Turns any mono input rate into 16 kHz, band-limited, keeping the timeline exact: after
/// [`finish`](Self::finish) the output holds exactly `ceil(n_in * 16000 / rate_in)` samples,
/// aligned with the input (rubato's start-up delay is trimmed).
///
/// Output samples are clamped to [-1, 1] (a band-limited filter can overshoot a full-scale input).
pub(crate) struct StreamResampler {
    rate_in: u32,
    /// `None` when the input is already 16 kHz: samples pass through untouched.
    inner: Option<Box<dyn Resampler<f32>>>,
    pending: Vec<f32>,
    scratch: Vec<f32>,
    to_trim: usize,
    total_in: u64,
    total_out: u64,
}

impl StreamResampler {
    pub(crate) fn new(rate_in: u32) -> Result<StreamResampler, String> {
        let inner: Option<Box<dyn Resampler<f32>>> = if rate_in == SAMPLE_RATE {
            None
        } else {
            let rate = rate_in as usize;
            let out = SAMPLE_RATE as usize;
            let block = rate / gcd(rate, out);
            let resampler: Box<dyn Resampler<f32>> = if block <= MAX_FFT_BLOCK {
                // One FFT block per chunk keeps the filter sharp; the exact ratio makes it cheap.
                Box::new(
                    Fft::<f32>::new_custom(
                        rate,
                        out,
                        CHUNK,
                        1,
                        1,
                        WindowFunction::BlackmanHarris2,
                        FixedSync::Input,
                    )
                    .map_err(|e| e.to_string())?,
                )
            } else {
                Box::new(
                    Async::<f32>::new_sinc(
                        out as f64 / rate as f64,
                        1.0,
                        &SincInterpolationParameters::new(256, WindowFunction::BlackmanHarris2),
                        CHUNK,
                        1,
                        FixedAsync::Input,
                    )
                    .map_err(|e| e.to_string())?,
                )
            };
            Some(resampler)
        };
        let to_trim = inner.as_ref().map_or(0, |r| r.output_delay());
        Ok(StreamResampler {
            rate_in,
            inner,
            pending: Vec::new(),
            scratch: Vec::new(),
            to_trim,
            total_in: 0,
            total_out: 0,
        })
    }

    /// Feeds any number of input samples; appends whatever 16 kHz output is ready to `out`.
    pub(crate) fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), String> {
        self.total_in += input.len() as u64;
        let Some(chunk) = self.inner.as_ref().map(|r| r.input_frames_next()) else {
            out.extend(input.iter().map(|&x| sanitize(x)));
            self.total_out += input.len() as u64;
            return Ok(());
        };
        self.pending.extend(input.iter().map(|&x| sanitize(x)));
        let mut used = 0;
        while self.pending.len() - used >= chunk {
            self.process(used, chunk, out)?;
            used += chunk;
        }
        self.pending.drain(..used);
        Ok(())
    }

    /// Flushes the filter tail; afterwards `out` has received exactly the expected length.
    pub(crate) fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), String> {
        let Some(chunk) = self.inner.as_ref().map(|r| r.input_frames_next()) else {
            return Ok(());
        };
        let expected = (self.total_in * SAMPLE_RATE as u64).div_ceil(self.rate_in as u64);
        let before = out.len();
        let valid = self.pending.len();
        self.pending.resize(chunk, 0.0);
        self.process(0, valid, out)?;
        // Zero input pushes the delayed tail out; bounded so a misbehaving resampler cannot hang us.
        let mut rounds = 0;
        while self.total_out < expected && rounds < 64 {
            self.pending.clear();
            self.pending.resize(chunk, 0.0);
            self.process(0, 0, out)?;
            rounds += 1;
        }
        self.pending.clear();
        if self.total_out > expected {
            let excess = ((self.total_out - expected) as usize).min(out.len() - before);
            out.truncate(out.len() - excess);
            self.total_out -= excess as u64;
        }
        Ok(())
    }

    /// Runs one resampler call on `pending[offset..]`, of which `valid` frames are real input.
    fn process(&mut self, offset: usize, valid: usize, out: &mut Vec<f32>) -> Result<(), String> {
        let Some(r) = self.inner.as_mut() else {
            return Ok(());
        };
        let need = r.input_frames_next();
        let cap = r.output_frames_max();
        self.scratch.resize(cap, 0.0);
        let input = InterleavedSlice::new(&self.pending[offset..offset + need], 1, need)
            .map_err(|e| e.to_string())?;
        let mut output =
            InterleavedSlice::new_mut(&mut self.scratch[..], 1, cap).map_err(|e| e.to_string())?;
        let indexing = (valid < need).then(|| Indexing::new().partial_len(valid));
        let (_, written) = r
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .map_err(|e| e.to_string())?;
        let skip = self.to_trim.min(written);
        self.to_trim -= skip;
        out.extend(self.scratch[skip..written].iter().map(|&x| sanitize(x)));
        self.total_out += (written - skip) as u64;
        Ok(())
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f64, secs: f64, amp: f32) -> Vec<f32> {
        let n = (rate as f64 * secs) as usize;
        (0..n)
            .map(|i| amp * (2.0 * std::f64::consts::PI * hz * i as f64 / rate as f64).sin() as f32)
            .collect()
    }

    fn run(rate: u32, input: &[f32], piece: usize) -> Vec<f32> {
        let mut r = StreamResampler::new(rate).unwrap();
        let mut out = Vec::new();
        for part in input.chunks(piece.max(1)) {
            r.push(part, &mut out).unwrap();
        }
        r.finish(&mut out).unwrap();
        out
    }

    #[test]
    fn exact_output_length_for_common_and_odd_rates() {
        for rate in [8_000, 11_025, 22_050, 44_100, 48_000, 96_000, 44_101, 7_999] {
            for n in [0usize, 1, 100, 4_095, 4_096, 12_345] {
                let out = run(rate, &vec![0.1; n], 1000);
                let expected = (n as u64 * 16_000).div_ceil(rate as u64) as usize;
                assert_eq!(out.len(), expected, "rate {rate}, n {n}");
            }
        }
    }

    #[test]
    fn tone_keeps_its_level_and_timing() {
        for rate in [8_000, 44_100, 48_000, 44_101] {
            let input = tone(rate, 440.0, 1.0, 0.5);
            let out = run(rate, &input, 777);
            // Compare with the ideal 16 kHz tone in the middle (edges see the filter's ramp).
            let ideal = tone(16_000, 440.0, 1.0, 0.5);
            let mid = 2_000..14_000;
            let err: f32 = mid
                .clone()
                .map(|i| (out[i] - ideal[i]).abs())
                .fold(0.0, f32::max);
            // The asynchronous path trims a whole number of output samples of delay, leaving
            // up to half a sample (31 µs) of lag: harmless for speech, visible here.
            let tolerance = if rate == 44_101 { 0.06 } else { 0.001 };
            assert!(err < tolerance, "rate {rate}: max error {err}");
        }
    }

    #[test]
    fn removes_content_above_8khz() {
        // 10 kHz cannot exist at 16 kHz; it must be filtered out, not folded down to 6 kHz.
        let out = run(48_000, &tone(48_000, 10_000.0, 1.0, 0.5), 4096);
        let rms = (out[2_000..14_000].iter().map(|x| x * x).sum::<f32>() / 12_000.0).sqrt();
        assert!(rms < 0.005, "alias rms {rms}");
    }

    #[test]
    fn non_finite_input_becomes_silence() {
        let mut input = tone(44_100, 440.0, 0.5, 0.5);
        input[1000] = f32::NAN;
        input[2000] = f32::INFINITY;
        let out = run(44_100, &input, 512);
        assert!(out.iter().all(|x| x.is_finite() && x.abs() <= 1.0));
    }
}
