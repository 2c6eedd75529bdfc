//! Microphones: lists capture devices and streams each window's channel as 16 kHz mono frames (cpal).
//!
//! [`devices`] lists the input devices of the default host (ALSA on Linux). [`run_device`] runs
//! one device — which may serve several windows, one channel each — on the caller's thread until
//! told to stop, delivering [`CaptureEvent`]s: frames, and `Online`/`Offline`/`Overrun` so a
//! supervisor sees every gap. It never gives up on a device: on any fault it reports `Offline`,
//! drops the stream and reopens it with back-off.
//!
//! Inside, the driver's callback only copies samples into a lock-free ring buffer (`stream`);
//! the thread that called `run_device` drains it, splits the channels, resamples them to 16 kHz
//! and cuts frames (`framer`).
//!
//! Through PulseAudio (ALSA's `pulse` plugin) a vanished source is not always an error: by
//! default the server moves the recording to the default source, and the stream keeps
//! delivering someone else's audio. Run the server with `rescue-streams = no` (as
//! `scripts/pulse-server.sh` does) so the stream dies and this module sees it.

mod device;
mod error;
mod framer;
mod stream;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cpal::traits::HostTrait;

use crate::message::one_line;

pub use error::{CaptureError, CaptureErrorKind};

use super::{AudioFrame, SAMPLE_RATE};
use error::Repr;
use framer::Framer;
use stream::OpenStream;

/// One input device as `courtesy devices` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The name to put in [`DeviceSpec::device`]: the ALSA PCM name (`win01`, `default`,
    /// `hw:CARD=USB,DEV=0`).
    pub name: String,
    /// What the driver calls it.
    pub description: String,
    /// Most input channels it can open (0 when it could not be opened; see `error`).
    pub channels: u16,
    /// Lowest and highest sample rate it accepts, in Hz ((0, 0) when unknown).
    pub sample_rates: (u32, u32),
    /// True for the system's default capture device.
    pub default: bool,
    /// Why it could not be opened to ask (busy, a plugin without a server, ...), if so.
    pub error: Option<String>,
}

/// One capture device serving one or more windows (an 8-channel USB interface serves 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// A name from [`devices`] (the PCM name, or its description), or `default`.
    pub device: String,
    /// Channels to deliver, numbered from 0, one mono stream each, in this order.
    pub channels: Vec<u16>,
}

/// Timing knobs of [`run_device`]; the defaults suit microphones at service windows.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureOptions {
    /// 16 kHz samples per frame (default 1600: 100 ms, small enough for a live VAD).
    pub frame_samples: usize,
    /// No audio for this long from a stream that was delivering means the device is gone
    /// (default 2 s).
    pub stall: Duration,
    /// How long a newly opened stream may take to deliver its first audio (default 5 s: a
    /// PulseAudio monitor source can take 2 s).
    pub start_timeout: Duration,
    /// Audio the ring buffer holds between the driver and the reader (default 2 s).
    pub ring: Duration,
    /// First wait before reopening a failed device; it doubles up to `retry_max` (default 0.5 s).
    pub retry_min: Duration,
    /// Longest wait between reopening attempts (default 10 s).
    pub retry_max: Duration,
    /// How often the reader drains the ring buffer (default 10 ms).
    pub poll: Duration,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            frame_samples: SAMPLE_RATE as usize / 10,
            stall: Duration::from_secs(2),
            start_timeout: Duration::from_secs(5),
            ring: Duration::from_secs(2),
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(10),
            poll: Duration::from_millis(10),
        }
    }
}

/// What [`run_device`] reports, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureEvent {
    /// One 16 kHz mono frame per requested channel (same order as [`DeviceSpec::channels`]),
    /// all with the same start time, [`CaptureOptions::frame_samples`] long (the last frame
    /// before an `Offline` or the stop may be shorter).
    ///
    /// Start times are seconds since `run_device` began. Within one stream they count samples,
    /// so frames are exactly contiguous; after an outage they jump forward by about its length.
    Frames(Vec<AudioFrame>),
    /// The device delivers audio (sent with its first samples, not when it is merely opened).
    Online { detail: String },
    /// The device failed to open, reported an error, or stopped delivering audio. Sent once per
    /// outage, and again only when the reason changes while reopening keeps failing.
    Offline { reason: String },
    /// Audio was lost since the last report: `frames` (device sample frames) because the reader
    /// fell behind and the ring buffer was full, and `xruns` times the device buffer overflowed
    /// (ALSA xruns, of unknown length).
    Overrun { frames: u64, xruns: u64 },
}

