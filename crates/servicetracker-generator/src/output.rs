//! The export's CSV files, all open at once so records stream out customer by
//! customer and memory stays bounded however large the export.
//!
//! Each [`Table`] counts the records it writes (the manifest's `rows`) and
//! the physical line each record starts on, counting the line breaks inside
//! quoted values, so dirt ground truth can name the exact line of a
//! malformed row. Writers are `flexible` only so that deliberately malformed
//! rows (too few or too many fields) can be written; ordinary rows are
//! checked against the header in debug builds.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::model::{self, Object};

/// The custom fields (`cf_*`) each object carries in this synthetic export,
/// after its standard fields. ServiceTracker does not document them; the
/// extractor discovers them from the data.
pub fn custom_fields(object: &str) -> &'static [&'static str] {
    match object {
        "customers" => &[
            "cf_industry",
            "cf_account_tier",
            "cf_credit_limit",
            "cf_tax_exempt",
        ],
        "sites" => &["cf_gate_code"],
        "work_orders" => &[
            "cf_warranty_claim",
            "cf_odometer_miles",
            "cf_follow_up_date",
        ],
        "equipment" => &["cf_refrigerant_type", "cf_last_service_at"],
        _ => &[],
    }
}

/// The UTF-8 byte order mark real exporters put in front of some files.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One object's CSV file being written.
pub struct Table {
    pub object: &'static Object,
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
    columns: Vec<&'static str>,
    rows: u64,
    /// 1-based physical line the next record starts on (the header is line 1).
    next_line: u64,
}

impl Table {
    /// Creates `dir/<object>.csv` and writes its header (after a BOM if
    /// `bom`).
    pub fn create(dir: &Path, object: &'static Object, bom: bool) -> Result<Table> {
        let path = dir.join(format!("{}.csv", object.name));
        let file = File::create(&path).at(&path)?;
        let mut buffered = BufWriter::with_capacity(256 * 1024, file);
        if bom {
            buffered.write_all(UTF8_BOM).at(&path)?;
        }
        let writer = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(buffered);
        debug_assert!(
            custom_fields(&object.name)
                .iter()
                .all(|f| f.starts_with(model::custom_field_prefix())),
            "custom fields carry the contract's prefix"
        );
        let columns: Vec<&'static str> = object
            .field_names()
            .chain(custom_fields(&object.name).iter().copied())
            .collect();
        let mut table = Table {
            object,
            path,
            writer,
            columns,
            rows: 0,
            next_line: 1,
        };
        let header = table.columns.clone();
        table
            .writer
            .write_record(&header)
            .map_err(|e| csv_error(&table.path, e))?;
        table.next_line = 2;
        Ok(table)
    }

    /// Starts an ordinary record; fill every column in header order with
    /// [`Row::put`], then [`Row::finish`].
    pub fn row(&mut self) -> Row<'_> {
        Row {
            table: self,
            filled: 0,
            newlines: 0,
        }
    }

    /// Writes a record with whatever fields it is given, never quoting them:
    /// a deliberately malformed row. Returns the line it starts on.
    pub fn write_malformed(&mut self, fields: &[&str]) -> Result<u64> {
        debug_assert!(
            fields.iter().all(|f| !f.contains([',', '"', '\n', '\r'])),
            "malformed rows are single physical lines without quoting"
        );
        debug_assert_ne!(
            fields.len(),
            self.columns.len(),
            "a malformed row must have a wrong field count"
        );
        self.writer
            .write_record(fields)
            .map_err(|e| csv_error(&self.path, e))?;
        Ok(self.advance(0))
    }

    /// Flushes everything to disk.
    pub fn finish(self) -> Result<u64> {
        let path = self.path;
        let mut inner = self
            .writer
            .into_inner()
            .map_err(|e| csv_error(&path, e.error()))?;
        inner.flush().at(&path)?;
        Ok(self.rows)
    }

    fn advance(&mut self, newlines: u64) -> u64 {
        let line = self.next_line;
        self.next_line += 1 + newlines;
        self.rows += 1;
        line
    }
}

/// An ordinary record being written, column by column.
pub struct Row<'t> {
    table: &'t mut Table,
    filled: usize,
    newlines: u64,
}

impl Row<'_> {
    /// Writes the next column's value; `column` documents which one it is
    /// and is checked against the header in debug builds.
    pub fn put(&mut self, column: &str, value: &str) -> Result<&mut Self> {
        debug_assert_eq!(
            self.table.columns.get(self.filled).copied(),
            Some(column),
            "{}: column {} out of order",
            self.table.object.name,
            self.filled
        );
        self.newlines += value.bytes().filter(|&b| b == b'\n').count() as u64;
        self.table
            .writer
            .write_field(value)
            .map_err(|e| csv_error(&self.table.path, e))?;
        self.filled += 1;
        Ok(self)
    }

    /// Ends the record; returns the physical line it starts on.
    pub fn finish(self) -> Result<u64> {
        debug_assert_eq!(
            self.filled,
            self.table.columns.len(),
            "{}: missing columns",
            self.table.object.name
        );
        self.table
            .writer
            .write_record(None::<&[u8]>)
            .map_err(|e| csv_error(&self.table.path, e))?;
        Ok(self.table.advance(self.newlines))
    }
}

