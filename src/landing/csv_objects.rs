//! Lands a CSV export: each object's file and the deletions file, record by
//! record, through the landers. The source's reader
//! ([`csv_export`]) opens each file, checks its header and plans its
//! columns; this module reads the records, keeps each one's exact bytes for
//! quarantine, and hands it to the lander.

use std::fs::File;
use std::os::unix::fs::FileExt;

use chrono_tz::Tz;

use crate::error::{Error, IoContext, Result};
use crate::landing::lander::{DeletionLander, ObjectLander};
use crate::source::csv_export::{self, CsvRecord, ExportObject, ObjectCsv};
use crate::source::records::deleted_columns as dc;
use crate::source::records::{ColumnPlan, RecordFields};

/// Lands one object's CSV: plans the columns, then reads every record into
/// `make_lander`'s lander. Returns the lander for the caller to finish.
pub fn land_object<'q>(
    object: &ExportObject,
    tz: Tz,
    make_lander: impl FnOnce(Vec<ColumnPlan>) -> Result<ObjectLander<'q>>,
    on_rows: impl Fn(u64),
) -> Result<ObjectLander<'q>> {
    let path = &object.path;
    let ObjectCsv {
        mut reader,
        header,
        columns,
    } = csv_export::open_object(object, tz)?;
    let mut lander = make_lander(columns)?;

    let raw_file = File::open(path).at(path)?;
    let read_raw = |start: u64, end: u64| -> Vec<u8> {
        let mut buf = vec![0u8; (end - start) as usize];
        match raw_file.read_exact_at(&mut buf, start) {
            Ok(()) => {
                while matches!(buf.last(), Some(b'\n' | b'\r')) {
                    buf.pop();
                }
                buf
            }
            Err(e) => format!("<could not re-read bytes {start}..{end}: {e}>").into_bytes(),
        }
    };

    let mut record = csv::ByteRecord::new();
    let mut count = 0u64;
    loop {
        let start = reader.position().byte();
        // Byte records only fail on I/O: quoting problems surface as a
        // wrong field count, which quarantines the record below.
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_export::csv_error(path, e))?;
        if !more {
            break;
        }
        let end = reader.position().byte();
        let line = record.position().map(|p| p.line());
        if record.len() != header.len() {
            let reason = format!(
                "malformed row: expected {} fields as in the header, found {} (an unquoted comma or a truncated line)",
                header.len(),
                record.len()
            );
            let id = CsvRecord::new(&record)
                .field(header.iter().position(|h| h == "id").unwrap_or(0))
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
            lander.reject(line, id, None, reason, read_raw(start, end))?;
        } else {
            let fields = CsvRecord::new(&record);
            lander.land(&fields, line, || read_raw(start, end))?;
        }
        count += 1;
        if count.is_multiple_of(65536) {
            on_rows(65536);
        }
    }
    on_rows(count % 65536);
    Ok(lander)
}

/// Lands the export's `deleted.csv` (columns `object`, `id`, `deleted_at`,
/// in any order; others are ignored) through `lander`. A row with the wrong
/// number of fields is quarantined like an object's; a header without the
/// three columns stops the extract.
pub fn land_deleted(file: &ExportObject, lander: &mut DeletionLander<'_>) -> Result<()> {
    let path = &file.path;
    let (mut reader, header) = csv_export::open_csv(path)?;
    let index_of = |name: &str| header.iter().position(|h| h == name);
    let (Some(object), Some(id), Some(deleted_at)) = (
        index_of(dc::OBJECT),
        index_of(dc::ID),
        index_of(dc::DELETED_AT),
    ) else {
        return Err(Error::input(
            path,
            format!(
                "the header must name the columns object, id and deleted_at; it has: {}",
                header.join(", ")
            ),
            "export again from ServiceTracker: the deletions file lists object,id,deleted_at",
        ));
    };
    let raw_file = File::open(path).at(path)?;
    let mut record = csv::ByteRecord::new();
    loop {
        let start = reader.position().byte();
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_export::csv_error(path, e))?;
        if !more {
            break;
        }
        let end = reader.position().byte();
        let line = record.position().map(|p| p.line());
        let raw = || {
            let mut buf = vec![0u8; (end - start) as usize];
            match raw_file.read_exact_at(&mut buf, start) {
                Ok(()) => {
                    while matches!(buf.last(), Some(b'\n' | b'\r')) {
                        buf.pop();
                    }
                    buf
                }
                Err(e) => format!("<could not re-read bytes {start}..{end}: {e}>").into_bytes(),
            }
        };
        let fields = CsvRecord::new(&record);
        if record.len() != header.len() {
            let reason = format!(
                "malformed row: expected {} fields as in the header, found {} (an unquoted comma or a truncated line)",
                header.len(),
                record.len()
            );
            let record_id = fields
                .field(id)
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
            lander.reject(line, record_id, None, reason, raw())?;
        } else {
            let get = |i: usize| fields.field(i).unwrap_or_default();
            lander.land(get(object), get(id), get(deleted_at), line, raw)?;
        }
    }
    Ok(())
}
