//! Live capture through a real audio server: a private PulseAudio (scripts/pulse-server.sh) whose
//! null sinks stand in for the windows' microphones, recorded through ALSA's pulse plugin by cpal.
//!
//! ALSA reads where its configuration is from the environment once per process, and a test must
//! not change the environment of a multi-threaded test binary, so each test starts its own server
//! and re-runs itself in a child process that has the server's variables from the start.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use courtesy::audio::capture::{
    check, devices, run_device, CaptureErrorKind, CaptureEvent, CaptureOptions, DeviceSpec,
};
use courtesy::audio::{read_wav, AudioFrame, SAMPLE_RATE};

use crate::pulse::Pulse;
use crate::root;

/// Set in the child process that runs a test's body.
const CHILD: &str = "COURTESY_CAPTURE_CHILD";

// ---------------------------------------------------------------------------------------------
// The server and the child process

/// Runs `body` with a fresh server of `windows` mono sinks (plus the 2-channel `multi`): in this
/// process when it is the child, else by starting the server and re-running this one test
/// (`name`, as libtest spells it) in a child that has the server's variables.
fn in_pulse(name: &str, windows: usize, multi: bool, body: fn()) {
    if std::env::var_os(CHILD).is_some() {
        body();
        return;
    }
    let pulse = Pulse::start(windows, multi);
    let log = pulse.dir.join("child.log");
    let file = std::fs::File::create(&log).expect("child log");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .envs(pulse.env.iter().map(|(k, v)| (k, v)))
        .env(CHILD, "1")
        .current_dir(root())
        .stdout(Stdio::from(file.try_clone().expect("child log")))
        .stderr(Stdio::from(file))
        .spawn()
        .expect("re-run the test binary");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    println!("{output}");
    let status = status.unwrap_or_else(|| panic!("{name} took over 60 s:\n{output}"));
    assert!(
        status.success(),
        "{name} failed in its child process:\n{output}"
    );
    // A filter that matched nothing also exits 0.
    assert!(
        output.contains("test result: ok. 1 passed"),
        "{name} did not run in its child process:\n{output}"
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers for the bodies (they run in the child)

/// `run_device` on its own thread, recording every event with the moment it arrived.
struct Capture {
    began: Instant,
    stop: Arc<AtomicBool>,
    events: Arc<Mutex<Vec<(Instant, CaptureEvent)>>>,
    thread: Option<JoinHandle<()>>,
}

impl Capture {
    fn start(device: &str, channels: &[u16], options: CaptureOptions) -> Capture {
        let spec = DeviceSpec {
            device: device.to_string(),
            channels: channels.to_vec(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let events = Arc::new(Mutex::new(Vec::new()));
        let began = Instant::now();
        let thread = {
            let (stop, events) = (Arc::clone(&stop), Arc::clone(&events));
            std::thread::spawn(move || {
                run_device(&spec, &options, &stop, &mut |e| {
                    events.lock().unwrap().push((Instant::now(), e));
                })
            })
        };
        Capture {
            began,
            stop,
            events,
            thread: Some(thread),
        }
    }

    /// Waits until an event after the first `from` ones matches; returns its index.
    fn wait_for(
        &self,
        from: usize,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&CaptureEvent) -> bool,
    ) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let events = self.events.lock().unwrap();
                if let Some(i) = events.iter().skip(from).position(|(_, e)| pred(e)) {
                    return from + i;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "no {what} within {timeout:?}; events: {}",
                    summary(&self.events.lock().unwrap())
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn len(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    fn finish(mut self) -> Vec<(Instant, CaptureEvent)> {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.join().expect("capture thread");
        }
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

fn is_online(e: &CaptureEvent) -> bool {
    matches!(e, CaptureEvent::Online { .. })
}

fn is_offline(e: &CaptureEvent) -> bool {
    matches!(e, CaptureEvent::Offline { .. })
}

/// Events without the samples, for failure messages.
fn summary(events: &[(Instant, CaptureEvent)]) -> String {
    let mut out = Vec::new();
    let mut frames = 0;
    for (_, e) in events {
        match e {
            CaptureEvent::Frames(_) => frames += 1,
            other => {
                if frames > 0 {
                    out.push(format!("{frames} frame sets"));
                    frames = 0;
                }
                out.push(format!("{other:?}"));
            }
        }
    }
    if frames > 0 {
        out.push(format!("{frames} frame sets"));
    }
    out.join("; ")
}

/// The frame sets, in order.
fn frame_sets(events: &[(Instant, CaptureEvent)]) -> Vec<(Instant, Vec<AudioFrame>)> {
    events
        .iter()
        .filter_map(|(t, e)| match e {
            CaptureEvent::Frames(f) => Some((*t, f.clone())),
            _ => None,
        })
        .collect()
}

/// Channel `k` of the frame sets as one signal starting at the first frame's start.
fn channel(sets: &[(Instant, Vec<AudioFrame>)], k: usize) -> (f64, Vec<f32>) {
    let start = sets.first().map_or(0.0, |(_, f)| f[k].start);
    (
        start,
        sets.iter()
            .flat_map(|(_, f)| f[k].samples.iter().copied())
            .collect(),
    )
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// RMS per 20 ms window.
fn envelope(x: &[f32]) -> Vec<f64> {
    x.chunks(320).map(rms).collect()
}

/// Power of one frequency (Goertzel), for telling two tones apart.
fn tone_power(x: &[f32], hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / SAMPLE_RATE as f64;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = v as f64 + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.len().max(1) as f64).powi(2)
}

fn paplay(sink: &str, wav: &Path) {
    let status = Command::new("paplay")
        .args(["-d", sink])
        .arg(wav)
        .status()
        .expect("paplay (pulseaudio-utils) runs");
    assert!(
        status.success(),
        "paplay -d {sink} {} failed",
        wav.display()
    );
}

fn pactl(args: &[&str]) -> String {
    let out = Command::new("pactl")
        .args(args)
        .output()
        .expect("pactl runs");
    assert!(
        out.status.success(),
        "pactl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Contiguous timeline: each frame starts where the previous one ended.
fn assert_contiguous(sets: &[(Instant, Vec<AudioFrame>)], what: &str) {
    for pair in sets.windows(2) {
        let (prev, next) = (&pair[0].1[0], &pair[1].1[0]);
        assert!(
            (next.start - prev.end()).abs() < 1e-6,
            "{what}: frame at {:.4} s follows one ending at {:.4} s",
            next.start,
            prev.end()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn devices_lists_the_window_pcms() {
    in_pulse("capture::devices_lists_the_window_pcms", 2, true, || {
        let t = Instant::now();
        let list = devices().expect("devices()");
        println!("devices() took {:?}", t.elapsed());
        for d in &list {
            println!("{d:?}");
        }
        for name in ["win01", "win02", "multi"] {
            let d = list
                .iter()
                .find(|d| d.name == name)
                .unwrap_or_else(|| panic!("{name} not listed: {list:#?}"));
            assert!(d.channels >= 1, "{d:?}");
            assert!(d.description.contains("courtesy test window"), "{d:?}");
            assert!(d.error.is_none(), "{d:?}");
            assert!(
                d.sample_rates.0 <= 16_000 && d.sample_rates.1 >= 48_000,
                "{d:?}"
            );
        }
        // The default device is listed and marked.
        assert!(list.iter().any(|d| d.default), "{list:#?}");

        // A channel the device cannot have is a one-line error naming device and channel.
        let e = check(&DeviceSpec {
            device: "win01".into(),
            channels: vec![0, 200],
        })
        .unwrap_err();
        assert_eq!(e.kind(), CaptureErrorKind::Channels, "{e}");
        let text = e.to_string();
        assert!(
            text.contains("win01") && text.contains("channel 200"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
        check(&DeviceSpec {
            device: "win01".into(),
            channels: vec![0],
        })
        .expect("win01 channel 0 opens");
    });
}

#[test]
fn captures_what_is_played_into_a_window() {
    in_pulse(
        "capture::captures_what_is_played_into_a_window",
        1,
        false,
        || {
            let wav = root().join("samples/labelled/L003.wav");
            let reference = read_wav(&wav).expect("sample decodes");
            let cap = Capture::start("win01", &[0], CaptureOptions::default());
            let online = cap.wait_for(0, Duration::from_secs(8), "Online", is_online);
            let opened_after = cap.events.lock().unwrap()[online].0 - cap.began;
            // Some silence first, so "before" has frames.
            std::thread::sleep(Duration::from_millis(500));
            let played_at = cap.began.elapsed().as_secs_f64();
            paplay("win01", &wav);
            std::thread::sleep(Duration::from_millis(700));
            let began = cap.began;
            let events = cap.finish();
            println!("events: {}", summary(&events));
            println!("first audio {opened_after:?} after run_device began");

            assert!(
                !events.iter().any(|(_, e)| matches!(
                    e,
                    CaptureEvent::Overrun { .. } | CaptureEvent::Offline { .. }
                )),
                "overrun or offline during a plain capture: {}",
                summary(&events)
            );
            let sets = frame_sets(&events);
            assert_contiguous(&sets, "win01");
            assert!(sets.iter().all(|(_, f)| f.len() == 1));
            // All full 100 ms frames but the last (flushed at stop).
            assert!(sets[..sets.len() - 1]
                .iter()
                .all(|(_, f)| f[0].samples.len() == 1600));

            // How late a frame arrives after its last sample was (by our clock) captured.
            let mut lags: Vec<f64> = sets
                .iter()
                .map(|(t, f)| (*t - began).as_secs_f64() - f[0].end())
                .collect();
            lags.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!(
                "frame lag behind the wall clock: median {:.0} ms, max {:.0} ms",
                lags[lags.len() / 2] * 1e3,
                lags[lags.len() - 1] * 1e3
            );

            let (start, captured) = channel(&sets, 0);
            // Find the file in the capture: the lag that best lines up the energy envelopes.
            let (env_ref, env_cap) = (envelope(&reference), envelope(&captured));
            let mut best = (f64::MIN, 0usize);
            for lag in 0..env_cap.len().saturating_sub(env_ref.len()) {
                let c = correlation(&env_ref, &env_cap[lag..lag + env_ref.len()]);
                if c > best.0 {
                    best = (c, lag);
                }
            }
            let (corr, lag) = best;
            let found_at = start + lag as f64 * 0.02;
            println!(
            "envelope correlation {corr:.3}; the file starts at {found_at:.2} s, paplay started at {played_at:.2} s"
        );
            assert!(
                corr > 0.9,
                "captured audio does not follow the file (r = {corr:.3})"
            );
            assert!(
                found_at >= played_at - 0.3 && found_at < played_at + 1.0,
                "the file shows up at {found_at:.2} s, but paplay started at {played_at:.2} s"
            );
            let at = lag * 320;
            let during = rms(&captured[at..at + reference.len()]);
            let before = rms(&captured[..at.saturating_sub(1600)]);
            println!(
                "rms during {during:.4}, before {before:.6}, file {:.4}",
                rms(&reference)
            );
            assert!(
                during > 0.5 * rms(&reference),
                "captured level {during:.4} is too low"
            );
            assert!(
                during > 100.0 * before,
                "silence before ({before:.6}) is not silent"
            );
        },
    );
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma).powi(2);
        bb += (y - mb).powi(2);
    }
    ab / (aa * bb).sqrt().max(1e-12)
}

#[test]
fn delivers_each_requested_channel_of_a_multichannel_device() {
    in_pulse(
        "capture::delivers_each_requested_channel_of_a_multichannel_device",
        0,
        true,
        || {
            // Left: 440 Hz, right: 1000 Hz at half the level.
            let dir = tempfile::tempdir().expect("temp dir");
            let wav = dir.path().join("stereo.wav");
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: 48_000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(&wav, spec).expect("write wav");
            for i in 0..(48_000 * 3 / 2) {
                let t = i as f64 / 48_000.0;
                let l = 0.5 * (2.0 * std::f64::consts::PI * 440.0 * t).sin();
                let r = 0.25 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin();
                w.write_sample((l * 32767.0) as i16).unwrap();
                w.write_sample((r * 32767.0) as i16).unwrap();
            }
            w.finalize().unwrap();

            // Ask for right then left, to check the order is the spec's.
            let cap = Capture::start("multi", &[1, 0], CaptureOptions::default());
            cap.wait_for(0, Duration::from_secs(8), "Online", is_online);
            paplay("multi", &wav);
            std::thread::sleep(Duration::from_millis(500));
            let events = cap.finish();
            println!("events: {}", summary(&events));
            let sets = frame_sets(&events);
            assert!(sets
                .iter()
                .all(|(_, f)| f.len() == 2 && f[0].start == f[1].start));
            assert_contiguous(&sets, "multi");
            let (_, right) = channel(&sets, 0);
            let (_, left) = channel(&sets, 1);
            // The loudest second of the left channel is the tone.
            let loud = |x: &[f32]| -> Vec<f32> {
                let env = envelope(x);
                let peak = env.iter().cloned().fold(0.0, f64::max);
                let first = env.iter().position(|&e| e > 0.5 * peak).unwrap_or(0);
                x[first * 320 + 3200..(first * 320 + 3200 + 16_000).min(x.len())].to_vec()
            };
            let (l, r) = (loud(&left), loud(&right));
            let (l440, l1k) = (tone_power(&l, 440.0), tone_power(&l, 1000.0));
            let (r440, r1k) = (tone_power(&r, 440.0), tone_power(&r, 1000.0));
            println!(
                "left: rms {:.3}, 440 Hz {l440:.2e}, 1 kHz {l1k:.2e}; right: rms {:.3}, 440 Hz {r440:.2e}, 1 kHz {r1k:.2e}",
                rms(&l),
                rms(&r)
            );
            assert!((rms(&l) - 0.354).abs() < 0.05, "left level {:.3}", rms(&l));
            assert!((rms(&r) - 0.177).abs() < 0.03, "right level {:.3}", rms(&r));
            assert!(l440 > 100.0 * l1k, "channel 0 is not the 440 Hz tone");
            assert!(r1k > 100.0 * r440, "channel 1 is not the 1 kHz tone");
        },
    );
}

#[test]
fn an_unplugged_window_goes_offline_and_comes_back_while_the_other_keeps_going() {
    in_pulse(
        "capture::an_unplugged_window_goes_offline_and_comes_back_while_the_other_keeps_going",
        2,
        false,
        || {
            // Quicker retries than the default, to keep the test short.
            let options = CaptureOptions {
                retry_max: Duration::from_secs(1),
                ..CaptureOptions::default()
            };
            let w1 = Capture::start("win01", &[0], options.clone());
            let w2 = Capture::start("win02", &[0], options);
            w1.wait_for(0, Duration::from_secs(8), "win01 Online", is_online);
            let online = w2.wait_for(0, Duration::from_secs(8), "win02 Online", is_online);
            std::thread::sleep(Duration::from_millis(500));

            let module = pactl(&["list", "short", "modules"])
                .lines()
                .find(|l| l.contains("sink_name=win02"))
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
                .expect("win02's module");
            let unplugged = Instant::now();
            pactl(&["unload-module", &module]);
            let offline = w2.wait_for(online, Duration::from_secs(4), "win02 Offline", is_offline);
            let noticed = w2.events.lock().unwrap()[offline].0 - unplugged;
            println!(
                "win02 offline after {noticed:?}: {:?}",
                w2.events.lock().unwrap()[offline].1
            );

            std::thread::sleep(Duration::from_secs(1));
            let before_replug = w2.len();
            let replugged = Instant::now();
            pactl(&[
                "load-module",
                "module-null-sink",
                "sink_name=win02",
                "rate=48000",
                "channels=1",
            ]);
            let back = w2.wait_for(
                before_replug,
                Duration::from_secs(10),
                "win02 Online again",
                is_online,
            );
            let back_after = w2.events.lock().unwrap()[back].0 - replugged;
            println!("win02 online again {back_after:?} after the sink came back");
            w2.wait_for(
                back,
                Duration::from_secs(2),
                "win02 frames after reconnecting",
                |e| matches!(e, CaptureEvent::Frames(_)),
            );
            std::thread::sleep(Duration::from_millis(300));
            let (e1, e2) = (w1.finish(), w2.finish());
            println!("win01: {}", summary(&e1));
            println!("win02: {}", summary(&e2));

            // win01 never noticed: no Offline, contiguous frames, never a long wait for one.
            assert!(
                !e1.iter().any(|(_, e)| matches!(
                    e,
                    CaptureEvent::Offline { .. } | CaptureEvent::Overrun { .. }
                )),
                "win01 was disturbed: {}",
                summary(&e1)
            );
            let s1 = frame_sets(&e1);
            assert_contiguous(&s1, "win01");
            let gap = s1
                .windows(2)
                .map(|p| p[1].0 - p[0].0)
                .max()
                .unwrap_or_default();
            println!("win01 longest wait between frames: {gap:?}");
            assert!(gap < Duration::from_millis(500), "win01 paused for {gap:?}");
            let span = s1.last().unwrap().1[0].end() - s1[0].1[0].start;
            assert!(span > 3.0, "win01 delivered only {span:.1} s");

            // win02: frames before, frames after, and the timeline jumped over the outage.
            let s2 = frame_sets(&e2);
            let cut = e2[..back]
                .iter()
                .filter(|(_, e)| matches!(e, CaptureEvent::Frames(_)))
                .count();
            assert!(
                cut > 0 && cut < s2.len(),
                "win02 frames before {cut}, total {}",
                s2.len()
            );
            assert_contiguous(&s2[..cut], "win02 before");
            assert_contiguous(&s2[cut..], "win02 after");
            let jump = s2[cut].1[0].start - s2[cut - 1].1[0].end();
            println!("win02 timeline jumps {jump:.2} s over the outage");
            assert!(
                jump > 1.0,
                "win02's timeline jumped only {jump:.2} s over a 1 s+ outage"
            );
        },
    );
}

#[test]
fn a_window_that_stops_delivering_is_caught_by_the_stall_watchdog() {
    in_pulse(
        "capture::a_window_that_stops_delivering_is_caught_by_the_stall_watchdog",
        1,
        false,
        || {
            // A suspended sink's monitor neither errors nor delivers: only the watchdog sees it.
            let options = CaptureOptions {
                stall: Duration::from_secs(1),
                retry_max: Duration::from_secs(1),
                ..CaptureOptions::default()
            };
            let cap = Capture::start("win01", &[0], options);
            let online = cap.wait_for(0, Duration::from_secs(8), "Online", is_online);
            std::thread::sleep(Duration::from_millis(300));
            let suspended = Instant::now();
            pactl(&["suspend-sink", "win01", "1"]);
            let offline = cap.wait_for(online, Duration::from_secs(4), "Offline", is_offline);
            let noticed = cap.events.lock().unwrap()[offline].0 - suspended;
            let reason = format!("{:?}", cap.events.lock().unwrap()[offline].1);
            println!("offline after {noticed:?}: {reason}");
            assert!(reason.contains("stopped delivering audio"), "{reason}");
            pactl(&["suspend-sink", "win01", "0"]);
            let back = cap.wait_for(offline, Duration::from_secs(8), "Online again", is_online);
            cap.wait_for(back, Duration::from_secs(2), "frames", |e| {
                matches!(e, CaptureEvent::Frames(_))
            });
            let events = cap.finish();
            println!("events: {}", summary(&events));
        },
    );
}
