//! Loads the installed ggml model with whisper-rs and transcribes WAV files: an end-to-end check of
//! the conversion (`cargo run --release --example whisper_check -- [--lang zh] [--model PATH] a.wav
//! ...`).

use std::path::PathBuf;
use std::time::Instant;

use courtesy::model;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// 16 kHz mono f32, resampled linearly if needed: good enough to prove the weights decode.
fn read_wav(path: &str) -> Result<Vec<f32>, String> {
    let mut r = hound::WavReader::open(path).map_err(|e| format!("{path}: {e}"))?;
    let spec = r.spec();
    let raw: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample.saturating_sub(1))) as f32;
            r.samples::<i32>()
                .map(|s| s.map(|s| s as f32 / scale))
                .collect::<Result<_, _>>()
        }
    }
    .map_err(|e| format!("{path}: {e}"))?;
    let ch = spec.channels.max(1) as usize;
    let mono: Vec<f32> = raw
        .chunks(ch)
        .map(|c| c.iter().sum::<f32>() / ch as f32)
        .collect();
    if spec.sample_rate == 16_000 || mono.len() < 2 {
        return Ok(mono);
    }
    let ratio = spec.sample_rate as f64 / 16_000.0;
    let n = (mono.len() as f64 / ratio) as usize;
    Ok((0..n)
        .map(|i| {
            let x = i as f64 * ratio;
            let (j, t) = (x as usize, (x - x.floor()) as f32);
            let b = mono.get(j + 1).copied().unwrap_or(mono[mono.len() - 1]);
            mono[j.min(mono.len() - 1)] * (1.0 - t) + b * t
        })
        .collect())
}

fn main() {
    let mut model_path = model::default_model_path(model::Quant::F16);
    let mut lang = "zh".to_string();
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--lang" => lang = args.next().unwrap_or(lang),
            "--model" => model_path = args.next().map(PathBuf::from).unwrap_or(model_path),
            _ => files.push(a),
        }
    }
    if let Err(e) = model::check_ggml(&model_path) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    let t = Instant::now();
    let ctx =
        match WhisperContext::new_with_params(&model_path, WhisperContextParameters::default()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!(
                    "error: whisper could not load {}: {e}",
                    model_path.display()
                );
                std::process::exit(1);
            }
        };
    eprintln!(
        "loaded {} in {:.2} s",
        model_path.display(),
        t.elapsed().as_secs_f64()
    );
    let Ok(mut state) = ctx.create_state() else {
        eprintln!("error: cannot create a whisper state");
        std::process::exit(1);
    };
    for f in &files {
        let audio = match read_wav(f) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("skip {e}");
                continue;
            }
        };
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_language(Some(&lang));
        if lang == "zh" {
            params.set_initial_prompt("以下是普通话的句子。");
        }
        params.set_n_threads(2);
        params.set_temperature_inc(0.0);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        let t = Instant::now();
        if let Err(e) = state.full(params, &audio) {
            eprintln!("{f}: whisper failed: {e}");
            continue;
        }
        let text: String = state
            .as_iter()
            .map(|s| s.to_str_lossy().map(|c| c.into_owned()).unwrap_or_default())
            .collect();
        println!(
            "{f}\t{:.1} s audio\t{:.2} s\t{}",
            audio.len() as f64 / 16_000.0,
            t.elapsed().as_secs_f64(),
            text.trim()
        );
    }
}
