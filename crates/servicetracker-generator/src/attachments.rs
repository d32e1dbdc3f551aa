//! Attachment contents: real bytes of the type a file name says, so that a
//! migration that moves documents can be checked byte for byte.
//!
//! Three formats cover what a service business attaches: plain-text service
//! notes, CSV meter readings and PDF reports. The PDF writer is hand-written
//! and small, but produces a valid file (catalog, page tree, Helvetica text
//! objects and an xref table with exact byte offsets) that any viewer opens.

use std::fmt::Write as _;

use rand::Rng;

use super::names::{self, Trade};

/// The file formats the generator can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Csv,
    Pdf,
}

impl Format {
    /// The format a file name's extension promises (`.txt` when unknown).
    pub fn of_file_name(name: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".pdf") {
            Format::Pdf
        } else if lower.ends_with(".csv") {
            Format::Csv
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain",
            Format::Csv => "text/csv",
            Format::Pdf => "application/pdf",
        }
    }
}

/// What an attachment talks about: used to write its text.
pub struct Subject<'a> {
    /// The record the file is attached to (`WO-0001234`, `CUS-000123`).
    pub parent_id: &'a str,
    pub title: &'a str,
    pub trade: Trade,
    /// Local date the document is dated, `YYYY-MM-DD`.
    pub date: &'a str,
}

/// Content of `format` about `subject`, at least `target_bytes` long (a
/// little more, since lines are never cut).
pub fn content(
    rng: &mut impl Rng,
    format: Format,
    subject: &Subject<'_>,
    target_bytes: usize,
) -> Vec<u8> {
    match format {
        Format::Text => service_notes(rng, subject, target_bytes).into_bytes(),
        Format::Csv => meter_readings(rng, subject, target_bytes).into_bytes(),
        Format::Pdf => {
            // PDF structure costs ~200 bytes per page of 54 lines plus a fixed
            // ~700, so text lines of about the target size give a file of it.
            let lines = report_lines(rng, subject, target_bytes.saturating_sub(700));
            pdf_document(subject.title, &lines)
        }
    }
}

/// A size for an ordinary attachment: mostly 1–20 KB with small files the
/// most common (roughly log-uniform), one in a hundred up to 120 KB; always
/// far below any upload limit. Integer buckets rather than `exp`/`ln`, whose
/// last bits may differ between platforms' math libraries: the same seed must
/// give the same bytes everywhere.
pub fn ordinary_size(rng: &mut impl Rng) -> usize {
    const BUCKETS: &[(usize, usize, u32)] = &[
        (1_000, 2_000, 23),
        (2_000, 4_000, 23),
        (4_000, 8_000, 23),
        (8_000, 14_000, 17),
        (14_000, 20_000, 13),
        (20_000, 120_000, 1),
    ];
    let total: u32 = BUCKETS.iter().map(|b| b.2).sum();
    let mut roll = rng.gen_range(0..total);
    for &(low, high, weight) in BUCKETS {
        if roll < weight {
            return rng.gen_range(low..high);
        }
        roll -= weight;
    }
    BUCKETS[0].0
}

/// A size over Dataverse's default upload limit (5 MB of base64, about
/// 3.75 MB raw): 4.2–6 MB.
pub fn oversized_size(rng: &mut impl Rng) -> usize {
    rng.gen_range(4_200_000..6_000_000)
}

fn service_notes(rng: &mut impl Rng, subject: &Subject<'_>, target_bytes: usize) -> String {
    let mut text = String::with_capacity(target_bytes + 200);
    let _ = write!(
        text,
        "{}\nRecord: {}\nDate: {}\n\n",
        subject.title, subject.parent_id, subject.date
    );
    let mut visit = 1;
    while text.len() < target_bytes {
        let _ = writeln!(text, "Visit {visit}:");
        for line in visit_lines(rng, subject.trade) {
            let _ = writeln!(text, "- {line}");
        }
        text.push('\n');
        visit += 1;
    }
    text
}

fn meter_readings(rng: &mut impl Rng, subject: &Subject<'_>, target_bytes: usize) -> String {
    let mut text = String::with_capacity(target_bytes + 100);
    text.push_str("reading_time,meter_id,reading_kwh,demand_kw,power_factor\n");
    let meter = format!("MTR-{:05}", rng.gen_range(1..100_000));
    let mut reading: f64 = rng.gen_range(1_000.0..90_000.0);
    // Readings every 15 minutes from the document date onwards.
    let start = chrono::NaiveDate::parse_from_str(subject.date, "%Y-%m-%d")
        .unwrap_or_default()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    let mut step: i64 = 0;
    while text.len() < target_bytes {
        let at = start + chrono::Duration::minutes(15 * step);
        let demand: f64 = rng.gen_range(5.0..120.0);
        reading += demand / 4.0;
        let _ = writeln!(
            text,
            "{},{meter},{reading:.1},{demand:.1},{:.2}",
            at.format("%Y-%m-%d %H:%M"),
            rng.gen_range(0.80..0.99)
        );
        step += 1;
    }
    text
}

