//! The wall-clock start of a recording: from its file name, else its metadata, else its mtime.
//!
//! Recorders name files after the window and the moment they started (`W07_20261130_083000.mp3`).
//! A [`NamePattern`] such as `{window}_{yyyy}{MM}{dd}_{HH}{mm}{ss}` reads that name; names are in the
//! centre's local time, given as a fixed offset (`+08:00`). When no pattern gives a real date, the
//! creation time in the file's metadata is used, and failing that the file's modification time —
//! [`Clock::source`] says which, so a report can show how much to trust it.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, TimeZone};
use serde::{Deserialize, Serialize};

/// Where a recording's clock start came from, most trustworthy first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockSource {
    /// The file name, read by a [`NamePattern`].
    Name,
    /// The creation time in the audio file's metadata.
    Metadata,
    /// The file's modification time (usually the end of the recording, or a copy time).
    Mtime,
}

impl ClockSource {
    /// The name stored in the record: `name`, `metadata` or `mtime`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockSource::Name => "name",
            ClockSource::Metadata => "metadata",
            ClockSource::Mtime => "mtime",
        }
    }
}

impl fmt::Display for ClockSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A recording's clock start, where it came from, and the window its name names (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    pub start: DateTime<FixedOffset>,
    pub source: ClockSource,
    pub window: Option<String>,
}

/// One field of a name pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Window,
    Any,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl Field {
    const ALL: [(&'static str, Field); 8] = [
        ("window", Field::Window),
        ("any", Field::Any),
        ("yyyy", Field::Year),
        ("MM", Field::Month),
        ("dd", Field::Day),
        ("HH", Field::Hour),
        ("mm", Field::Minute),
        ("ss", Field::Second),
    ];

    /// Digits a numeric field takes; `None` for the free-length text fields.
    fn width(self) -> Option<usize> {
        match self {
            Field::Window | Field::Any => None,
            Field::Year => Some(4),
            _ => Some(2),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<char>),
    Field(Field),
}

/// How a recorder names its files, e.g. `{window}_{yyyy}{MM}{dd}_{HH}{mm}{ss}`.
///
/// Fields: `{yyyy}` `{MM}` `{dd}` `{HH}` `{mm}` (required), `{ss}` (optional, else 0), `{window}`
/// (the window, one or more characters) and `{any}` (anything, possibly nothing). Everything else
/// must appear as written (ASCII letters in any case). The pattern is matched against the whole
/// file name without its extension.
///
/// ```
/// use courtesy::clock::NamePattern;
/// let p: NamePattern = "{window}_{yyyy}{MM}{dd}_{HH}{mm}{ss}".parse().unwrap();
/// assert_eq!(p.as_str(), "{window}_{yyyy}{MM}{dd}_{HH}{mm}{ss}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NamePattern {
    written: String,
    pieces: Vec<Piece>,
}

/// What a name pattern read from a file name.
#[derive(Debug, Default)]
struct Captures {
    window: Option<String>,
    numbers: [u32; 6],
}

impl NamePattern {
    /// Parses a pattern; the error is one line naming the pattern and the fix.
    pub fn parse(pattern: &str) -> Result<NamePattern, String> {
        let bad = |what: String| {
            format!("name pattern “{pattern}”: {what} — write it like {{window}}_{{yyyy}}{{MM}}{{dd}}_{{HH}}{{mm}}{{ss}} (fields: {{yyyy}} {{MM}} {{dd}} {{HH}} {{mm}} required, {{ss}} {{window}} {{any}} optional)")
        };
        let mut pieces: Vec<Piece> = Vec::new();
        let mut rest = pattern;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('{') {
                let close = after
                    .find('}')
                    .ok_or_else(|| bad("a “{” is never closed".into()))?;
                let name = &after[..close];
                let field = Field::ALL
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|&(_, f)| f)
                    .ok_or_else(|| bad(format!("unknown field {{{name}}}")))?;
                if pieces.contains(&Piece::Field(field)) && field != Field::Any {
                    return Err(bad(format!("{{{name}}} appears twice")));
                }
                pieces.push(Piece::Field(field));
                rest = &after[close + 1..];
            } else if rest.starts_with('}') {
                return Err(bad("a “}” without its “{”".into()));
            } else {
                let end = rest.find(['{', '}']).unwrap_or(rest.len());
                pieces.push(Piece::Literal(rest[..end].chars().collect()));
                rest = &rest[end..];
            }
        }
        for (name, field) in &Field::ALL[2..7] {
            if !pieces.contains(&Piece::Field(*field)) {
                return Err(bad(format!("no {{{name}}}")));
            }
        }
        Ok(NamePattern {
            written: pattern.to_string(),
            pieces,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// Reads a file name without extension; `None` when it does not fit.
    fn captures(&self, stem: &str) -> Option<Captures> {
        let chars: Vec<char> = stem.chars().collect();
        let mut caps = Captures::default();
        match_from(&self.pieces, &chars, &mut caps).then_some(caps)
    }

    /// The local time and window this pattern reads from `stem`, when it fits and the date is real.
    fn read(&self, stem: &str, tz: FixedOffset) -> Option<(DateTime<FixedOffset>, Option<String>)> {
        let c = self.captures(stem)?;
        let [y, mo, d, h, mi, s] = c.numbers;
        let naive = NaiveDate::from_ymd_opt(y as i32, mo, d)?.and_hms_opt(h, mi, s)?;
        let start = tz.from_local_datetime(&naive).single()?;
        Some((start, c.window))
    }
}

/// Backtracking match of `pieces` against all of `chars`.
fn match_from(pieces: &[Piece], chars: &[char], caps: &mut Captures) -> bool {
    let Some((piece, rest)) = pieces.split_first() else {
        return chars.is_empty();
    };
    match piece {
        Piece::Literal(lit) => {
            chars.len() >= lit.len()
                && lit
                    .iter()
                    .zip(chars)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
                && match_from(rest, &chars[lit.len()..], caps)
        }
        Piece::Field(field) => match field.width() {
            Some(w) => {
                if chars.len() < w || !chars[..w].iter().all(char::is_ascii_digit) {
                    return false;
                }
                let value = chars[..w]
                    .iter()
                    .fold(0, |n, c| n * 10 + c.to_digit(10).unwrap_or(0));
                let slot = match field {
                    Field::Year => 0,
                    Field::Month => 1,
                    Field::Day => 2,
                    Field::Hour => 3,
                    Field::Minute => 4,
                    _ => 5,
                };
                caps.numbers[slot] = value;
                match_from(rest, &chars[w..], caps)
            }
            None => {
                let min = usize::from(*field == Field::Window);
                (min..=chars.len()).any(|n| {
                    if match_from(rest, &chars[n..], caps) {
                        if *field == Field::Window {
                            caps.window = Some(chars[..n].iter().collect());
                        }
                        true
                    } else {
                        false
                    }
                })
            }
        },
    }
}

impl FromStr for NamePattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        NamePattern::parse(s)
    }
}