/// Lists the input devices of the default host (ALSA). Opens each one briefly to learn its
/// channels and rates; a device that cannot be opened is still listed, with `error` set.
///
/// # Example
/// ```no_run
/// for d in courtesy::audio::capture::devices().unwrap() {
///     println!("{}\t{} ch\t{}", d.name, d.channels, d.description);
/// }
/// ```
pub fn devices() -> Result<Vec<DeviceInfo>, CaptureError> {
    let host = cpal::default_host();
    let list = host
        .input_devices()
        .map_err(|e| CaptureError::new("(all)", Repr::Host(e.to_string())))?;
    let default_name = host
        .default_input_device()
        .and_then(|d| device::device_name(&d));
    Ok(list
        .filter_map(|d| device::describe(&d, default_name.as_deref()))
        .collect())
}

/// Checks that a spec can be opened now: the device exists and has every requested channel.
/// For startup, so a typo fails in one line instead of as an endless `Offline`.
pub fn check(spec: &DeviceSpec) -> Result<(), CaptureError> {
    let name = spec.device.as_str();
    let need = match spec.channels.iter().max() {
        Some(&max) => max + 1,
        None => return Err(CaptureError::new(name, Repr::NoChannels)),
    };
    let host = cpal::default_host();
    let device = device::find(&host, name)?;
    device::choose_config(&device, name, need).map(|_| ())
}

/// Runs one device on the caller's thread until `stop` is set: opens it, delivers events to
/// `on_event`, and on any fault reports [`CaptureEvent::Offline`], drops the stream and retries
/// opening with back-off (`retry_min` doubling to `retry_max`) until it works, then sends
/// [`CaptureEvent::Online`] again. Returns within about `options.poll` of `stop` being set.
///
/// # Example
/// ```no_run
/// use std::sync::atomic::AtomicBool;
/// use courtesy::audio::capture::{run_device, CaptureEvent, CaptureOptions, DeviceSpec};
///
/// let spec = DeviceSpec { device: "default".into(), channels: vec![0] };
/// let stop = AtomicBool::new(false);
/// run_device(&spec, &CaptureOptions::default(), &stop, &mut |event| {
///     if let CaptureEvent::Frames(frames) = event {
///         println!("{:.1} s", frames[0].start);
///     }
/// });
/// ```
pub fn run_device(
    spec: &DeviceSpec,
    options: &CaptureOptions,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(CaptureEvent),
) {
    let began = Instant::now();
    let mut delay = options.retry_min;
    // The reason last reported, so a device that stays away is not reported every retry.
    let mut reported: Option<String> = None;
    // End of the last frame delivered: a new stream never starts before it.
    let mut timeline_end = 0.0;
    while !stop.load(Ordering::Acquire) {
        let reason = match stream::open(spec, options) {
            Ok(open) => {
                let run = Run {
                    spec,
                    options,
                    stop,
                    began,
                };
                match run.pump(open, &mut timeline_end, on_event) {
                    Ended::Stopped => return,
                    Ended::Fault { reason, was_online } => {
                        if was_online {
                            reported = None;
                            delay = options.retry_min;
                        }
                        reason
                    }
                }
            }
            Err(e) => e.to_string(),
        };
        if reported.as_deref() != Some(reason.as_str()) {
            on_event(CaptureEvent::Offline {
                reason: reason.clone(),
            });
            reported = Some(reason);
        }
        sleep_unless_stopped(delay, stop);
        delay = (delay * 2).min(options.retry_max.max(options.retry_min));
    }
}

enum Ended {
    Stopped,
    Fault { reason: String, was_online: bool },
}

struct Run<'a> {
    spec: &'a DeviceSpec,
    options: &'a CaptureOptions,
    stop: &'a AtomicBool,
    began: Instant,
}

