//! The report as an Excel workbook (`.xlsx`): one sheet per table, written here on the `zip` crate
//! (Office Open XML, SpreadsheetML). Text goes in as inline strings — never as a formula, so a
//! transcript cannot run in Excel — numbers as numbers with their decimals, the header row bold
//! and frozen, columns sized to their contents.

use std::fmt::Write as _;
use std::io::{self, Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::html::esc;
use super::sheet::{self, Cell, Sheet};
use super::Report;

/// The content type browsers and servers give the file.
pub const CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Excel's limit on the characters of one cell; longer text is cut (and marked with …).
pub const MAX_CELL_CHARS: usize = 32_767;

/// Writes every table of `report` as one workbook.
pub fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    write_sheets(&sheet::all(report), out)
}

/// Writes `sheets` as one workbook (names made valid and unique for Excel).
pub fn write_sheets(sheets: &[Sheet], out: &mut dyn Write) -> io::Result<()> {
    let names = sheet_names(sheets);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let part = |zip: &mut ZipWriter<Cursor<Vec<u8>>>, name: &str, body: &str| {
        zip.start_file(name, options).map_err(io::Error::other)?;
        zip.write_all(body.as_bytes())
    };
    part(
        &mut zip,
        "[Content_Types].xml",
        &content_types(sheets.len()),
    )?;
    part(&mut zip, "_rels/.rels", ROOT_RELS)?;
    part(&mut zip, "xl/workbook.xml", &workbook(&names))?;
    part(
        &mut zip,
        "xl/_rels/workbook.xml.rels",
        &workbook_rels(sheets.len()),
    )?;
    part(&mut zip, "xl/styles.xml", STYLES)?;
    for (i, s) in sheets.iter().enumerate() {
        part(
            &mut zip,
            &format!("xl/worksheets/sheet{}.xml", i + 1),
            &worksheet(s),
        )?;
    }
    let bytes = zip.finish().map_err(io::Error::other)?.into_inner();
    out.write_all(&bytes)
}

const XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
const MAIN_NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

const ROOT_RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/>\
</Relationships>";

/// Styles: 0 plain, 1 bold header on grey, 2 one decimal, 3 two decimals, 4 wrapped text.
const STYLES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
<styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\
<numFmts count=\"1\"><numFmt numFmtId=\"164\" formatCode=\"0.0\"/></numFmts>\
<fonts count=\"2\"><font><sz val=\"11\"/><name val=\"等线\"/><family val=\"2\"/></font>\
<font><b/><sz val=\"11\"/><name val=\"等线\"/><family val=\"2\"/></font></fonts>\
<fills count=\"3\"><fill><patternFill patternType=\"none\"/></fill><fill><patternFill patternType=\"gray125\"/></fill>\
<fill><patternFill patternType=\"solid\"><fgColor rgb=\"FFDDE6F0\"/><bgColor indexed=\"64\"/></patternFill></fill></fills>\
<borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
<cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>\
<cellXfs count=\"5\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>\
<xf numFmtId=\"0\" fontId=\"1\" fillId=\"2\" borderId=\"0\" xfId=\"0\" applyFont=\"1\" applyFill=\"1\"/>\
<xf numFmtId=\"164\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyNumberFormat=\"1\"/>\
<xf numFmtId=\"2\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyNumberFormat=\"1\"/>\
<xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyAlignment=\"1\"><alignment wrapText=\"1\" vertical=\"top\"/></xf></cellXfs>\
<cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles>\
</styleSheet>";

fn content_types(sheets: usize) -> String {
    let mut s = format!(
        "{XML}<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
         <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
         <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
         <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
         <Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>"
    );
    for i in 1..=sheets {
        let _ = write!(
            s,
            "<Override PartName=\"/xl/worksheets/sheet{i}.xml\" \
             ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
        );
    }
    s.push_str("</Types>");
    s
}

