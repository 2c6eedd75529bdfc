//! The report as one pretty JSON document: every field of [`Report`], for other programs.

use std::io::{self, Write};

use super::Report;

/// Writes `report` as pretty JSON and a final newline.
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;

    #[test]
    fn json_carries_rankings_hits_and_flattened_totals() {
        let mut out = Vec::new();
        write(&sample(), &mut out).unwrap();
        assert!(out.ends_with(b"}\n"));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["from"], "2026-11-29");
        assert_eq!(v["windows"][0]["window"], "w07");
        assert_eq!(v["windows"][0]["rank"], 1);
        assert_eq!(v["windows"][0]["sessions"], 6);
        assert_eq!(v["windows"][2]["rank"], serde_json::Value::Null);
        assert_eq!(v["windows"][2]["score"], serde_json::Value::Null);
        assert_eq!(v["hits"][0]["span"], serde_json::json!([25, 46]));
        assert_eq!(
            v["hits"][0]["text"],
            "<script>alert(1)</script>有意見找領導去！"
        );
        assert_eq!(v["days"][6]["subject"], "staff");
        assert!(v["ranking"].as_str().unwrap().contains("平均"));
        // Pretty: one field per line.
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("\n  \"from\": \"2026-11-29\",\n"));
    }
}
