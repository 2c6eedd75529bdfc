//! Live windows: capture or replay → end-pointing per window → fair Whisper scheduling → alerts.
