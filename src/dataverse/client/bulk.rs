//! The bulk messages `ferry push` writes with: CreateMultiple,
//! UpdateMultiple and UpsertMultiple, in requests of at most
//! [`MAX_BULK_RECORDS`] records.

use super::*;

impl DataverseClient {
    /// `CreateMultiple`: creates `rows` in `set` (entity set of `table`)
    /// and returns their ids in order. Rows carrying their primary id keep
    /// it (ferry's deterministic GUIDs). Each request of at most
    /// [`MAX_BULK_RECORDS`] is all-or-nothing on standard tables.
    pub async fn create_multiple(
        &self,
        set: &str,
        table: &str,
        rows: &[Map<String, Value>],
    ) -> DvResult<Vec<Uuid>> {
        check_name(set, "entity set")?;
        check_name(table, "table")?;
        let mut ids = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(MAX_BULK_RECORDS) {
            let body = bulk_body(table, chunk);
            let path = format!("{set}/{CRM}CreateMultiple");
            let spec = self.spec(Method::POST, &path, Some(&body), &[])?;
            let reply = self.run(&spec).await?;
            let answer = parse_json(&spec, &reply)?;
            let returned: Vec<Uuid> = answer
                .get("Ids")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .filter_map(|s| Uuid::parse_str(s).ok())
                        .collect()
                })
                .unwrap_or_default();
            if returned.len() != chunk.len() {
                return Err(DvClientError::Transport(format!(
                    "{} answered with {} ids for {} records; read back the table to see what was created",
                    spec.what,
                    returned.len(),
                    chunk.len()
                )));
            }
            ids.extend(returned);
        }
        Ok(ids)
    }

    /// `UpdateMultiple`: every row names its record by primary id (or
    /// `@odata.id`). Sent in requests of at most [`MAX_BULK_RECORDS`].
    pub async fn update_multiple(
        &self,
        set: &str,
        table: &str,
        rows: &[Map<String, Value>],
    ) -> DvResult<()> {
        self.bulk_without_answer(set, table, rows, "UpdateMultiple")
            .await
    }

    /// `UpsertMultiple`: creates or updates each row by primary id,
    /// `@odata.id` or alternate key.
    pub async fn upsert_multiple(
        &self,
        set: &str,
        table: &str,
        rows: &[Map<String, Value>],
    ) -> DvResult<()> {
        self.bulk_without_answer(set, table, rows, "UpsertMultiple")
            .await
    }

    pub(super) async fn bulk_without_answer(
        &self,
        set: &str,
        table: &str,
        rows: &[Map<String, Value>],
        action: &str,
    ) -> DvResult<()> {
        check_name(set, "entity set")?;
        check_name(table, "table")?;
        for chunk in rows.chunks(MAX_BULK_RECORDS) {
            let body = bulk_body(table, chunk);
            let spec = self.spec(
                Method::POST,
                &format!("{set}/{CRM}{action}"),
                Some(&body),
                &[],
            )?;
            self.run(&spec).await?;
        }
        Ok(())
    }
}

pub(super) fn bulk_body(table: &str, rows: &[Map<String, Value>]) -> Value {
    let kind = Value::String(format!("{CRM}{table}"));
    let targets: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut row = row.clone();
            row.insert("@odata.type".to_string(), kind.clone());
            Value::Object(row)
        })
        .collect();
    json!({ "Targets": targets })
}
