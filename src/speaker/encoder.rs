//! The GE2E speaker encoder of Resemblyzer, run in Rust: 40-band mel frames → 3-layer LSTM 256 → linear 256 + ReLU → L2-normalised voice.

use std::path::Path;

use super::torch::{load_state, Tensor};

/// Mel frames per partial utterance (1.6 s).
const PARTIAL: usize = 160;
/// 16 kHz samples per mel frame (10 ms) and per FFT window (25 ms).
const HOP: usize = 160;
const N_FFT: usize = 400;
const N_MELS: usize = 40;
const HIDDEN: usize = 256;
/// Partial utterances per second of speech, and how much of the last one must be audio.
const RATE: f64 = 1.3;
const MIN_COVERAGE: f64 = 0.75;
/// Utterances shorter than this are not embedded: too little voice to tell whose it is.
pub const MIN_SECONDS: f64 = 1.0;

/// A loaded speaker encoder.
pub struct Encoder {
    layers: Vec<Layer>,
    linear_w: Vec<f32>,
    linear_b: Vec<f32>,
    mel: Vec<f32>,
    /// DFT basis, `(2 × bins) × N_FFT`: cos rows then −sin rows, Hann window folded in.
    basis: Vec<f32>,
}

struct Layer {
    input: usize,
    /// `4·HIDDEN × input` and `4·HIDDEN × HIDDEN`, row-major; gates i, f, g, o.
    w_ih: Vec<f32>,
    w_hh: Vec<f32>,
    bias: Vec<f32>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("layers", &self.layers.len())
            .finish()
    }
}

