//! The one error type of live capture: names the device, says what is wrong and how to fix it.

use std::fmt;

use crate::message::one_line;

/// A problem finding, checking or opening a capture device. `Display` is one line:
/// `what — fix`, naming the device.
///
/// Opaque on purpose: match on [`CaptureError::kind`].
#[derive(Debug, Clone)]
pub struct CaptureError {
    device: String,
    repr: Repr,
}

/// What went wrong, for callers that react differently (a missing channel never heals by itself;
/// a missing or busy device may come back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaptureErrorKind {
    /// The audio system itself cannot be used (ALSA missing or unreadable).
    Host,
    /// No capture device has that name (unplugged, or a typo).
    NotFound,
    /// The spec asks for no channel, or for a channel the device does not have.
    Channels,
    /// The device offers no input format this crate can convert.
    Unsupported,
    /// The device exists but could not be opened or started (busy, gone in the meantime, ...).
    Open,
}

#[derive(Debug, Clone)]
pub(crate) enum Repr {
    Host(String),
    NotFound,
    NoChannels,
    NoSuchChannel { channel: u16, channels: u16 },
    Unsupported(String),
    Open(String),
    Resampler(String),
}

impl CaptureError {
    pub(crate) fn new(device: &str, repr: Repr) -> CaptureError {
        CaptureError {
            device: device.to_string(),
            repr,
        }
    }

    /// The device this error is about, as the caller named it.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// The category, for deciding whether retrying can help.
    pub fn kind(&self) -> CaptureErrorKind {
        match self.repr {
            Repr::Host(_) => CaptureErrorKind::Host,
            Repr::NotFound => CaptureErrorKind::NotFound,
            Repr::NoChannels | Repr::NoSuchChannel { .. } => CaptureErrorKind::Channels,
            Repr::Unsupported(_) => CaptureErrorKind::Unsupported,
            Repr::Open(_) | Repr::Resampler(_) => CaptureErrorKind::Open,
        }
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dev = one_line(&self.device);
        match &self.repr {
            Repr::Host(detail) => write!(
                f,
                "cannot use the audio system ({}) while looking for capture device {dev} — check that ALSA works (`arecord -l`)",
                one_line(detail)
            ),
            Repr::NotFound => write!(
                f,
                "no capture device named {dev} — run `courtesy devices` to list them"
            ),
            Repr::NoChannels => write!(
                f,
                "capture device {dev}: no channel requested — list at least one channel (numbered from 0)"
            ),
            Repr::NoSuchChannel { channel, channels } => {
                let have = match channels {
                    1 => "1 input channel (channel 0)".to_string(),
                    n => format!("{n} input channels (0–{})", n - 1),
                };
                write!(
                    f,
                    "capture device {dev} has {have}, so channel {channel} does not exist — channels are numbered from 0; run `courtesy devices` to see each device's channels"
                )
            }
            Repr::Unsupported(detail) => write!(
                f,
                "capture device {dev} offers no usable input format ({}) — check it with `arecord -D {dev} --dump-hw-params -d 1 /dev/null`",
                one_line(detail)
            ),
            Repr::Open(detail) => write!(
                f,
                "cannot open capture device {dev} ({}) — check that it is plugged in and not held by another program",
                one_line(detail)
            ),
            Repr::Resampler(detail) => write!(
                f,
                "capture device {dev}: cannot resample its audio to 16 kHz ({}) — pick a common rate such as 48000 Hz for it",
                one_line(detail)
            ),
        }
    }
}

impl std::error::Error for CaptureError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_names_the_device_and_a_fix() {
        let errors = [
            Repr::Host("x\ny".into()),
            Repr::NotFound,
            Repr::NoChannels,
            Repr::NoSuchChannel {
                channel: 2,
                channels: 2,
            },
            Repr::NoSuchChannel {
                channel: 1,
                channels: 1,
            },
            Repr::Unsupported("DSD".into()),
            Repr::Open("busy".into()),
            Repr::Resampler("x".into()),
        ];
        for repr in errors {
            let text = CaptureError::new("usb\nmic", repr).to_string();
            assert!(!text.contains('\n'), "{text}");
            assert!(text.contains("usb mic"), "{text}");
            assert!(text.contains(" — "), "{text}");
        }
    }

    #[test]
    fn missing_channel_says_how_many_there_are() {
        let e = CaptureError::new(
            "win01",
            Repr::NoSuchChannel {
                channel: 3,
                channels: 2,
            },
        );
        assert_eq!(e.kind(), CaptureErrorKind::Channels);
        let text = e.to_string();
        assert!(text.contains("2 input channels (0–1)"), "{text}");
        assert!(text.contains("channel 3"), "{text}");
    }
}
