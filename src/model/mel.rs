//! Computes the Slaney-style mel filter bank that ggml Whisper files embed (librosa's
//! `filters.mel`).

/// Whisper's front end: 16 kHz audio, 400-point FFT (201 bins); the band count comes from the
/// model.
pub(crate) const SAMPLE_RATE: u32 = 16_000;
pub(crate) const N_FFT: usize = 400;

// Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn logstep() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / logstep()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (logstep() * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// `librosa.filters.mel(sr, n_fft, n_mels)` with fmin 0, fmax sr/2, htk=False, norm='slaney',
/// float32: row-major `n_mels × (n_fft/2 + 1)`.
///
/// The arithmetic follows librosa and numpy step by step (f64 math, the f32 store before the Slaney
/// normalisation) so the values match librosa's bit for bit (zeros are always +0.0); OpenAI
/// generated Whisper's filters with librosa.
pub(crate) fn mel_filters(sr: u32, n_fft: usize, n_mels: usize) -> Vec<f32> {
    let n_bins = n_fft / 2 + 1;
    if n_fft == 0 || n_mels == 0 {
        return Vec::new();
    }
    // np.fft.rfftfreq(n_fft, d=1/sr)
    let d = 1.0 / sr as f64;
    let val = 1.0 / (n_fft as f64 * d);
    let fftfreqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * val).collect();

    // mel_frequencies: np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2) mapped back to Hz.
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(sr as f64 / 2.0));
    let n_pts = n_mels + 2;
    let step = (hi - lo) / (n_pts - 1) as f64;
    let mel_f: Vec<f64> = (0..n_pts)
        .map(|i| {
            if i == n_pts - 1 {
                hi
            } else {
                i as f64 * step + lo
            }
        })
        .map(mel_to_hz)
        .collect();
    let fdiff: Vec<f64> = mel_f.windows(2).map(|w| w[1] - w[0]).collect();

    let mut weights = vec![0f32; n_mels * n_bins];
    for i in 0..n_mels {
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (k, &f) in fftfreqs.iter().enumerate() {
            let lower = -(mel_f[i] - f) / fdiff[i];
            let upper = (mel_f[i + 2] - f) / fdiff[i + 1];
            // Not `.max(0.0)`: which zero that returns for -0.0 varies with optimisation, and the
            // file must come out byte-identical from every build.
            let w = lower.min(upper);
            let w = if w > 0.0 { w as f32 } else { 0.0 };
            weights[i * n_bins + k] = (w as f64 * enorm) as f32;
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whisper_filters() -> Vec<f32> {
        mel_filters(SAMPLE_RATE, N_FFT, 80)
    }

    fn at(w: &[f32], row: usize, col: usize) -> f32 {
        w[row * 201 + col]
    }

    // Reference values from numpy running librosa 0.10's `filters.mel` code (re-typed, librosa
    // absent).
    #[test]
    fn spot_values_match_librosa() {
        let w = whisper_filters();
        assert_eq!(w.len(), 80 * 201);
        // (row, column, f32 bits): exact bit patterns, since the file must match byte for byte.
        let cases: &[(usize, usize, u32)] = &[
            (0, 1, 0x3ccb_aca4),    // 0.0248625949
            (1, 1, 0x3b02_7873),    // 0.00199082191
            (1, 2, 0x3cbb_5d95),    // 0.0228717718
            (20, 19, 0x3c33_c4be),  // 0.0109722
            (40, 43, 0x3c71_6d72),  // 0.0147355665
            (60, 93, 0x3bd7_fa18),  // 0.0065910928
            (79, 190, 0x3b12_47ab), // 0.00223205495
            (79, 199, 0x39eb_476a), // 0.000448759005
        ];
        for &(r, c, want) in cases {
            let got = at(&w, r, c);
            assert_eq!(
                got.to_bits(),
                want,
                "row {r} col {c}: {got} vs {}",
                f32::from_bits(want)
            );
        }
        assert_eq!(at(&w, 0, 0).to_bits(), 0, "+0.0, never -0.0");
        assert_eq!(at(&w, 79, 200), 0.0);
    }

    #[test]
    fn shape_sums_and_support_match_librosa() {
        let w = whisper_filters();
        assert_eq!(w.iter().filter(|&&x| x > 0.0).count(), 391);
        assert!(w.iter().all(|x| x.is_finite() && *x >= 0.0));
        let total: f64 = w.iter().map(|&x| x as f64).sum();
        assert!((total - 1.999_024_092_387_117).abs() < 1e-9, "{total}");
        let row_sum = |r: usize| -> f64 { (0..201).map(|c| at(&w, r, c) as f64).sum() };
        for (r, want) in [
            (0, 0.024_862_594_902_515_41),
            (1, 0.024_862_593_738_362_19),
            (40, 0.026_664_861_012_250_18),
            (79, 0.024_925_339_792_389_42),
        ] {
            assert!(
                (row_sum(r) - want).abs() < 1e-12,
                "row {r}: {} vs {want}",
                row_sum(r)
            );
        }
    }

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 440.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
        // 1000 / (200/3) is 14.999999999999998 in f64, in librosa too.
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn degenerate_sizes_do_not_panic() {
        assert!(mel_filters(16_000, 0, 80).is_empty());
        assert!(mel_filters(16_000, 400, 0).is_empty());
        assert_eq!(mel_filters(16_000, 1, 1).len(), 1);
    }
}