/// `C = A · Bᵀ` for row-major `A: m×k`, `B: n×k`, `C: m×n` (C overwritten unless `add`).
fn matmul_t(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize, add: bool) {
    // SAFETY: the slices hold m·k, n·k and m·n floats (checked below); strides describe them.
    assert!(a.len() >= m * k && b.len() >= n * k && c.len() >= m * n);
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            1,
            k as isize,
            if add { 1.0 } else { 0.0 },
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Encoder {
    /// Loads Resemblyzer's `pretrained.pt`.
    pub fn load(path: &Path) -> Result<Encoder, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let state = load_state(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>, String> {
            let t: &Tensor = state
                .get(name)
                .ok_or_else(|| format!("{}: no tensor {name}", path.display()))?;
            if t.shape != shape {
                return Err(format!(
                    "{}: {name} has shape {:?}, not {shape:?}",
                    path.display(),
                    t.shape
                ));
            }
            Ok(t.data.clone())
        };
        let mut layers = Vec::new();
        for l in 0..3 {
            let input = if l == 0 { N_MELS } else { HIDDEN };
            let b_ih = get(&format!("lstm.bias_ih_l{l}"), &[4 * HIDDEN])?;
            let b_hh = get(&format!("lstm.bias_hh_l{l}"), &[4 * HIDDEN])?;
            layers.push(Layer {
                input,
                w_ih: get(&format!("lstm.weight_ih_l{l}"), &[4 * HIDDEN, input])?,
                w_hh: get(&format!("lstm.weight_hh_l{l}"), &[4 * HIDDEN, HIDDEN])?,
                bias: b_ih.iter().zip(&b_hh).map(|(a, b)| a + b).collect(),
            });
        }
        let bins = N_FFT / 2 + 1;
        let mut basis = vec![0f32; N_FFT * 2 * bins];
        for t in 0..N_FFT {
            // Periodic Hann, as scipy.signal.get_window("hann", n_fft) (librosa's default).
            let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * t as f64 / N_FFT as f64).cos();
            for k in 0..bins {
                let ang = 2.0 * std::f64::consts::PI * (k * t % N_FFT) as f64 / N_FFT as f64;
                basis[k * N_FFT + t] = (w * ang.cos()) as f32;
                basis[(bins + k) * N_FFT + t] = (-w * ang.sin()) as f32;
            }
        }
        Ok(Encoder {
            layers,
            linear_w: get("linear.weight", &[HIDDEN, HIDDEN])?,
            linear_b: get("linear.bias", &[HIDDEN])?,
            mel: crate::model::mel::mel_filters(16_000, N_FFT, N_MELS),
            basis,
        })
    }

    /// `librosa.feature.melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40)`:
    /// centred frames (zero padding), power spectrum, Slaney mel bands; `frames × 40`.
    pub fn mel_frames(&self, wav: &[f32]) -> Vec<f32> {
        let bins = N_FFT / 2 + 1;
        let frames = 1 + wav.len() / HOP;
        let pad = N_FFT / 2;
        let mut windows = vec![0f32; frames * N_FFT];
        for f in 0..frames {
            for t in 0..N_FFT {
                let i = (f * HOP + t) as isize - pad as isize;
                if i >= 0 && (i as usize) < wav.len() {
                    windows[f * N_FFT + t] = wav[i as usize];
                }
            }
        }
        let mut spec = vec![0f32; frames * 2 * bins];
        matmul_t(
            &windows,
            &self.basis,
            &mut spec,
            frames,
            N_FFT,
            2 * bins,
            false,
        );
        let mut power = vec![0f32; frames * bins];
        for f in 0..frames {
            for k in 0..bins {
                let (re, im) = (spec[f * 2 * bins + k], spec[f * 2 * bins + bins + k]);
                power[f * bins + k] = re * re + im * im;
            }
        }
        let mut mel = vec![0f32; frames * N_MELS];
        matmul_t(&power, &self.mel, &mut mel, frames, bins, N_MELS, false);
        mel
    }

    /// The voice of an utterance (16 kHz mono): the L2-normalised mean of its partial
    /// utterances' embeddings; `None` when it is shorter than [`MIN_SECONDS`] or silent.
    pub fn embed(&self, samples: &[f32]) -> Option<Vec<f32>> {
        if (samples.len() as f64) < MIN_SECONDS * 16_000.0 {
            return None;
        }
        // normalize_volume(wav, -30 dBFS, increase_only=True)
        let rms = (samples.iter().map(|x| x * x).sum::<f32>() / samples.len() as f32).sqrt();
        if rms <= 1e-6 {
            return None;
        }
        let gain = (10f32.powf(-30.0 / 20.0) / rms).max(1.0);
        let n = samples.len();
        let n_frames = (n + 1).div_ceil(HOP);
        let step = ((16_000.0 / RATE) / HOP as f64).round() as usize;
        let steps = (n_frames + step + 1).saturating_sub(PARTIAL).max(1);
        let mut starts: Vec<usize> = (0..steps).step_by(step).collect();
        let last = *starts.last()? * HOP;
        let coverage = (n as f64 - last as f64) / (PARTIAL * HOP) as f64;
        if coverage < MIN_COVERAGE && starts.len() > 1 {
            starts.pop();
        }
        let end = (starts.last()? + PARTIAL) * HOP;
        let mut wav: Vec<f32> = samples.iter().map(|x| x * gain).collect();
        wav.resize(wav.len().max(end), 0.0);
        let mel = self.mel_frames(&wav);
        let mut batch = vec![0f32; starts.len() * PARTIAL * N_MELS];
        for (b, &s) in starts.iter().enumerate() {
            batch[b * PARTIAL * N_MELS..(b + 1) * PARTIAL * N_MELS]
                .copy_from_slice(&mel[s * N_MELS..(s + PARTIAL) * N_MELS]);
        }
        let embeds = self.forward(&batch, starts.len());
        let mut mean = vec![0f32; HIDDEN];
        for e in embeds.chunks_exact(HIDDEN) {
            for (m, x) in mean.iter_mut().zip(e) {
                *m += x;
            }
        }
        normalised(mean)
    }

    /// The LSTM over `batch` partials of `PARTIAL × N_MELS` frames each; their embeddings.
    fn forward(&self, x: &[f32], batch: usize) -> Vec<f32> {
        let g4 = 4 * HIDDEN;
        let mut input = x.to_vec();
        let mut h = vec![0f32; batch * HIDDEN];
        for layer in &self.layers {
            // Input projections of every frame at once: (batch·T) × 4H.
            let mut pre = vec![0f32; batch * PARTIAL * g4];
            matmul_t(
                &input,
                &layer.w_ih,
                &mut pre,
                batch * PARTIAL,
                layer.input,
                g4,
                false,
            );
            let mut c = vec![0f32; batch * HIDDEN];
            h = vec![0f32; batch * HIDDEN];
            let mut out = vec![0f32; batch * PARTIAL * HIDDEN];
            let mut gates = vec![0f32; batch * g4];
            for t in 0..PARTIAL {
                for b in 0..batch {
                    let row = &pre[(b * PARTIAL + t) * g4..(b * PARTIAL + t + 1) * g4];
                    for (j, g) in gates[b * g4..(b + 1) * g4].iter_mut().enumerate() {
                        *g = row[j] + layer.bias[j];
                    }
                }
                matmul_t(&h, &layer.w_hh, &mut gates, batch, HIDDEN, g4, true);
                for b in 0..batch {
                    let g = &gates[b * g4..(b + 1) * g4];
                    for j in 0..HIDDEN {
                        let i = sigmoid(g[j]);
                        let f = sigmoid(g[HIDDEN + j]);
                        let gg = g[2 * HIDDEN + j].tanh();
                        let o = sigmoid(g[3 * HIDDEN + j]);
                        let cj = f * c[b * HIDDEN + j] + i * gg;
                        c[b * HIDDEN + j] = cj;
                        let hj = o * cj.tanh();
                        h[b * HIDDEN + j] = hj;
                        out[(b * PARTIAL + t) * HIDDEN + j] = hj;
                    }
                }
            }
            input = out;
        }
        let mut e = vec![0f32; batch * HIDDEN];
        matmul_t(&h, &self.linear_w, &mut e, batch, HIDDEN, HIDDEN, false);
        let mut embeds = Vec::with_capacity(batch * HIDDEN);
        for row in e.chunks_exact(HIDDEN) {
            let relu: Vec<f32> = row
                .iter()
                .zip(&self.linear_b)
                .map(|(x, b)| (x + b).max(0.0))
                .collect();
            embeds.extend(normalised(relu).unwrap_or_else(|| vec![0.0; HIDDEN]));
        }
        embeds
    }
}

/// `v / |v|`, or `None` for a zero vector.
pub fn normalised(mut v: Vec<f32>) -> Option<Vec<f32>> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm <= 0.0 || !norm.is_finite() {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Some(v)
}

/// The mean of `voices`, each weighted (by its seconds of speech), normalised; `None` when there
/// are none or they cancel out.
pub fn weighted_mean<'a>(voices: impl IntoIterator<Item = (&'a [f32], f32)>) -> Option<Vec<f32>> {
    let mut sum: Vec<f32> = Vec::new();
    for (v, w) in voices {
        sum.resize(v.len(), 0.0);
        for (s, x) in sum.iter_mut().zip(v) {
            *s += x * w;
        }
    }
    normalised(sum)
}

/// Cosine similarity of two L2-normalised voices.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