impl TryFrom<String> for NamePattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        NamePattern::parse(&s)
    }
}

impl From<NamePattern> for String {
    fn from(p: NamePattern) -> String {
        p.written
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// The patterns tried when none are configured: the namings of the recorders we have met.
pub const DEFAULT_PATTERNS: &[&str] = &[
    "{window}_{yyyy}{MM}{dd}_{HH}{mm}{ss}",
    "{window}-{yyyy}{MM}{dd}-{HH}{mm}{ss}",
    "{window}_{yyyy}{MM}{dd}{HH}{mm}{ss}",
    "{window}-{yyyy}-{MM}-{dd}T{HH}-{mm}-{ss}",
    "{window}_{yyyy}-{MM}-{dd}_{HH}-{mm}-{ss}",
    "{yyyy}{MM}{dd}-{HH}{mm}{ss}",
    "{yyyy}{MM}{dd}_{HH}{mm}{ss}",
    "{yyyy}{MM}{dd}{HH}{mm}{ss}",
    "{yyyy}-{MM}-{dd} {HH}.{mm}.{ss}",
    "{yyyy}-{MM}-{dd}T{HH}-{mm}-{ss}",
    "{yyyy}-{MM}-{dd}_{HH}-{mm}-{ss}",
];

/// [`DEFAULT_PATTERNS`], parsed.
/// A clock time as the record and reports write it: RFC 3339 with the offset and milliseconds.
pub fn rfc3339(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// The local day (`YYYY-MM-DD`) of a clock time.
pub fn day(t: &DateTime<FixedOffset>) -> String {
    t.date_naive().to_string()
}

pub fn default_patterns() -> Vec<NamePattern> {
    DEFAULT_PATTERNS
        .iter()
        .filter_map(|p| NamePattern::parse(p).ok())
        .collect()
}

/// The machine's current UTC offset, the default for the centre's local time.
pub fn local_offset() -> FixedOffset {
    chrono::Local::now().offset().fix()
}

/// Parses a UTC offset such as `+08:00`, `+0800`, `+08`, `-05:30` or `Z`.
pub fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    let t = s.trim();
    let bad = || format!("time zone offset “{s}” is not understood — write it like +08:00");
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0).ok_or_else(bad);
    }
    let (sign, digits) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let digits = digits.replacen(':', "", 1);
    if !(digits.len() == 2 || digits.len() == 4) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let hours: i32 = digits[..2].parse().map_err(|_| bad())?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().map_err(|_| bad())?
    } else {
        0
    };
    if hours > 14 || minutes > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(bad)
}

