//! Mono samples at any rate in, contiguous 16 kHz frames out: the one framing path of every file source.
//!
//! A file source only decodes: it implements [`Decode`] (append the next block of mono samples,
//! say when the file ends and with which error). [`Framed`] resamples, cuts fixed-length frames
//! with sample-counted start times, counts samples that are not numbers (NaN, ±inf: silenced
//! before resampling, reported once per file), and yields the deferred error once after the last
//! frame — the contract of [`AudioSource`](super::AudioSource), kept in one place.

use std::path::{Path, PathBuf};

use super::error::{AudioError, NonFinite, Repr};
use super::resample::StreamResampler;
use super::{AudioFrame, Levels, DEFAULT_FRAME_SAMPLES, LEVEL_BLOCK, SAMPLE_RATE};

/// What a [`Decode::read`] call found after appending its samples.
pub(crate) enum Step {
    /// More may follow.
    More,
    /// The end of the readable audio; `Some` when the file ended badly.
    End(Option<AudioError>),
}

/// A decoder of one file to mono samples, block by block.
pub(crate) trait Decode: Send {
    /// Appends the next block of mono samples to `out`, all at one rate: [`Decode::rate`] as
    /// it is after the call. Blocks stay small (a packet, a few thousand frames) so memory is
    /// flat however long the file is.
    fn read(&mut self, out: &mut Vec<f32>) -> Step;

    /// The rate of the samples the last `read` appended (the stored rate before the first).
    fn rate(&self) -> u32;

    /// Moves the squares of each channel of the input frames the last `read` appended into
    /// `out` (interleaved) and returns the channel count; 0 (nothing moved) for a mono source
    /// or a decoder that keeps no levels.
    fn take_power(&mut self, _out: &mut Vec<f32>) -> usize {
        0
    }
}

/// A [`Decode`] turned into an iterator of 16 kHz frames.
pub(crate) struct Framed<D> {
    path: PathBuf,
    decoder: D,
    rate: u32,
    resampler: StreamResampler,
    block: Vec<f32>,
    ready: Vec<f32>,
    ready_pos: usize,
    emitted: u64,
    frame_samples: usize,
    state: State,
    deferred: Option<AudioError>,
    /// Decoded (mono, stored-rate) samples so far, and those that were NaN or infinite.
    non_finite: NonFinite,
    /// Seconds of input decoded so far (the rate may change part-way).
    input_s: f64,
    /// Per-channel squares of decoded input frames not yet framed (interleaved), the input
    /// frame index of the first, and the channel count (0: no levels kept).
    power: Vec<f32>,
    power_base: u64,
    power_channels: usize,
    levels_off: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    Draining,
    Done,
}

impl<D: Decode> Framed<D> {
    pub(crate) fn new(path: &Path, decoder: D) -> Result<Framed<D>, AudioError> {
        let rate = decoder.rate();
        let resampler =
            StreamResampler::new(rate).map_err(|e| AudioError::new(path, Repr::Resampler(e)))?;
        Ok(Framed {
            path: path.to_path_buf(),
            decoder,
            rate,
            resampler,
            block: Vec::new(),
            ready: Vec::new(),
            ready_pos: 0,
            emitted: 0,
            frame_samples: DEFAULT_FRAME_SAMPLES,
            state: State::Reading,
            deferred: None,
            non_finite: NonFinite::default(),
            input_s: 0.0,
            power: Vec::new(),
            power_base: 0,
            power_channels: 0,
            levels_off: false,
        })
    }

    /// Frame length in 16 kHz samples (at least 1).
    pub(crate) fn set_frame_samples(&mut self, n: usize) {
        self.frame_samples = n.max(1);
    }

