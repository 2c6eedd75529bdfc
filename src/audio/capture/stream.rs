//! Opening a device and the audio callback: samples go into a lock-free ring buffer, nothing else.
//!
//! The callback runs on the driver's real-time thread, so it never blocks, allocates or locks: it
//! converts whatever sample format the device delivers to f32 straight into the pre-allocated
//! ring, and when the ring is full it drops the whole buffer and counts the lost frames, so a slow
//! reader shows up as an overrun and never as silence or a stall.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SampleFormat};

use super::device::{choose_config, device_name, find};
use super::error::{CaptureError, Repr};
use super::{CaptureOptions, DeviceSpec};

/// What the callbacks tell the reader; everything in it is written without blocking.
#[derive(Default)]
pub(crate) struct Shared {
    /// Frames dropped because the ring was full, since the reader last looked.
    pub(crate) lost_frames: AtomicU64,
    /// Device-side overruns (ALSA xruns) since the reader last looked; cpal recovers from them.
    pub(crate) xruns: AtomicU64,
    /// Set by the error callback on any error the stream does not recover from by itself.
    pub(crate) failed: AtomicBool,
    /// The first such error, for the Offline reason.
    pub(crate) first_error: Mutex<Option<String>>,
}

/// A playing input stream and the reader's end of its ring buffer. Dropping it stops the stream.
pub(crate) struct OpenStream {
    // Declared first so it is dropped (and its thread joined) before the ring's consumer.
    _stream: cpal::Stream,
    pub(crate) consumer: rtrb::Consumer<f32>,
    pub(crate) shared: Arc<Shared>,
    /// Interleaved channels in the ring.
    pub(crate) width: usize,
    pub(crate) rate: u32,
    /// Device, format and buffer, for the Online event.
    pub(crate) detail: String,
}

/// How long cpal's worker waits in `poll` before checking the PCM state by itself.
const POLL_TIMEOUT: Duration = Duration::from_millis(500);

/// Finds the device, checks the channels, opens and starts the stream.
pub(crate) fn open(
    spec: &DeviceSpec,
    options: &CaptureOptions,
) -> Result<OpenStream, CaptureError> {
    let name = spec.device.as_str();
    let need = match spec.channels.iter().max() {
        Some(&max) => max + 1,
        None => return Err(CaptureError::new(name, Repr::NoChannels)),
    };
    let host = cpal::default_host();
    let device = find(&host, name)?;
    let config = choose_config(&device, name, need)?;
    let width = config.channels() as usize;
    let rate = config.sample_rate();
    let format = config.sample_format();

    // A whole number of frames, so the ring's wrap point never splits one.
    let seconds = options.ring.as_secs_f64().max(0.1);
    let capacity = ((rate as f64 * seconds).ceil() as usize).max(1) * width;
    let (mut producer, consumer) = rtrb::RingBuffer::<f32>::new(capacity);
    let shared = Arc::new(Shared::default());

    let on_data = {
        let shared = Arc::clone(&shared);
        move |data: &cpal::Data, _: &cpal::InputCallbackInfo| {
            let lost = &shared.lost_frames;
            match data.sample_format() {
                SampleFormat::F32 => write::<f32>(&mut producer, data, lost, width),
                SampleFormat::I32 => write::<i32>(&mut producer, data, lost, width),
                SampleFormat::I24 => write::<cpal::I24>(&mut producer, data, lost, width),
                SampleFormat::I16 => write::<i16>(&mut producer, data, lost, width),
                SampleFormat::F64 => write::<f64>(&mut producer, data, lost, width),
                SampleFormat::U32 => write::<u32>(&mut producer, data, lost, width),
                SampleFormat::U24 => write::<cpal::U24>(&mut producer, data, lost, width),
                SampleFormat::U16 => write::<u16>(&mut producer, data, lost, width),
                SampleFormat::I8 => write::<i8>(&mut producer, data, lost, width),
                SampleFormat::U8 => write::<u8>(&mut producer, data, lost, width),
                // choose_config never opens another format.
                _ => {}
            }
        }
    };
    let on_error = {
        let shared = Arc::clone(&shared);
        move |err: cpal::Error| match err.kind() {
            // cpal re-prepares the device itself; the audio lost is counted, not fatal.
            cpal::ErrorKind::Xrun => {
                shared.xruns.fetch_add(1, Ordering::Relaxed);
            }
            cpal::ErrorKind::DeviceChanged | cpal::ErrorKind::RealtimeDenied => {}
            // A dead pulse stream makes cpal call this in a tight loop: only the first call
            // does any work, and it never waits for the lock.
            _ => {
                if !shared.failed.swap(true, Ordering::AcqRel) {
                    if let Ok(mut first) = shared.first_error.try_lock() {
                        *first = Some(err.to_string());
                    }
                }
            }
        }
    };

    let stream = device
        .build_input_stream_raw(
            config.config(),
            format,
            on_data,
            on_error,
            Some(POLL_TIMEOUT),
        )
        .map_err(|e| open_error(name, e))?;
    stream.play().map_err(|e| open_error(name, e))?;

    let description = device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_default();
    let pcm = device_name(&device).unwrap_or_else(|| name.to_string());
    let buffer = stream
        .buffer_size()
        .map(|n| format!(", period {n} frames"))
        .unwrap_or_default();
    let detail = format!(
        "{pcm} ({description}): {width} ch {format} at {rate} Hz{buffer}, delivering channel{} {}",
        if spec.channels.len() == 1 { "" } else { "s" },
        spec.channels
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The host is only a handle; dropping it here does not close the device.
    drop(host);
    Ok(OpenStream {
        _stream: stream,
        consumer,
        shared,
        width,
        rate,
        detail,
    })
}

fn open_error(name: &str, e: cpal::Error) -> CaptureError {
    match e.kind() {
        cpal::ErrorKind::UnsupportedConfig | cpal::ErrorKind::UnsupportedOperation => {
            CaptureError::new(name, Repr::Unsupported(e.to_string()))
        }
        _ => CaptureError::new(name, Repr::Open(e.to_string())),
    }
}

/// Copies one callback buffer into the ring as f32, or counts it lost when it does not fit.
/// Runs on the real-time thread: no allocation, no lock, no wait.
fn write<T>(producer: &mut rtrb::Producer<f32>, data: &cpal::Data, lost: &AtomicU64, width: usize)
where
    T: cpal::SizedSample,
    f32: FromSample<T>,
{
    let Some(samples) = data.as_slice::<T>() else {
        return;
    };
    match producer.write_chunk_uninit(samples.len()) {
        Ok(chunk) => {
            chunk.fill_from_iter(samples.iter().map(|&s| s.to_sample::<f32>()));
        }
        Err(_) => {
            lost.fetch_add((samples.len() / width.max(1)) as u64, Ordering::Relaxed);
        }
    }
}