fn report_lines(rng: &mut impl Rng, subject: &Subject<'_>, target_bytes: usize) -> Vec<String> {
    let mut lines = vec![
        format!("Record: {}", subject.parent_id),
        format!("Date: {}", subject.date),
        String::new(),
    ];
    let mut total = 0;
    let mut visit = 1;
    while total < target_bytes {
        lines.push(format!("Visit {visit}"));
        for line in visit_lines(rng, subject.trade) {
            total += line.len() + 12;
            lines.push(line);
        }
        lines.push(String::new());
        total += 20;
        visit += 1;
    }
    lines
}

/// A few sentences a technician writes about one visit.
fn visit_lines(rng: &mut impl Rng, trade: Trade) -> Vec<String> {
    let words = names::trade_words(trade);
    let (finding, action) = words.repairs[rng.gen_range(0..words.repairs.len())];
    let mut lines = vec![
        format!(
            "Inspected the {}; found {finding}.",
            names::in_sentence(pick(rng, words.equipment))
        ),
        format!("{action}."),
    ];
    if rng.gen_bool(0.6) {
        lines.push(pick(rng, names::NOTE_SENTENCES).to_string());
    }
    let tasks = rand::seq::index::sample(rng, words.pm_tasks.len(), 2);
    lines.push(format!(
        "Completed {} and {}. Readings within spec.",
        words.pm_tasks[tasks.index(0)],
        words.pm_tasks[tasks.index(1)]
    ));
    lines
}

fn pick<'a>(rng: &mut impl Rng, list: &[&'a str]) -> &'a str {
    list[rng.gen_range(0..list.len())]
}