    pub(crate) fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// Decodes one block into `ready`; at the end, flushes the resampler and starts draining.
    fn fill(&mut self) {
        self.block.clear();
        let step = self.decoder.read(&mut self.block);
        let mut end = match step {
            Step::More => None,
            Step::End(err) => Some(err),
        };
        let rate = self.decoder.rate();
        self.count_non_finite(rate);
        self.keep_power(rate);
        if rate != self.rate {
            // A stream that changes rate part-way (it happens in MP3): finish the old filter,
            // start a new one; the timeline counts output samples, so it stays contiguous.
            let switched = self
                .resampler
                .finish(&mut self.ready)
                .and_then(|()| StreamResampler::new(rate));
            match switched {
                Ok(r) => {
                    self.resampler = r;
                    self.rate = rate;
                }
                Err(e) => {
                    self.block.clear();
                    let err = AudioError::new(&self.path, Repr::Resampler(e));
                    end = Some(Some(end.flatten().unwrap_or(err)));
                }
            }
        }
        if let Err(e) = self.resampler.push(&self.block, &mut self.ready) {
            let err = AudioError::new(&self.path, Repr::Resampler(e));
            end = Some(Some(end.flatten().unwrap_or(err)));
        }
        let Some(err) = end else { return };
        self.deferred = err;
        if let Err(e) = self.resampler.finish(&mut self.ready) {
            self.deferred
                .get_or_insert(AudioError::new(&self.path, Repr::Resampler(e)));
        }
        if self.non_finite.count > 0 {
            // Once per file: on its own, or beside the error the file ended with.
            let nf = self.non_finite;
            self.deferred = Some(match self.deferred.take() {
                None => AudioError::new(&self.path, Repr::NonFinite(nf)),
                Some(e) => e.with_non_finite(nf),
            });
        }
        self.state = State::Draining;
    }

    /// Counts the samples of the block just decoded that are not numbers. The resampler turns
    /// them into silence; without a count, an all-NaN recording would just seem quiet.
    fn count_non_finite(&mut self, rate: u32) {
        let nf = &mut self.non_finite;
        if let Some(i) = self.block.iter().position(|x| !x.is_finite()) {
            if nf.count == 0 {
                nf.first_s = self.input_s + i as f64 / rate.max(1) as f64;
            }
            nf.count += self.block[i..].iter().filter(|x| !x.is_finite()).count() as u64;
        }
        nf.total += self.block.len() as u64;
        self.input_s += self.block.len() as f64 / rate.max(1) as f64;
    }

    /// Keeps the channels' squares of the block just decoded. Levels need one fixed rate and
    /// channel count to line up with the 16 kHz timeline: a stream that changes either, or a
    /// read that brings none, keeps none from then on.
    fn keep_power(&mut self, rate: u32) {
        let before = self.power.len();
        let channels = self.decoder.take_power(&mut self.power);
        let first = self.power_base == 0 && before == 0 && self.emitted == 0;
        let lined_up = channels > 0
            && rate == self.rate
            && (self.power_channels == channels || (self.power_channels == 0 && first));
        if lined_up && !self.levels_off {
            self.power_channels = channels;
        } else {
            self.levels_off = true;
            self.power_channels = 0;
            self.power.clear();
        }
    }

    /// The levels of the 16 kHz samples `from..from + n`, and forgets the squares before them.
    fn take_levels(&mut self, from: u64, n: usize) -> Levels {
        let channels = self.power_channels;
        if channels == 0 {
            return Levels::default();
        }
        let to_input = |out: u64| out * self.rate as u64 / SAMPLE_RATE as u64;
        let held = (self.power.len() / channels) as u64;
        let mut power = Vec::with_capacity(n.div_ceil(LEVEL_BLOCK) * channels);
        for a in (0..n).step_by(LEVEL_BLOCK) {
            let b = (a + LEVEL_BLOCK).min(n);
            let lo = to_input(from + a as u64).saturating_sub(self.power_base);
            let hi = to_input(from + b as u64)
                .saturating_sub(self.power_base)
                .max(lo + 1);
            let (lo, hi) = (lo.min(held) as usize, hi.min(held) as usize);
            for c in 0..channels {
                let sum: f32 = (lo..hi).map(|i| self.power[i * channels + c]).sum();
                power.push(sum / (hi - lo).max(1) as f32);
            }
        }
        let done = to_input(from + n as u64)
            .saturating_sub(self.power_base)
            .min(held);
        self.power.drain(..done as usize * channels);
        self.power_base += done;
        Levels { channels, power }
    }

