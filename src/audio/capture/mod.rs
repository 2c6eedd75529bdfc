//! Microphones: lists capture devices and streams each window's channel as 16 kHz mono frames (cpal).