/// A minimal, valid PDF 1.4 document: Letter pages of Helvetica text, 54
/// lines per page, the title on the first. Offsets in the xref table are
/// exact, so strict readers accept it without repair.
pub fn pdf_document(title: &str, lines: &[String]) -> Vec<u8> {
    const LINES_PER_PAGE: usize = 54;
    // No trailing blank lines: they would make a last page without text.
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    let lines = &lines[..end];
    let mut pages: Vec<&[String]> = lines.chunks(LINES_PER_PAGE).collect();
    if pages.is_empty() {
        pages.push(&[]);
    }
    // Objects: 1 catalog, 2 page tree, 3 font, then a page and its content
    // stream per page (4 + 2i, 5 + 2i).
    let object_count = 3 + 2 * pages.len();
    let mut out: Vec<u8> = Vec::with_capacity(lines.len() * 80 + 1024);
    let mut offsets = vec![0usize; object_count + 1];
    out.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");

    let kids: Vec<String> = (0..pages.len())
        .map(|i| format!("{} 0 R", 4 + 2 * i))
        .collect();
    let mut put_object = |out: &mut Vec<u8>, number: usize, body: &[u8]| {
        offsets[number] = out.len();
        out.extend_from_slice(format!("{number} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    put_object(&mut out, 1, b"<< /Type /Catalog /Pages 2 0 R >>");
    put_object(
        &mut out,
        2,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            pages.len()
        )
        .as_bytes(),
    );
    put_object(
        &mut out,
        3,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    );
    for (i, page_lines) in pages.iter().enumerate() {
        let page_number = 4 + 2 * i;
        let content_number = page_number + 1;
        put_object(
            &mut out,
            page_number,
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {content_number} 0 R >>"
            )
            .as_bytes(),
        );
        let mut stream = String::from("BT\n/F1 10 Tf\n13 TL\n54 748 Td\n");
        if i == 0 {
            let _ = write!(
                stream,
                "/F1 14 Tf\n({}) Tj\n/F1 10 Tf\nT*\nT*\n",
                pdf_text(title)
            );
        }
        for line in page_lines.iter() {
            let _ = write!(stream, "({}) Tj\nT*\n", pdf_text(line));
        }
        stream.push_str("ET");
        let mut body = format!("<< /Length {} >>\nstream\n", stream.len()).into_bytes();
        body.extend_from_slice(stream.as_bytes());
        body.extend_from_slice(b"\nendstream");
        put_object(&mut out, content_number, &body);
    }
    let xref_at = out.len();
    let mut xref = format!("xref\n0 {}\n0000000000 65535 f \n", object_count + 1);
    for offset in &offsets[1..] {
        let _ = writeln!(xref, "{offset:010} 00000 n ");
    }
    let _ = write!(
        xref,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
        object_count + 1
    );
    out.extend_from_slice(xref.as_bytes());
    out
}

/// A PDF literal string body: backslashes and parentheses escaped, anything
/// outside printable ASCII replaced, since Helvetica here is WinAnsi only.
fn pdf_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match c {
            '\\' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// The single-component name an attachment's bytes are stored under in
/// `files/<attachment id>/`: each of `/ \ : * ? " < > |` (and control
/// characters) becomes `_`, leading dots are stripped, so no name can climb
/// out of its folder or hide itself.
pub fn sanitize_file_name(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let trimmed = replaced.trim_start_matches('.');
    if trimmed.is_empty() {
        "attachment".to_string()
    } else {
        trimmed.to_string()
    }
}

/// File names of the `attachment_path_chars` dirt: what users of a desktop
/// upload form really send.
pub const PATH_CHAR_FILE_NAMES: &[&str] = &[
    "../../etc/passwd",
    "C:\\Users\\tech\\Desktop\\photo.pdf",
    "reports/2024/summary.pdf",
    "..\\..\\Windows\\System32\\drivers\\etc\\hosts",
    "site:plan?v2*.pdf",
    "meter|readings|final.csv",
    ".hidden_service_notes.txt",
];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn subject() -> Subject<'static> {
        Subject {
            parent_id: "WO-0000001",
            title: "Service Report",
            trade: Trade::Hvac,
            date: "2024-03-05",
        }
    }

    #[test]
    fn sanitized_names_are_single_components() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(
            sanitize_file_name("C:\\Users\\tech\\Desktop\\photo.pdf"),
            "C__Users_tech_Desktop_photo.pdf"
        );
        assert_eq!(
            sanitize_file_name("reports/2024/summary.pdf"),
            "reports_2024_summary.pdf"
        );
        assert_eq!(
            sanitize_file_name(".hidden_service_notes.txt"),
            "hidden_service_notes.txt"
        );
        assert_eq!(sanitize_file_name(".."), "attachment");
        assert_eq!(
            sanitize_file_name("Service Report 2024.pdf"),
            "Service Report 2024.pdf"
        );
        for name in PATH_CHAR_FILE_NAMES {
            let clean = sanitize_file_name(name);
            assert!(
                !clean.contains(['/', '\\', ':', '*', '?', '"', '<', '>', '|']),
                "{clean}"
            );
            assert!(!clean.starts_with('.'), "{clean}");
            assert_ne!(&clean, name);
        }
    }

    /// Every xref entry must point at the `N 0 obj` it names, and
    /// `startxref` at the `xref` keyword.
    #[test]
    fn pdf_xref_offsets_are_exact() {
        let lines: Vec<String> = (0..130)
            .map(|i| format!("Line {i} (with parens) and \\ backslash"))
            .collect();
        let pdf = pdf_document("Inspection Report", &lines);
        // One char per byte, so text offsets are byte offsets.
        let text: String = pdf
            .iter()
            .map(|&b| if b.is_ascii() { b as char } else { '?' })
            .collect();
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(text.ends_with("%%EOF\n"));
        let startxref: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(pdf[startxref..].starts_with(b"xref\n"));
        let xref = &text[startxref..];
        let mut rows = xref.lines().skip(1);
        let header = rows.next().unwrap();
        let count: usize = header.split(' ').nth(1).unwrap().parse().unwrap();
        assert_eq!(count, 3 + 2 * 3 + 1, "three pages of 54 lines");
        let entries: Vec<&str> = rows.take(count).collect();
        assert_eq!(entries[0], "0000000000 65535 f ");
        for (n, entry) in entries.iter().enumerate().skip(1) {
            assert_eq!(entry.len(), 19, "entries are 20 bytes with the EOL");
            let offset: usize = entry[..10].parse().unwrap();
            assert!(
                pdf[offset..].starts_with(format!("{n} 0 obj\n").as_bytes()),
                "object {n}"
            );
        }
        // Stream lengths match their data.
        for part in text.split("<< /Length ").skip(1) {
            let len: usize = part.split(' ').next().unwrap().parse().unwrap();
            let data_start = part.find("stream\n").unwrap() + "stream\n".len();
            assert_eq!(
                &part[data_start + len..data_start + len + 10],
                "\nendstream"
            );
        }
    }

    #[test]
    fn contents_reach_their_target_size_and_match_their_format() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for (format, target) in [
            (Format::Text, 3_000),
            (Format::Csv, 12_000),
            (Format::Pdf, 8_000),
        ] {
            let bytes = content(&mut rng, format, &subject(), target);
            assert!(
                bytes.len() >= target.min(bytes.len()) && bytes.len() >= target * 9 / 10,
                "{format:?} {}",
                bytes.len()
            );
            assert!(bytes.len() < target * 2, "{format:?} {}", bytes.len());
            match format {
                Format::Pdf => assert!(bytes.starts_with(b"%PDF-")),
                Format::Csv => assert!(bytes.starts_with(b"reading_time,meter_id")),
                Format::Text => assert!(bytes.starts_with(b"Service Report\n")),
            }
        }
    }

    #[test]
    fn sizes_stay_in_their_ranges() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..1000 {
            let s = ordinary_size(&mut rng);
            assert!((1_000..120_000).contains(&s));
            let big = oversized_size(&mut rng);
            assert!(big > 3_932_160, "over 5 MiB of base64");
        }
    }

    #[test]
    fn formats_follow_extensions() {
        assert_eq!(Format::of_file_name("a/b/Report.PDF"), Format::Pdf);
        assert_eq!(Format::of_file_name("meter.csv"), Format::Csv);
        assert_eq!(Format::of_file_name("../../etc/passwd"), Format::Text);
    }
}