    fn take_frame(&mut self, n: usize) -> AudioFrame {
        let samples = self.ready[self.ready_pos..self.ready_pos + n].to_vec();
        self.ready_pos += n;
        // Compact now and then rather than shifting on every frame.
        if self.ready_pos > 1 << 16 {
            self.ready.drain(..self.ready_pos);
            self.ready_pos = 0;
        }
        let levels = self.take_levels(self.emitted, n);
        let frame = AudioFrame {
            start: self.emitted as f64 / SAMPLE_RATE as f64,
            samples,
            levels,
        };
        self.emitted += n as u64;
        frame
    }
}

impl<D: Decode> Iterator for Framed<D> {
    type Item = Result<AudioFrame, AudioError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let available = self.ready.len() - self.ready_pos;
            if available >= self.frame_samples {
                return Some(Ok(self.take_frame(self.frame_samples)));
            }
            match self.state {
                State::Reading => self.fill(),
                State::Draining if available > 0 => return Some(Ok(self.take_frame(available))),
                State::Draining => {
                    self.state = State::Done;
                    return self.deferred.take().map(Err);
                }
                State::Done => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields `blocks` of 1000 samples at the given rates, then ends with `fail`.
    struct Script {
        rates: Vec<u32>,
        at: usize,
        fail: bool,
        rate: u32,
    }

    impl Decode for Script {
        fn read(&mut self, out: &mut Vec<f32>) -> Step {
            if self.at == self.rates.len() {
                let err = self.fail.then(|| {
                    AudioError::new(
                        Path::new("x.mp3"),
                        Repr::Truncated {
                            read_s: 1.0,
                            declared_s: 2.0,
                        },
                    )
                });
                return Step::End(err);
            }
            self.rate = self.rates[self.at];
            self.at += 1;
            out.extend(std::iter::repeat_n(0.25, 1000));
            Step::More
        }

        fn rate(&self) -> u32 {
            self.rate
        }
    }

    fn run(rates: &[u32], fail: bool) -> Vec<Result<AudioFrame, AudioError>> {
        let script = Script {
            rates: rates.to_vec(),
            at: 0,
            fail,
            rate: rates.first().copied().unwrap_or(SAMPLE_RATE),
        };
        let mut framed = Framed::new(Path::new("x.mp3"), script).unwrap();
        framed.set_frame_samples(700);
        framed.collect()
    }

    #[test]
    fn frames_are_contiguous_and_the_error_comes_last() {
        let items = run(&[16_000; 5], true);
        let (last, frames) = items.split_last().unwrap();
        assert!(last.is_err());
        let frames: Vec<&AudioFrame> = frames.iter().map(|f| f.as_ref().unwrap()).collect();
        let total: usize = frames.iter().map(|f| f.samples.len()).sum();
        assert_eq!(total, 5_000);
        for pair in frames.windows(2) {
            assert!((pair[0].end() - pair[1].start).abs() < 1e-12);
        }
        assert!(frames[..frames.len() - 1]
            .iter()
            .all(|f| f.samples.len() == 700));
    }

    #[test]
    fn a_rate_change_part_way_keeps_the_timeline() {
        // 2000 samples at 8 kHz then 2000 at 32 kHz: 4000 + 1000 samples at 16 kHz.
        let items = run(&[8_000, 8_000, 32_000, 32_000], false);
        let total: usize = items
            .iter()
            .map(|f| f.as_ref().unwrap().samples.len())
            .sum();
        assert_eq!(total, 5_000);
    }
}