fn csv_error(path: &Path, err: impl std::fmt::Display) -> crate::Error {
    crate::Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(err.to_string()),
    }
}

/// Every object's table, opened together.
pub struct Tables {
    pub customers: Table,
    pub contacts: Table,
    pub sites: Table,
    pub technicians: Table,
    pub contracts: Table,
    pub parts: Table,
    pub work_orders: Table,
    pub work_order_parts: Table,
    pub dispatches: Table,
    pub attachments: Table,
    pub activities: Table,
    pub notes: Table,
    pub billing_history: Table,
    pub equipment: Table,
    pub equipment_sites: Table,
    pub workflows: Table,
}

impl Tables {
    /// Creates every `<object>.csv` in `dir`; only customers.csv gets a BOM,
    /// as real exporters do for the first file (the reader must cope).
    pub fn create(dir: &Path) -> Result<Tables> {
        Ok(Tables {
            customers: Table::create(dir, model::object("customers"), true)?,
            contacts: Table::create(dir, model::object("contacts"), false)?,
            sites: Table::create(dir, model::object("sites"), false)?,
            technicians: Table::create(dir, model::object("technicians"), false)?,
            contracts: Table::create(dir, model::object("contracts"), false)?,
            parts: Table::create(dir, model::object("parts"), false)?,
            work_orders: Table::create(dir, model::object("work_orders"), false)?,
            work_order_parts: Table::create(dir, model::object("work_order_parts"), false)?,
            dispatches: Table::create(dir, model::object("dispatches"), false)?,
            attachments: Table::create(dir, model::object("attachments"), false)?,
            activities: Table::create(dir, model::object("activities"), false)?,
            notes: Table::create(dir, model::object("notes"), false)?,
            billing_history: Table::create(dir, model::object("billing_history"), false)?,
            equipment: Table::create(dir, model::object("equipment"), false)?,
            equipment_sites: Table::create(dir, model::object("equipment_sites"), false)?,
            workflows: Table::create(dir, model::object("workflows"), false)?,
        })
    }

    /// Flushes every file; returns rows per object name.
    pub fn finish(self) -> Result<std::collections::BTreeMap<String, u64>> {
        let all = [
            self.customers,
            self.contacts,
            self.sites,
            self.technicians,
            self.contracts,
            self.parts,
            self.work_orders,
            self.work_order_parts,
            self.dispatches,
            self.attachments,
            self.activities,
            self.notes,
            self.billing_history,
            self.equipment,
            self.equipment_sites,
            self.workflows,
        ];
        let mut rows = std::collections::BTreeMap::new();
        for table in all {
            let name = table.object.name.to_string();
            rows.insert(name, table.finish()?);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_count_newlines_inside_quoted_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Table::create(dir.path(), model::object("workflows"), false).unwrap();
        let values = [
            "WF-001", "a\nb", "x", "y\r\nz", "c", "d", "true", "t1", "t2",
        ];
        let mut r = t.row();
        for (c, v) in model::object("workflows").field_names().zip(values) {
            r.put(c, v).unwrap();
        }
        assert_eq!(r.finish().unwrap(), 2);
        let line = t.write_malformed(&["WF-002", "short"]).unwrap();
        assert_eq!(line, 5, "header + a record spanning three lines");
        t.finish().unwrap();

        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(dir.path().join("workflows.csv"))
            .unwrap();
        let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(records[0].get(1), Some("a\nb"));
        assert_eq!(records[0].get(3), Some("y\r\nz"));
        assert_eq!(records[1].position().unwrap().line(), 5);
        assert_eq!(records[1].len(), 2);
    }

    #[test]
    fn only_customers_csv_starts_with_a_bom() {
        let dir = tempfile::tempdir().unwrap();
        Tables::create(dir.path()).unwrap().finish().unwrap();
        let customers = std::fs::read(dir.path().join("customers.csv")).unwrap();
        assert!(customers.starts_with(UTF8_BOM));
        assert!(customers[3..].starts_with(b"id,company_name,"));
        let contacts = std::fs::read(dir.path().join("contacts.csv")).unwrap();
        assert!(contacts.starts_with(b"id,customer_id,"));
        let header = String::from_utf8(customers[3..].to_vec()).unwrap();
        assert!(header
            .trim_end()
            .ends_with("cf_industry,cf_account_tier,cf_credit_limit,cf_tax_exempt"));
    }
}