fn workbook(names: &[String]) -> String {
    let mut s = format!(
        "{XML}<workbook xmlns=\"{MAIN_NS}\" xmlns:r=\"{REL_NS}\"><bookViews><workbookView/></bookViews><sheets>"
    );
    for (i, name) in names.iter().enumerate() {
        let _ = write!(
            s,
            "<sheet name=\"{}\" sheetId=\"{}\" r:id=\"rId{}\"/>",
            esc(name),
            i + 1,
            i + 1
        );
    }
    s.push_str("</sheets></workbook>");
    s
}

fn workbook_rels(sheets: usize) -> String {
    let mut s = format!(
        "{XML}<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    );
    for i in 1..=sheets {
        let _ = write!(
            s,
            "<Relationship Id=\"rId{i}\" Type=\"{REL_NS}/worksheet\" Target=\"worksheets/sheet{i}.xml\"/>"
        );
    }
    let _ = write!(
        s,
        "<Relationship Id=\"rId{}\" Type=\"{REL_NS}/styles\" Target=\"styles.xml\"/></Relationships>",
        sheets + 1
    );
    s
}

fn worksheet(sheet: &Sheet) -> String {
    let mut s = format!("{XML}<worksheet xmlns=\"{MAIN_NS}\" xmlns:r=\"{REL_NS}\">");
    s.push_str(
        "<sheetViews><sheetView workbookViewId=\"0\"><pane ySplit=\"1\" topLeftCell=\"A2\" \
         activePane=\"bottomLeft\" state=\"frozen\"/></sheetView></sheetViews>",
    );
    // Column widths from the widest cell (CJK characters count twice), within bounds.
    let columns = sheet.header.len();
    if columns > 0 {
        s.push_str("<cols>");
        for c in 0..columns {
            let widest = std::iter::once(display_width(sheet.header[c]))
                .chain(
                    sheet
                        .rows
                        .iter()
                        .filter_map(|r| r.get(c))
                        .map(|cell| display_width(&cell.display())),
                )
                .max()
                .unwrap_or(8);
            let width = (widest + 2).clamp(6, 60);
            let _ = write!(
                s,
                "<col min=\"{n}\" max=\"{n}\" width=\"{width}\" customWidth=\"1\"/>",
                n = c + 1
            );
        }
        s.push_str("</cols>");
    }
    s.push_str("<sheetData>");
    let header: Vec<Cell> = sheet
        .header
        .iter()
        .map(|h| Cell::Text(h.to_string()))
        .collect();
    for (r, row) in std::iter::once(&header).chain(&sheet.rows).enumerate() {
        let _ = write!(s, "<row r=\"{}\">", r + 1);
        for (c, cell) in row.iter().enumerate() {
            let at = format!("{}{}", column(c), r + 1);
            let long_text = |t: &str| t.chars().count() > 40;
            match cell {
                Cell::Empty => {}
                Cell::Text(t) => {
                    let style = if r == 0 {
                        " s=\"1\""
                    } else if long_text(t) {
                        " s=\"4\""
                    } else {
                        ""
                    };
                    let _ = write!(
                        s,
                        "<c r=\"{at}\" t=\"inlineStr\"{style}><is><t xml:space=\"preserve\">{}</t></is></c>",
                        esc(&super::html::shorten(t, MAX_CELL_CHARS))
                    );
                }
                Cell::Int(n) => {
                    let _ = write!(s, "<c r=\"{at}\"><v>{n}</v></c>");
                }
                Cell::Num(v, decimals) if v.is_finite() => {
                    let style = match decimals {
                        0 => "",
                        1 => " s=\"2\"",
                        _ => " s=\"3\"",
                    };
                    let _ = write!(s, "<c r=\"{at}\"{style}><v>{v}</v></c>");
                }
                Cell::Num(..) => {}
            }
        }
        s.push_str("</row>");
    }
    s.push_str("</sheetData></worksheet>");
    s
}

/// `A`, `B`, … `Z`, `AA`, … for a 0-based column.
pub fn column(mut c: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// Names Excel accepts: at most 31 characters, none of `[]:*?/\`, unique (a number added).
fn sheet_names(sheets: &[Sheet]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(sheets.len());
    for (i, s) in sheets.iter().enumerate() {
        let clean: String = s
            .name
            .chars()
            .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
            .filter(|c| !c.is_control())
            .take(28)
            .collect();
        let mut name = if clean.trim().is_empty() {
            format!("Sheet{}", i + 1)
        } else {
            clean
        };
        let base = name.clone();
        let mut n = 2;
        while names.iter().any(|x| x.eq_ignore_ascii_case(&name)) {
            name = format!("{base}{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

fn display_width(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workbook read back by an independent reader (calamine), as Excel or LibreOffice would.
    #[test]
    fn the_workbook_reads_back_with_every_sheet_text_and_number() {
        use calamine::{Data, Reader, Xlsx};
        let report = crate::report::tests::sample();
        let mut bytes = Vec::new();
        write(&report, &mut bytes).unwrap();
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
        let expected: Vec<String> = sheet::all(&report).into_iter().map(|s| s.name).collect();
        assert_eq!(book.sheet_names(), expected);
        for s in sheet::all(&report) {
            let range = book.worksheet_range(&s.name).unwrap();
            assert_eq!(range.height(), s.rows.len() + 1, "{}", s.name);
            let header: Vec<String> = range
                .rows()
                .next()
                .unwrap()
                .iter()
                .map(|c| c.to_string())
                .collect();
            assert_eq!(header, s.header, "{}", s.name);
        }
        let windows = book.worksheet_range("窗口排名").unwrap();
        assert_eq!(windows.get((1, 1)), Some(&Data::String("w07".into())));
        assert_eq!(windows.get((1, 0)), Some(&Data::Float(1.0)));
        assert_eq!(windows.get((1, 2)), Some(&Data::Float(91.5)));
        assert_eq!(windows.get((2, 1)), Some(&Data::String("w08<b>".into())));
        // The unscored window has no score cell at all.
        assert_eq!(windows.get((3, 2)), Some(&Data::Empty));
        let hits = book.worksheet_range("禁忌用语").unwrap();
        // A phrase that looks like a formula stays text: nothing in the file is a formula.
        assert_eq!(
            hits.get((2, 5)),
            Some(&Data::String("=cmd|' /C calc'!A0".into()))
        );
        assert_eq!(
            hits.get((1, 10)),
            Some(&Data::String(
                "<script>alert(1)</script>有意見找領導去！".into()
            ))
        );
        for name in book.sheet_names() {
            assert!(book
                .worksheet_formula(&name)
                .unwrap()
                .cells()
                .all(|(_, _, f)| f.is_empty()));
        }
    }

    #[test]
    fn columns_are_lettered_like_excel() {
        let got: Vec<String> = [0, 1, 25, 26, 27, 51, 52, 701, 702]
            .into_iter()
            .map(column)
            .collect();
        assert_eq!(got, ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
    }

    #[test]
    fn sheet_names_are_valid_and_unique() {
        let sheet = |name: &str| Sheet {
            name: name.into(),
            header: vec![],
            rows: vec![],
        };
        let names = sheet_names(&[
            sheet("窗口/排名"),
            sheet("窗口_排名"),
            sheet(""),
            sheet(&"长".repeat(40)),
        ]);
        assert_eq!(names[0], "窗口_排名");
        assert_eq!(names[1], "窗口_排名2");
        assert_eq!(names[2], "Sheet3");
        assert_eq!(names[3].chars().count(), 28);
    }

    #[test]
    fn text_is_escaped_and_control_characters_dropped() {
        // The page's escape serves XML too: its entities are XML's, and what XML cannot hold
        // is left out.
        assert_eq!(
            esc("<a href='x'>&\u{1}\u{fffe}\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        let long = "字".repeat(MAX_CELL_CHARS + 5);
        assert_eq!(
            super::super::html::shorten(&long, MAX_CELL_CHARS)
                .chars()
                .count(),
            MAX_CELL_CHARS
        );
    }
}
