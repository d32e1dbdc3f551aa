//! The state file: the whole org (schema included, so tables, columns,
//! options and keys added at run time come back) saved as JSON lines and
//! loaded again without re-validating or re-seeding.

use super::*;

/// A table in a state file: its definition plus what serde leaves out of
/// one (the name and which parts ferry created).
#[derive(Serialize, Deserialize)]
pub(super) struct SavedTable {
    logical_name: String,
    custom: bool,
    custom_columns: Vec<String>,
    definition: Table,
}

#[derive(Serialize, Deserialize)]
pub(super) struct StateHeader {
    format: String,
    version: u32,
    /// The last record version handed out, so etags keep growing.
    last_version: u64,
    tables: Vec<SavedTable>,
}

pub(super) fn encode_cell(cell: &Cell, names: &[String]) -> Value {
    match cell {
        Cell::Bool(b) => json!(["b", b]),
        Cell::Int(i) => json!(["i", i]),
        Cell::Num(n) => json!(["n", n]),
        Cell::Short { .. } | Cell::Text(_) => json!(["s", cell.as_text()]),
        Cell::Time(t) => json!(["t", t]),
        Cell::Date(d) => json!(["d", d]),
        Cell::Ref(t, id) => json!(["r", names[*t as usize], id.to_string()]),
    }
}

pub(super) fn io_error(message: String) -> std::io::Error {
    std::io::Error::other(message)
}

