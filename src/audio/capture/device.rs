//! Finding capture devices by name and choosing the stream format to open them with (cpal, ALSA).

use cpal::traits::{DeviceTrait, HostTrait};
use cpal::{SampleFormat, SupportedStreamConfig, SupportedStreamConfigRange};

use super::error::{CaptureError, Repr};
use super::DeviceInfo;

/// The name that always means the system's default capture device.
pub(crate) const DEFAULT_DEVICE: &str = "default";

/// The device's stable name: the ALSA PCM name (`win01`, `hw:CARD=USB,DEV=0`, `default`).
pub(crate) fn device_name(device: &cpal::Device) -> Option<String> {
    device.id().ok().map(|id| id.id().to_string())
}

/// Finds an input device by its PCM name, or else by its description; `default` is the default.
pub(crate) fn find(host: &cpal::Host, name: &str) -> Result<cpal::Device, CaptureError> {
    let devices = host
        .input_devices()
        .map_err(|e| CaptureError::new(name, Repr::Host(e.to_string())))?;
    let mut by_description = None;
    for device in devices {
        if device_name(&device).as_deref() == Some(name) {
            return Ok(device);
        }
        if by_description.is_none() && device.description().is_ok_and(|d| d.name() == name) {
            by_description = Some(device);
        }
    }
    if let Some(device) = by_description {
        return Ok(device);
    }
    if name == DEFAULT_DEVICE {
        if let Some(device) = host.default_input_device() {
            return Ok(device);
        }
    }
    Err(CaptureError::new(name, Repr::NotFound))
}

/// Sample formats the audio callback converts to f32, best first (float needs no scaling, wider
/// integers keep more of a quiet microphone's resolution).
const FORMATS: [SampleFormat; 10] = [
    SampleFormat::F32,
    SampleFormat::I32,
    SampleFormat::I24,
    SampleFormat::I16,
    SampleFormat::F64,
    SampleFormat::U32,
    SampleFormat::U24,
    SampleFormat::U16,
    SampleFormat::I8,
    SampleFormat::U8,
];

fn format_rank(format: SampleFormat) -> Option<usize> {
    FORMATS.iter().position(|&f| f == format)
}

/// Rates to ask for when a device offers a range, best first: 48 kHz and 44.1 kHz are what
/// hardware runs at natively; 16 kHz would need no resampling here.
const RATES: [u32; 4] = [48_000, 44_100, 16_000, 32_000];

/// The stream format for a device that must deliver channels `0..need`: its default input
/// format when that has enough channels, else the supported format with the fewest channels
/// that are enough (an 8-channel interface defaults to stereo).
pub(crate) fn choose_config(
    device: &cpal::Device,
    name: &str,
    need: u16,
) -> Result<SupportedStreamConfig, CaptureError> {
    if need == 0 {
        return Err(CaptureError::new(name, Repr::NoChannels));
    }
    if let Ok(default) = device.default_input_config() {
        if default.channels() >= need && format_rank(default.sample_format()).is_some() {
            return Ok(default);
        }
    }
    let ranges: Vec<SupportedStreamConfigRange> = device
        .supported_input_configs()
        .map_err(|e| CaptureError::new(name, Repr::Open(e.to_string())))?
        .collect();
    let usable: Vec<&SupportedStreamConfigRange> = ranges
        .iter()
        .filter(|r| format_rank(r.sample_format()).is_some())
        .collect();
    if usable.is_empty() {
        let offered: Vec<String> = ranges
            .iter()
            .map(|r| r.sample_format().to_string())
            .collect();
        let detail = if offered.is_empty() {
            "it lists no input formats".to_string()
        } else {
            format!("it offers only {}", offered.join(", "))
        };
        return Err(CaptureError::new(name, Repr::Unsupported(detail)));
    }
    let channels = usable.iter().map(|r| r.channels()).max().unwrap_or(0);
    if channels < need {
        return Err(CaptureError::new(
            name,
            Repr::NoSuchChannel {
                channel: need - 1,
                channels,
            },
        ));
    }
    let best = usable
        .into_iter()
        .filter(|r| r.channels() >= need)
        .min_by_key(|r| (r.channels(), format_rank(r.sample_format())))
        .cloned()
        .ok_or_else(|| CaptureError::new(name, Repr::Unsupported("no format fits".into())))?;
    let rate = RATES
        .iter()
        .copied()
        .find(|&r| best.contains_rate(r))
        .unwrap_or(best.max_sample_rate());
    Ok(best.with_sample_rate(rate))
}

/// What `courtesy devices` shows for one device; opening it is the only way ALSA tells.
pub(crate) fn describe(device: &cpal::Device, default_name: Option<&str>) -> Option<DeviceInfo> {
    let name = device_name(device)?;
    let description = device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_default();
    let default = name == DEFAULT_DEVICE || default_name == Some(name.as_str());
    let mut info = DeviceInfo {
        name,
        description,
        channels: 0,
        sample_rates: (0, 0),
        default,
        error: None,
    };
    match device.supported_input_configs() {
        Ok(ranges) => {
            let ranges: Vec<_> = ranges
                .filter(|r| format_rank(r.sample_format()).is_some())
                .collect();
            if ranges.is_empty() {
                info.error = Some("no usable input format".to_string());
            }
            info.channels = ranges.iter().map(|r| r.channels()).max().unwrap_or(0);
            info.sample_rates = (
                ranges
                    .iter()
                    .map(|r| r.min_sample_rate())
                    .min()
                    .unwrap_or(0),
                ranges
                    .iter()
                    .map(|r| r.max_sample_rate())
                    .max()
                    .unwrap_or(0),
            );
        }
        Err(e) => info.error = Some(e.to_string().replace('\n', " ")),
    }
    Some(info)
}