impl Run<'_> {
    /// Drains one open stream until it faults or `stop` is set.
    fn pump(
        &self,
        mut open: OpenStream,
        timeline_end: &mut f64,
        on_event: &mut dyn FnMut(CaptureEvent),
    ) -> Ended {
        let name = self.spec.device.as_str();
        let opened = Instant::now();
        let mut last_data = opened;
        let mut framer: Option<Framer> = None;
        let mut buf: Vec<f32> = Vec::new();
        let emit =
            |sets: Vec<Vec<AudioFrame>>, end: &mut f64, on_event: &mut dyn FnMut(CaptureEvent)| {
                for set in sets {
                    *end = set.first().map_or(*end, AudioFrame::end);
                    on_event(CaptureEvent::Frames(set));
                }
            };
        let ended = loop {
            if self.stop.load(Ordering::Acquire) {
                break Ended::Stopped;
            }
            if open.shared.failed.load(Ordering::Acquire) {
                let detail = open
                    .shared
                    .first_error
                    .lock()
                    .ok()
                    .and_then(|e| e.clone())
                    .unwrap_or_else(|| "stream error".to_string());
                break self.fault(
                    format!("capture device {name} failed ({})", one_line(&detail)),
                    framer.is_some(),
                );
            }

            let ready = open.consumer.slots();
            let take = ready - ready % open.width;
            if take > 0 {
                buf.clear();
                if let Ok(chunk) = open.consumer.read_chunk(take) {
                    let (a, b) = chunk.as_slices();
                    buf.extend_from_slice(a);
                    buf.extend_from_slice(b);
                    chunk.commit_all();
                }
                last_data = Instant::now();
                if framer.is_none() {
                    // Place the new stream on the wall clock: its first sample was captured
                    // about as long ago as the audio already buffered lasts.
                    let buffered = (take / open.width) as f64 / open.rate as f64;
                    let now = self.began.elapsed().as_secs_f64();
                    let start = (now - buffered).max(*timeline_end);
                    match Framer::new(
                        &self.spec.channels,
                        open.width,
                        open.rate,
                        self.options.frame_samples,
                        start,
                    ) {
                        Ok(f) => framer = Some(f),
                        Err(e) => {
                            break self.fault(
                                CaptureError::new(name, Repr::Resampler(e)).to_string(),
                                false,
                            )
                        }
                    }
                    on_event(CaptureEvent::Online {
                        detail: open.detail.clone(),
                    });
                }
                if let Some(f) = framer.as_mut() {
                    match f.push(&buf) {
                        Ok(sets) => emit(sets, timeline_end, on_event),
                        Err(e) => {
                            break self.fault(
                                CaptureError::new(name, Repr::Resampler(e)).to_string(),
                                true,
                            )
                        }
                    }
                }
            } else {
                let silent = last_data.elapsed();
                if framer.is_some() && silent > self.options.stall {
                    break self.fault(
                        format!(
                            "capture device {name} stopped delivering audio ({:.1} s without a sample) — check its cable and power",
                            silent.as_secs_f64()
                        ),
                        true,
                    );
                }
                if framer.is_none() && silent > self.options.start_timeout {
                    break self.fault(
                        format!(
                            "capture device {name} opened but delivered no audio within {:.1} s — check that it is not muted or suspended",
                            silent.as_secs_f64()
                        ),
                        false,
                    );
                }
            }

            let frames = open.shared.lost_frames.swap(0, Ordering::Relaxed);
            let xruns = open.shared.xruns.swap(0, Ordering::Relaxed);
            if frames > 0 || xruns > 0 {
                on_event(CaptureEvent::Overrun { frames, xruns });
            }
            std::thread::sleep(self.options.poll);
        };
        // Stop the device before flushing, so its thread is gone whatever happens next.
        drop(open);
        if let Some(mut f) = framer {
            if let Ok(sets) = f.finish() {
                emit(sets, timeline_end, on_event);
            }
        }
        ended
    }

    fn fault(&self, reason: String, was_online: bool) -> Ended {
        Ended::Fault { reason, was_online }
    }
}

/// Sleeps `total`, waking early when `stop` is set.
fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::Acquire) {
        let now = Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn is_send_sync<T: Send + Sync>() {}
        is_send_sync::<DeviceInfo>();
        is_send_sync::<DeviceSpec>();
        is_send_sync::<CaptureOptions>();
        is_send_sync::<CaptureEvent>();
        is_send_sync::<CaptureError>();
    }

    #[test]
    fn empty_channel_list_is_a_one_line_error() {
        let spec = DeviceSpec {
            device: "win01".into(),
            channels: vec![],
        };
        let e = check(&spec).unwrap_err();
        assert_eq!(e.kind(), CaptureErrorKind::Channels);
        assert!(e.to_string().contains("win01"), "{e}");
    }

    #[test]
    fn unknown_device_says_how_to_list_them() {
        let spec = DeviceSpec {
            device: "no-such-device-xyz".into(),
            channels: vec![0],
        };
        let e = check(&spec).unwrap_err();
        assert_eq!(e.kind(), CaptureErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "no capture device named no-such-device-xyz — run `courtesy devices` to list them"
        );
    }

    #[test]
    fn unknown_device_reports_offline_once_while_retrying() {
        let spec = DeviceSpec {
            device: "no-such-device-xyz".into(),
            channels: vec![0],
        };
        let options = CaptureOptions {
            retry_min: Duration::from_millis(10),
            retry_max: Duration::from_millis(20),
            ..CaptureOptions::default()
        };
        let stop = AtomicBool::new(false);
        let mut events = Vec::new();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(300));
                stop.store(true, Ordering::Release);
            });
            run_device(&spec, &options, &stop, &mut |e| events.push(e));
        });
        // About 15 attempts in 300 ms, one report: the reason never changed.
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(
            matches!(&events[0], CaptureEvent::Offline { reason } if reason.contains("courtesy devices"))
        );
    }
}