/// The window a file's name names, by the first pattern that reads it with a real date.
pub fn window_from_name(path: &Path, patterns: &[NamePattern]) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let utc = FixedOffset::east_opt(0)?;
    patterns.iter().find_map(|p| p.read(stem, utc))?.1
}

/// The clock start of the recording at `path`: by the first of `patterns` that reads its name
/// with a real date and time (in `tz`, the centre's local offset), else `metadata_time`, else the
/// file's modification time, both converted to `tz`. A name that fits a pattern but holds an
/// impossible date (`20261332`) falls through to the next pattern and source.
///
/// Fails only when all three are missing; the message names the file and the fix.
pub fn clock_start(
    path: &Path,
    patterns: &[NamePattern],
    metadata_time: Option<DateTime<FixedOffset>>,
    tz: FixedOffset,
) -> Result<Clock, String> {
    let from_name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|stem| patterns.iter().find_map(|p| p.read(stem, tz)));
    if let Some((start, window)) = from_name {
        return Ok(Clock {
            start,
            source: ClockSource::Name,
            window,
        });
    }
    if let Some(t) = metadata_time {
        return Ok(Clock {
            start: t.with_timezone(&tz),
            source: ClockSource::Metadata,
            window: None,
        });
    }
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| {
            format!(
                "{}: no start time in its name or metadata, and cannot read its modification time ({e}) — name it like W07_20261130_083000.mp3 or set the name pattern",
                path.display()
            )
        })?;
    Ok(Clock {
        start: DateTime::<chrono::Utc>::from(mtime).with_timezone(&tz),
        source: ClockSource::Mtime,
        window: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cst() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn default_patterns_read_the_recorders_names() {
        let patterns = default_patterns();
        assert_eq!(patterns.len(), DEFAULT_PATTERNS.len());
        for (name, window) in [
            ("W07_20261130_083000.mp3", Some("W07")),
            ("20261130-083000.wav", None),
            ("2026-11-30 08.30.00.flac", None),
            ("w07-2026-11-30T08-30-00.m4a", Some("w07")),
            ("ch3_20261130083000.wav", Some("ch3")),
            ("/rec/2026/11/W07_20261130_083000.opus", Some("W07")),
        ] {
            let c = clock_start(Path::new(name), &patterns, None, cst()).unwrap();
            assert_eq!(c.source, ClockSource::Name, "{name}");
            assert_eq!(c.start, at("2026-11-30T08:30:00+08:00"), "{name}");
            assert_eq!(c.window.as_deref(), window, "{name}");
            assert_eq!(
                window_from_name(Path::new(name), &patterns).as_deref(),
                window
            );
        }
    }

    #[test]
    fn names_are_read_in_the_given_offset() {
        let p = default_patterns();
        let c = clock_start(
            Path::new("W07_20261130_083000.mp3"),
            &p,
            None,
            FixedOffset::east_opt(0).unwrap(),
        )
        .unwrap();
        assert_eq!(c.start, at("2026-11-30T16:30:00+08:00"));
        assert_eq!(c.start.offset().local_minus_utc(), 0);
    }

    #[test]
    fn custom_pattern_with_any_and_no_seconds() {
        let p = vec![NamePattern::parse("rec{any}_{window}@{yyyy}.{MM}.{dd}-{HH}h{mm}").unwrap()];
        let c = clock_start(
            Path::new("rec-box2_窗口12@2026.11.30-08H05.wav"),
            &p,
            None,
            cst(),
        )
        .unwrap();
        assert_eq!(c.start, at("2026-11-30T08:05:00+08:00"));
        assert_eq!(c.window.as_deref(), Some("窗口12"));
    }

    #[test]
    fn impossible_name_date_falls_through_to_metadata_then_mtime() {
        let p = default_patterns();
        let meta = at("2026-11-30T00:30:00Z");
        let c = clock_start(Path::new("W07_20261332_083000.mp3"), &p, Some(meta), cst()).unwrap();
        assert_eq!(c.source, ClockSource::Metadata);
        assert_eq!(c.start, meta);
        assert_eq!(c.start.to_rfc3339(), "2026-11-30T08:30:00+08:00");
        assert_eq!(c.window, None);

        // 25 o'clock is no time either; no metadata: the file's mtime.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("W07_20261130_253000.wav");
        std::fs::write(&f, b"x").unwrap();
        let c = clock_start(&f, &p, None, cst()).unwrap();
        assert_eq!(c.source, ClockSource::Mtime);
        assert_eq!(c.start.offset(), &cst());
        let age = chrono::Utc::now().signed_duration_since(c.start);
        assert!(age.num_seconds().abs() < 600, "{age}");
    }

    #[test]
    fn no_source_at_all_is_one_line_naming_the_file() {
        let e = clock_start(
            Path::new("/nonexistent/recording.mp3"),
            &default_patterns(),
            None,
            cst(),
        )
        .unwrap_err();
        assert!(e.starts_with("/nonexistent/recording.mp3: "), "{e}");
        assert!(
            e.contains("W07_20261130_083000.mp3") && !e.contains('\n'),
            "{e}"
        );
    }

    #[test]
    fn bad_patterns_name_the_pattern_and_the_fix() {
        for (p, what) in [
            ("{window}_{yyyy}{MM}{dd}", "no {HH}"),
            (
                "{window}_{yyyy}{MM}{dd}_{HH}{mm}{sss}",
                "unknown field {sss}",
            ),
            ("{yyyy}{MM}{dd}_{HH}{mm}{yyyy}", "{yyyy} appears twice"),
            ("{yyyy}{MM}{dd}_{HH}{mm", "never closed"),
            ("{yyyy}}{MM}{dd}_{HH}{mm}", "without its"),
        ] {
            let e = NamePattern::parse(p).unwrap_err();
            assert!(e.starts_with(&format!("name pattern “{p}”: ")), "{e}");
            assert!(e.contains(what), "{e}");
            assert!(e.contains("write it like {window}_{yyyy}"), "{e}");
        }
    }

    #[test]
    fn patterns_round_trip_through_serde() {
        #[derive(Serialize, Deserialize)]
        struct C {
            patterns: Vec<NamePattern>,
            source: ClockSource,
        }
        let c: C = toml::from_str(
            "patterns = [\"{window}_{yyyy}{MM}{dd}_{HH}{mm}{ss}\"]\nsource = \"mtime\"\n",
        )
        .unwrap();
        assert_eq!(c.source, ClockSource::Mtime);
        assert_eq!(c.patterns[0].as_str(), DEFAULT_PATTERNS[0]);
        let back = toml::to_string(&c).unwrap();
        assert!(
            back.contains("\"mtime\"") && back.contains(DEFAULT_PATTERNS[0]),
            "{back}"
        );
        assert!(toml::from_str::<C>("patterns = [\"{nope}\"]\nsource = \"name\"\n").is_err());
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("+08:00").unwrap(), cst());
        assert_eq!(parse_offset("+0800").unwrap(), cst());
        assert_eq!(parse_offset("+08").unwrap(), cst());
        assert_eq!(
            parse_offset("-05:30").unwrap().local_minus_utc(),
            -(5 * 3600 + 30 * 60)
        );
        assert_eq!(parse_offset("Z").unwrap().local_minus_utc(), 0);
        for bad in ["08:00", "+8", "+25:00", "+08:75", "CST", ""] {
            let e = parse_offset(bad).unwrap_err();
            assert!(e.contains("+08:00"), "{e}");
        }
        let _ = local_offset();
    }
}