// Saving and loading.
impl Store {
    /// Writes the whole org to `path` as JSON lines: a header with the
    /// schema (so tables, columns, options and keys added at run time come
    /// back), then one line per record and one per N:N link. Written to a
    /// temporary file and renamed, so a crash leaves the old state intact;
    /// streamed, so a million records need no second copy in memory.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = std::path::PathBuf::from(temporary);
        {
            let mut out = BufWriter::new(File::create(&temporary)?);
            let header = StateHeader {
                format: STATE_FORMAT.to_string(),
                version: STATE_VERSION,
                last_version: self.version,
                tables: self
                    .schema
                    .tables()
                    .map(|t| SavedTable {
                        logical_name: t.logical_name.clone(),
                        custom: t.custom,
                        custom_columns: t
                            .columns
                            .iter()
                            .filter(|c| c.custom)
                            .map(|c| c.name.clone())
                            .collect(),
                        definition: t.clone(),
                    })
                    .collect(),
            };
            serde_json::to_writer(&mut out, &header)?;
            out.write_all(b"\n")?;
            for (name, data) in self.names.iter().zip(&self.data) {
                for (id, record) in &data.records {
                    let cells: Map<String, Value> = record
                        .cells
                        .iter()
                        .map(|(c, cell)| {
                            (
                                data.cols[*c as usize].to_string(),
                                encode_cell(cell, &self.names),
                            )
                        })
                        .collect();
                    let line = json!({
                        "table": name,
                        "id": id.to_string(),
                        "created": record.created,
                        "modified": record.modified,
                        "version": record.version,
                        "cells": cells,
                    });
                    serde_json::to_writer(&mut out, &line)?;
                    out.write_all(b"\n")?;
                }
            }
            for (relationship, links) in &self.links {
                for (a, b) in &links.forward {
                    let line =
                        json!({"link": relationship, "a": a.to_string(), "b": b.to_string()});
                    serde_json::to_writer(&mut out, &line)?;
                    out.write_all(b"\n")?;
                }
            }
            out.flush()?;
            out.get_ref().sync_all()?;
        }
        std::fs::rename(&temporary, path)
    }

    /// Reads a state file written by [`Store::save`]. The saved schema
    /// replaces `schema`'s tables of the same name (it is `schema` plus
    /// whatever was created at run time); records are restored as they
    /// were, without re-validating or re-seeding.
    pub fn load(path: &Path, mut schema: Schema, org: OrgSettings) -> Result<Store, String> {
        let shown = path.display();
        let file = File::open(path).map_err(|e| format!("reading {shown}: {e}"))?;
        let mut lines = BufReader::new(file).lines();
        let first = lines
            .next()
            .ok_or_else(|| format!("{shown} is empty"))?
            .map_err(|e| format!("reading {shown}: {e}"))?;
        let header: StateHeader = serde_json::from_str(&first)
            .map_err(|e| format!("{shown} is not a ferry Dataverse state file: {e}"))?;
        if header.format != STATE_FORMAT || header.version != STATE_VERSION {
            return Err(format!(
                "{shown} is a '{}' file of version {}; this ferry reads '{STATE_FORMAT}' version {STATE_VERSION}",
                header.format, header.version
            ));
        }
        let tables = header
            .tables
            .into_iter()
            .map(|saved| {
                let mut table = saved.definition;
                table.logical_name = saved.logical_name;
                table.custom = saved.custom;
                for column in &mut table.columns {
                    column.custom = saved.custom_columns.contains(&column.name);
                }
                table
            })
            .collect();
        schema.replace_tables(tables);
        let mut store = Store::empty(schema, org);
        store.version = header.last_version;
        for (n, line) in lines.enumerate() {
            let at = |e: &dyn std::fmt::Display| format!("{shown} line {}: {e}", n + 2);
            let line = line.map_err(|e| at(&e))?;
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(&line).map_err(|e| at(&e))?;
            store.load_line(&value).map_err(|e| at(&e))?;
        }
        Ok(store)
    }

    pub(super) fn load_line(&mut self, line: &Value) -> Result<(), std::io::Error> {
        let id_of = |v: &Value| {
            v.as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| io_error(format!("bad id {v}")))
        };
        if let Some(relationship) = line.get("link").and_then(Value::as_str) {
            let pair = (id_of(&line["a"])?, id_of(&line["b"])?);
            self.set_link(relationship, pair, true);
            return Ok(());
        }
        let table = line["table"]
            .as_str()
            .ok_or_else(|| io_error("a record line without a table".to_string()))?;
        let t = self
            .sync_table(table)
            .map_err(|_| io_error(format!("unknown table {table}")))?;
        let id = id_of(&line["id"])?;
        let number = |key: &str| {
            line[key]
                .as_i64()
                .ok_or_else(|| io_error(format!("bad {key}")))
        };
        let mut record = Record::new(number("created")?);
        record.modified = number("modified")?;
        record.version = line["version"].as_u64().unwrap_or(0);
        let cells = line["cells"]
            .as_object()
            .ok_or_else(|| io_error("a record line without cells".to_string()))?;
        for (column, encoded) in cells {
            let bad = || io_error(format!("bad value of {column}: {encoded}"));
            let parts = encoded.as_array().ok_or_else(bad)?;
            let tag = parts.first().and_then(Value::as_str).ok_or_else(bad)?;
            let v = parts.get(1).ok_or_else(bad)?;
            let cell = match tag {
                "b" => Cell::Bool(v.as_bool().ok_or_else(bad)?),
                "i" => Cell::Int(v.as_i64().ok_or_else(bad)?),
                "n" => Cell::Num(v.as_f64().ok_or_else(bad)?),
                "s" => Cell::text(v.as_str().ok_or_else(bad)?),
                "t" => Cell::Time(v.as_i64().ok_or_else(bad)?),
                "d" => Cell::Date(
                    v.as_i64()
                        .and_then(|d| i32::try_from(d).ok())
                        .ok_or_else(bad)?,
                ),
                "r" => {
                    let target = v.as_str().ok_or_else(bad)?;
                    let tt = self
                        .sync_table(target)
                        .map_err(|_| io_error(format!("unknown table {target}")))?;
                    Cell::Ref(tt, id_of(parts.get(2).ok_or_else(bad)?)?)
                }
                _ => return Err(bad()),
            };
            let c = self.data[t as usize].intern(column);
            record.set(c, Some(cell));
        }
        self.version = self.version.max(record.version);
        self.put(t, id, Some(record));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("org.jsonl");
        let mut s = store();
        // Schema changes made at run time come back.
        let mut column = s.schema().column("account", "st_ponumber").unwrap().clone();
        column.name = "st_region".into();
        s.schema_mut().add_column("account", column).unwrap();
        s.schema_mut()
            .add_key("account", "st_record_key", vec!["st_record_id".into()])
            .unwrap();
        let critical = s
            .schema_mut()
            .insert_option("incident", "prioritycode", None, "Critical")
            .unwrap();
        let acme = s
            .create("account", &body(json!({"name": "Acme", "st_region": "North", "st_record_id": "A1", "address1_latitude": 51.5})), ME)
            .unwrap();
        let case = s
            .create(
                "incident",
                &body(json!({
                    "customerid_account@odata.bind": format!("/accounts({acme})"),
                    "prioritycode": critical,
                    "st_scheduledstart": "2024-05-01T13:00:00Z",
                })),
                ME,
            )
            .unwrap();
        let boiler = s
            .create(
                "st_equipment",
                &body(json!({"st_name": "Boiler", "st_installdate": "2020-02-29"})),
                ME,
            )
            .unwrap();
        let site = s
            .create(
                "customeraddress",
                &body(json!({"name": "Plant", "parentid_account@odata.bind": format!("/accounts({acme})")})),
                ME,
            )
            .unwrap();
        s.associate(
            "st_equipment",
            boiler,
            "st_equipment_customeraddress",
            "customeraddress",
            site,
        )
        .unwrap();
        s.save(&path).unwrap();
        assert!(!dir.path().join("org.jsonl.tmp").exists());

        let mut loaded = Store::load(&path, Schema::builtin("st"), OrgSettings::default()).unwrap();
        for table in [
            "account",
            "incident",
            "st_equipment",
            "customeraddress",
            "systemuser",
            "uom",
            "organization",
        ] {
            assert_eq!(
                loaded.rows(table).unwrap(),
                s.rows(table).unwrap(),
                "{table}"
            );
        }
        assert!(loaded.schema().column("account", "st_region").is_some());
        assert_eq!(loaded.schema().table("account").unwrap().keys.len(), 1);
        assert!(loaded
            .schema()
            .column("incident", "prioritycode")
            .unwrap()
            .option(critical)
            .is_some());
        assert_eq!(
            loaded.linked("st_equipment_customeraddress", boiler),
            vec![site]
        );
        // Indexes work after a load, and etags keep growing.
        let err = loaded
            .create(
                "account",
                &body(json!({"name": "Dup", "st_record_id": "a1"})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::DUPLICATE_KEY_VALUE);
        let etag = |row: &Map<String, Value>| row["versionnumber"].as_u64().unwrap();
        let before = etag(&get(&loaded, "incident", case));
        loaded
            .write(
                "incident",
                &RecordKey::Id(case),
                &body(json!({"title": "Again"})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap();
        assert!(etag(&get(&loaded, "incident", case)) > before);
        // Deleting still cascades (the back-references were rebuilt).
        loaded.delete("account", &RecordKey::Id(acme)).unwrap();
        assert_eq!(loaded.count("customeraddress"), 0);
        assert_eq!(loaded.count("incident"), 0);

        std::fs::write(&path, "{\"format\":\"something\"}\n").unwrap();
        assert!(Store::load(&path, Schema::builtin("st"), OrgSettings::default()).is_err());
    }
}
