//! The operations the Web API exposes on records: create, update, upsert
//! (with `If-Match` / `If-None-Match`), delete with its cascades, retrieve
//! and scan in wire form, N:N associate / disassociate, and
//! `CloseIncident`.

use super::*;

// The operations the Web API exposes.
impl Store {
    /// `POST <set>`: creates a record and returns its id (the body's
    /// primary id if it has one, else a new one).
    pub fn create(
        &mut self,
        table: &str,
        body: &Map<String, Value>,
        caller: Uuid,
    ) -> Result<Uuid, DvError> {
        self.transaction(|s| s.create_in(table, body, None, &[], caller))
    }

    pub(super) fn create_in(
        &mut self,
        table: &str,
        body: &Map<String, Value>,
        url_id: Option<Uuid>,
        key_values: &[(String, Value)],
        caller: Uuid,
    ) -> Result<Uuid, DvError> {
        let t = self.sync_table(table)?;
        if self.is_activity(table) && self.table_def("activityparty").is_some() {
            self.sync_table("activityparty")?;
        }
        let plan = self.plan_create(t, body, url_id, key_values, &[], caller)?;
        let id = plan.id;
        let base_unit = if table == "uomschedule" {
            self.data[t as usize]
                .col("baseuomname")
                .and_then(|c| plan.record.get(c)?.as_text().map(str::to_string))
        } else {
            None
        };
        self.commit(plan);
        // Creating a unit group creates its base unit, named by
        // `baseuomname`, quantity 1 (the uomschedule entity reference).
        if let Some(name) = base_unit {
            let ut = self.sync_table("uom")?;
            let unit = self.plan_create(
                ut,
                &Map::new(),
                None,
                &[],
                &[
                    ("name", Cell::text(&name)),
                    ("quantity", Cell::Num(1.0)),
                    ("uomscheduleid", Cell::Ref(t, id)),
                ],
                caller,
            )?;
            self.commit(unit);
        }
        Ok(id)
    }

    pub(super) fn update_in(
        &mut self,
        table: TableId,
        id: Uuid,
        body: &Map<String, Value>,
        caller: Uuid,
        internal: bool,
    ) -> Result<(), DvError> {
        if self.is_activity(&self.names[table as usize])
            && self.table_def("activityparty").is_some()
        {
            self.sync_table("activityparty")?;
        }
        let plan = self.plan_update(table, id, body, caller, internal)?;
        self.commit(plan);
        Ok(())
    }

    /// `PATCH <set>(<key>)` with its `If-Match` / `If-None-Match` meaning:
    /// a bare PATCH creates the record when it is missing ("Upsert a
    /// table row", update-delete-entities-using-web-api); `If-Match: *`
    /// refuses to create (404), `If-None-Match: *` refuses to update (412,
    /// "A record with matching key values already exists.", "Limit upsert
    /// operations", perform-conditional-operations-using-web-api).
    pub fn write(
        &mut self,
        table: &str,
        key: &RecordKey,
        body: &Map<String, Value>,
        mode: WriteMode,
        caller: Uuid,
    ) -> Result<Written, DvError> {
        self.transaction(|s| {
            let t = s.sync_table(table)?;
            match (s.find(table, key)?, mode) {
                (Some(_), WriteMode::Create | WriteMode::CreateOnly) => Err(duplicate_id()),
                (Some(id), WriteMode::Upsert | WriteMode::UpdateOnly) => {
                    s.update_in(t, id, body, caller, false)?;
                    Ok(Written { id, created: false })
                }
                (None, WriteMode::UpdateOnly) => Err(s.missing(table, key)),
                (None, _) => {
                    let (url_id, pairs) = match key {
                        RecordKey::Id(id) => (Some(*id), &[][..]),
                        RecordKey::Alternate(pairs) => (None, pairs.as_slice()),
                    };
                    let id = s.create_in(table, body, url_id, pairs, caller)?;
                    Ok(Written { id, created: true })
                }
            }
        })
    }

    /// `DELETE <set>(<key>)`. N:N links of the record go with it; records
    /// that cannot exist without it (see [`is_parental`]) are deleted too,
    /// and other lookups to it are cleared, as Dataverse's cascade and
    /// remove-link behaviours do.
    pub fn delete(&mut self, table: &str, key: &RecordKey) -> Result<(), DvError> {
        self.transaction(|s| {
            let t = s.sync_table(table)?;
            let id = s.retrieve_id(table, key)?;
            if s.protected[t as usize] {
                return Err(DvError::bad_request(format!(
                    "The 'Delete' method does not support entities of type '{table}'."
                )));
            }
            s.delete_cascade(t, id);
            Ok(())
        })
    }

    pub(super) fn delete_cascade(&mut self, table: TableId, id: Uuid) {
        let mut pending = vec![(table, id)];
        let mut gone: HashSet<Uuid> = HashSet::new();
        while let Some((t, id)) = pending.pop() {
            if !gone.insert(id) {
                continue;
            }
            let referrers: Vec<(TableId, Uuid)> = self
                .refs
                .range((id, 0, Uuid::nil())..=(id, TableId::MAX, MAX_UUID))
                .map(|(_, rt, rid)| (*rt, *rid))
                .collect();
            for (rt, rid) in referrers {
                if gone.contains(&rid) {
                    continue;
                }
                let data = &self.data[rt as usize];
                let Some(record) = data.records.get(&rid) else {
                    continue;
                };
                let cols: Vec<ColId> = record
                    .cells
                    .iter()
                    .filter(|(_, cell)| matches!(cell, Cell::Ref(_, target) if *target == id))
                    .map(|(c, _)| *c)
                    .collect();
                let parental = self.table_def(&self.names[rt as usize]).is_some_and(|def| {
                    cols.iter().any(|c| {
                        def.column(&data.cols[*c as usize])
                            .is_some_and(|col| is_parental(def, col))
                    })
                });
                if parental {
                    pending.push((rt, rid));
                } else {
                    let mut record = record.clone();
                    for c in cols {
                        record.set(c, None);
                    }
                    self.version += 1;
                    record.version = self.version;
                    record.modified = now();
                    self.put_logged(rt, rid, Some(record));
                }
            }
            let name = self.names[t as usize].clone();
            let relationships: Vec<ManyToMany> = self
                .schema
                .many_to_many()
                .iter()
                .filter(|r| r.table1 == name || r.table2 == name)
                .cloned()
                .collect();
            for r in relationships {
                let mut pairs = Vec::new();
                if let Some(links) = self.links.get(&r.name) {
                    if r.table1 == name {
                        pairs.extend(
                            links
                                .forward
                                .range((id, Uuid::nil())..=(id, MAX_UUID))
                                .copied(),
                        );
                    }
                    if r.table2 == name {
                        pairs.extend(
                            links
                                .backward
                                .range((id, Uuid::nil())..=(id, MAX_UUID))
                                .map(|(b, a)| (*a, *b)),
                        );
                    }
                }
                for pair in pairs {
                    self.link_logged(&r.name, pair, false);
                }
            }
            self.put_logged(t, id, None);
        }
    }

    /// `GET <set>(<key>)`: the record in wire form (DESIGN.md).
    pub fn retrieve(&self, table: &str, key: &RecordKey) -> Result<Map<String, Value>, DvError> {
        let def = self.require_table(table)?;
        let id = self.retrieve_id(table, key)?;
        let t = self
            .tid(table)
            .expect("a record was found, so its table has storage");
        let layout = self.layout(def, t);
        Ok(self.wire(def, &layout, id, &self.data[t as usize].records[&id]))
    }

    /// Every record of `table` in wire form, in primary-id order.
    pub fn rows(&self, table: &str) -> Result<Vec<Map<String, Value>>, DvError> {
        Ok(self.scan(table)?.collect())
    }

    /// [`Store::rows`] one at a time: a filter or a page over a large table
    /// need not hold the whole table in wire form.
    pub fn scan<'a>(
        &'a self,
        table: &str,
    ) -> Result<impl Iterator<Item = Map<String, Value>> + 'a, DvError> {
        let def = self.require_table(table)?;
        let t = self.tid(table);
        let layout = t.map(|t| self.layout(def, t)).unwrap_or_default();
        let records = t.map(|t| &self.data[t as usize].records);
        Ok(records
            .into_iter()
            .flat_map(|r| r.iter())
            .map(move |(id, record)| self.wire(def, &layout, *id, record)))
    }

    /// The columns a record shows, in schema order, with their ids here.
    pub(super) fn layout<'a>(
        &self,
        def: &'a Table,
        table: TableId,
    ) -> Vec<(&'a Column, Option<ColId>)> {
        let data = &self.data[table as usize];
        def.columns
            .iter()
            .filter(|c| {
                c.name != def.primary_id
                    && c.column_type != ColumnType::PartyList
                    && !is_lookup_type_column(def, c)
            })
            .map(|c| (c, data.col(&c.name)))
            .collect()
    }

    pub(super) fn primary_name(&self, table: TableId, id: Uuid) -> Option<String> {
        let def = self.table_def(&self.names[table as usize])?;
        let data = &self.data[table as usize];
        let cell = data.records.get(&id)?.get(data.col(&def.primary_name)?)?;
        cell.as_text().map(str::to_string)
    }

    /// A record as the Web API returns it: `@odata.etag`, the primary id,
    /// every column (null when unset), lookups as `_x_value` with their
    /// target table and name annotations, and the system columns.
    pub(super) fn wire(
        &self,
        def: &Table,
        layout: &[(&Column, Option<ColId>)],
        id: Uuid,
        record: &Record,
    ) -> Map<String, Value> {
        let mut row = Map::new();
        row.insert(
            "@odata.etag".to_string(),
            Value::String(format!("W/\"{}\"", record.version)),
        );
        row.insert(def.primary_id.clone(), Value::String(id.to_string()));
        for (col, c) in layout {
            let cell = c.and_then(|c| record.get(c));
            if col.is_lookup() {
                let name = format!("_{}_value", col.name);
                if let Some(Cell::Ref(t, target)) = cell {
                    row.insert(
                        format!("{name}@Microsoft.Dynamics.CRM.lookuplogicalname"),
                        Value::String(self.names[*t as usize].clone()),
                    );
                    if let Some(label) = self.primary_name(*t, *target) {
                        row.insert(
                            format!("{name}@OData.Community.Display.V1.FormattedValue"),
                            Value::String(label),
                        );
                    }
                    row.insert(name, Value::String(target.to_string()));
                } else {
                    row.insert(name, Value::Null);
                }
            } else {
                row.insert(col.name.clone(), cell.map_or(Value::Null, cell_value));
            }
        }
        row.insert(
            "createdon".to_string(),
            Value::String(format_time(record.created)),
        );
        row.insert(
            "modifiedon".to_string(),
            Value::String(format_time(record.modified)),
        );
        row.insert("versionnumber".to_string(), json!(record.version));
        row
    }

    pub(super) fn relationship(&self, name: &str) -> Option<ManyToMany> {
        self.schema
            .many_to_many()
            .iter()
            .find(|r| r.name == name)
            .cloned()
    }

    /// The (table1 id, table2 id) pair of an N:N link, whichever side the
    /// request came from.
    pub(super) fn pair(
        &self,
        r: &ManyToMany,
        table: &str,
        id: Uuid,
        target_table: &str,
        target_id: Uuid,
    ) -> Result<(Uuid, Uuid), DvError> {
        let pair = if table == r.table1 && target_table == r.table2 {
            (id, target_id)
        } else if table == r.table2 && target_table == r.table1 {
            (target_id, id)
        } else {
            return Err(DvError::bad_request(format!(
                "The relationship '{}' links {} and {} records, not {table} and {target_table}.",
                r.name, r.table1, r.table2
            )));
        };
        self.retrieve_id(target_table, &RecordKey::Id(target_id))?;
        Ok(pair)
    }

    /// The table at the other end of a navigation property: an N:N
    /// relationship, or a lookup's (only, or named) target.
    pub fn navigation_target(&self, table: &str, navigation: &str) -> Result<String, DvError> {
        if let Some(r) = self.relationship(navigation) {
            return Ok(if r.table1 == table {
                r.table2
            } else {
                r.table1
            });
        }
        let def = self.require_table(table)?;
        match self.nav_column(def, navigation) {
            Some((_, Some(target))) => Ok(target),
            Some((col, None)) => col
                .targets
                .first()
                .cloned()
                .ok_or_else(|| DvError::no_segment(navigation)),
            None => Err(DvError::no_segment(navigation)),
        }
    }

    /// `POST|PUT <set>(id)/<navigation>/$ref`: links two records through an
    /// N:N relationship ("Associate and disassociate table rows",
    /// associate-disassociate-entities-using-web-api), or sets a lookup
    /// through its single-valued navigation property, with the same checks
    /// as `@odata.bind`. Linking a pair twice is a duplicate key, as in SQL.
    pub fn associate(
        &mut self,
        table: &str,
        id: Uuid,
        relationship: &str,
        target_table: &str,
        target_id: Uuid,
    ) -> Result<(), DvError> {
        self.transaction(|s| {
            let t = s.sync_table(table)?;
            s.retrieve_id(table, &RecordKey::Id(id))?;
            if let Some(r) = s.relationship(relationship) {
                let pair = s.pair(&r, table, id, target_table, target_id)?;
                if s.links
                    .get(&r.name)
                    .is_some_and(|l| l.forward.contains(&pair))
                {
                    return Err(DvError::new(
                        400,
                        error::DUPLICATE_RECORD,
                        "Cannot insert duplicate key.",
                    ));
                }
                s.link_logged(&r.name, pair, true);
                return Ok(());
            }
            let def = s.require_table(table)?;
            if s.nav_column(def, relationship).is_none() {
                return Err(DvError::no_segment(relationship));
            }
            let set = s.require_table(target_table)?.entity_set_name.clone();
            let mut body = Map::new();
            body.insert(
                format!("{relationship}@odata.bind"),
                Value::String(format!("/{set}({target_id})")),
            );
            s.update_in(t, id, &body, Uuid::nil(), false)
        })
    }

    /// `DELETE <set>(id)/<navigation>/$ref`: unlinks an N:N pair (removing
    /// a link that is not there is not an error) or clears a lookup.
    pub fn disassociate(
        &mut self,
        table: &str,
        id: Uuid,
        relationship: &str,
        target_table: &str,
        target_id: Uuid,
    ) -> Result<(), DvError> {
        self.transaction(|s| {
            let t = s.sync_table(table)?;
            s.retrieve_id(table, &RecordKey::Id(id))?;
            if let Some(r) = s.relationship(relationship) {
                if target_table.is_empty() || target_id.is_nil() {
                    return Err(DvError::bad_request(format!(
                        "Removing a link through '{relationship}' needs the other record: '$id' or its key in the path."
                    )));
                }
                let pair = s.pair(&r, table, id, target_table, target_id)?;
                s.link_logged(&r.name, pair, false);
                return Ok(());
            }
            let def = s.require_table(table)?;
            if s.nav_column(def, relationship).is_none() {
                return Err(DvError::no_segment(relationship));
            }
            let mut body = Map::new();
            body.insert(format!("{relationship}@odata.bind"), Value::Null);
            s.update_in(t, id, &body, Uuid::nil(), false)
        })
    }

    /// The records linked to `id` through an N:N relationship.
    pub fn linked(&self, relationship: &str, id: Uuid) -> Vec<Uuid> {
        let Some(links) = self.links.get(relationship) else {
            return Vec::new();
        };
        links
            .forward
            .range((id, Uuid::nil())..=(id, MAX_UUID))
            .chain(links.backward.range((id, Uuid::nil())..=(id, MAX_UUID)))
            .map(|(_, other)| *other)
            .collect()
    }

    /// `CloseIncident`: creates the case resolution (an activity, closed
    /// at once) and resolves the case with `status`, which must be a
    /// Resolved reason (5 Problem Solved, 1000 Information Provided; SPEC
    /// §9). A case already resolved or cancelled cannot be closed
    /// (`unManagedidsincidentinvalidstate`). Returns the resolution's id.
    pub fn close_incident(
        &mut self,
        resolution: &Map<String, Value>,
        status: i32,
        caller: Uuid,
    ) -> Result<Uuid, DvError> {
        self.transaction(|s| {
            let bind = resolution
                .get("incidentid@odata.bind")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    DvError::bad_request(
                        "The IncidentResolution needs 'incidentid@odata.bind': the case to close.",
                    )
                })?;
            let (set, key_text) = split_reference(bind)?;
            if s.table_for_set(set)? != "incident" {
                return Err(DvError::bad_request(format!(
                    "'{bind}' is not a case (incident) record."
                )));
            }
            let key = s.parse_key("incident", key_text)?;
            let incident = s.retrieve_id("incident", &key)?;
            let t = s.sync_table("incident")?;
            let def = s.require_table("incident")?;
            let (state_col, status_col) =
                state_columns(def).ok_or_else(|| DvError::no_segment("CloseIncident"))?;
            let data = &s.data[t as usize];
            let state = data
                .col(&state_col.name)
                .and_then(|c| cell_int(data.records[&incident].get(c)))
                .unwrap_or(0);
            if state != 0 {
                return Err(DvError::new(
                    400,
                    error::INCIDENT_INVALID_STATE,
                    format!(
                        "Incident state is invalid. The case {incident} is not active (statecode {state}); reactivate it before closing it."
                    ),
                ));
            }
            let resolved = status_col.option(status).and_then(|o| o.state) == Some(1);
            if !resolved {
                return Err(DvError::new(
                    400,
                    error::STATE_STATUS_MISMATCH,
                    format!(
                        "State code is invalid or state code is valid but status code is invalid for a specified state code. ({status} is not a Resolved status of incident)"
                    ),
                ));
            }
            let resolution_id = s.create_in("incidentresolution", resolution, None, &[], caller)?;
            // The resolution is a completed activity.
            let rt = s.sync_table("incidentresolution")?;
            s.update_in(rt, resolution_id, &state_body(1, None), caller, true)?;
            s.update_in(t, incident, &state_body(1, Some(status)), caller, true)?;
            Ok(resolution_id)
        })
    }
}

pub(super) fn state_body(state: i32, status: Option<i32>) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("statecode".to_string(), json!(state));
    if let Some(status) = status {
        body.insert("statuscode".to_string(), json!(status));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;

    #[test]
    fn create_and_retrieve_in_wire_form() {
        let mut s = store();
        let acme = account(&mut s, "Acme Heating");
        let contact = s
            .create(
                "contact",
                &body(json!({
                    "firstname": "Dana",
                    "lastname": "Reyes",
                    "emailaddress1": "dana@acme.example",
                    "parentcustomerid_account@odata.bind": format!("/accounts({acme})"),
                    "st_record_id": "C-1",
                })),
                ME,
            )
            .unwrap();
        let row = get(&s, "contact", contact);
        assert_eq!(row["contactid"], json!(contact.to_string()));
        assert!(row["@odata.etag"].as_str().unwrap().starts_with("W/\""));
        assert_eq!(row["fullname"], json!("Dana Reyes"));
        assert_eq!(row["_parentcustomerid_value"], json!(acme.to_string()));
        assert_eq!(
            row["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
            json!("account")
        );
        assert_eq!(
            row["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"],
            json!("Acme Heating")
        );
        // Owner defaults to the caller.
        assert_eq!(row["_ownerid_value"], json!(ME.to_string()));
        assert_eq!(
            row["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
            json!("systemuser")
        );
        assert_eq!(
            row["_ownerid_value@OData.Community.Display.V1.FormattedValue"],
            json!("# ferry migration")
        );
        // State defaults: Active / Active.
        assert_eq!(
            (row["statecode"].clone(), row["statuscode"].clone()),
            (json!(0), json!(1))
        );
        // Every column shows, null when unset; lookups only as _x_value.
        assert_eq!(row["telephone1"], Value::Null);
        assert!(!row.contains_key("parentcustomerid"));
        assert!(!row.contains_key("owneridtype"));
        assert!(!row.contains_key("parentcustomeridtype"));
        let created = row["createdon"].as_str().unwrap();
        assert!(DateTime::parse_from_rfc3339(created).is_ok() && created.ends_with('Z'));
        assert_eq!(row["createdon"], row["modifiedon"]);
        // The same row comes out of rows(), which is in primary-id order.
        let rows = s.rows("contact").unwrap();
        assert_eq!(rows, vec![row]);
        let a = account(&mut s, "B");
        let b = account(&mut s, "C");
        let ids: Vec<String> = s
            .rows("account")
            .unwrap()
            .iter()
            .map(|r| r["accountid"].as_str().unwrap().to_string())
            .collect();
        let mut sorted = vec![acme.to_string(), a.to_string(), b.to_string()];
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(s.count("account"), 3);
    }

    #[test]
    fn a_case_is_resolved_only_by_close_incident() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let case = incident(&mut s, acme);
        let key = RecordKey::Id(case);
        let err = s
            .write(
                "incident",
                &key,
                &body(json!({"statecode": 1, "statuscode": 5})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(
            err.message,
            "This message can not be used to set the state of incident to Resolved. In order to set state of incident to Resolved, use the CloseIncidentRequest message instead."
        );
        assert_eq!(get(&s, "incident", case)["statecode"], json!(0));
        let resolution = |subject: &str| {
            body(json!({
                "subject": subject,
                "incidentid@odata.bind": format!("/incidents({case})"),
                "timespent": 30,
            }))
        };
        // Only a Resolved reason closes a case.
        let err = s.close_incident(&resolution("Fixed"), 6, ME).unwrap_err();
        assert_eq!(err.code, error::STATE_STATUS_MISMATCH);
        assert_eq!(s.count("incidentresolution"), 0);
        let r = s.close_incident(&resolution("Fixed"), 5, ME).unwrap();
        let row = get(&s, "incident", case);
        assert_eq!(
            (row["statecode"].clone(), row["statuscode"].clone()),
            (json!(1), json!(5))
        );
        let res = get(&s, "incidentresolution", r);
        assert_eq!(res["subject"], json!("Fixed"));
        assert_eq!(res["_incidentid_value"], json!(case.to_string()));
        assert_eq!(res["activitytypecode"], json!("incidentresolution"));
        assert_eq!(
            (res["statecode"].clone(), res["statuscode"].clone()),
            (json!(1), json!(2))
        );
        // Closing a closed case fails and adds no second resolution.
        let err = s
            .close_incident(&resolution("Again"), 1000, ME)
            .unwrap_err();
        assert_eq!(err.code, error::INCIDENT_INVALID_STATE);
        assert_eq!(s.count("incidentresolution"), 1);
        // The resolution needs its case, which must exist.
        let err = s
            .close_incident(&body(json!({"subject": "x"})), 5, ME)
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        let ghost = Uuid::new_v4();
        let err = s
            .close_incident(
                &body(json!({"subject": "x", "incidentid@odata.bind": format!("/incidents({ghost})")})),
                5,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::OBJECT_DOES_NOT_EXIST);
        // Cancelling is an ordinary update (SPEC §9).
        let other = incident(&mut s, acme);
        s.write(
            "incident",
            &RecordKey::Id(other),
            &body(json!({"statecode": 2, "statuscode": 6})),
            WriteMode::UpdateOnly,
            ME,
        )
        .unwrap();
        let err = s
            .close_incident(
                &body(json!({"subject": "x", "incidentid@odata.bind": format!("/incidents({other})")})),
                5,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::INCIDENT_INVALID_STATE);
    }

    #[test]
    fn upsert_by_id_creates_then_updates() {
        let mut s = store();
        let id = Uuid::new_v4();
        let key = RecordKey::Id(id);
        let first = s
            .write(
                "account",
                &key,
                &body(json!({"name": "First"})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap();
        assert_eq!(first, Written { id, created: true });
        let etag = get(&s, "account", id)["@odata.etag"].clone();
        let second = s
            .write(
                "account",
                &key,
                &body(json!({"telephone1": "555-0100"})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap();
        assert_eq!(second, Written { id, created: false });
        let row = get(&s, "account", id);
        assert_eq!(
            (row["name"].clone(), row["telephone1"].clone()),
            (json!("First"), json!("555-0100"))
        );
        assert_ne!(row["@odata.etag"], etag);
        assert_eq!(s.count("account"), 1);
        // The body may repeat the id, but not contradict it.
        let err = s
            .write(
                "account",
                &key,
                &body(json!({"accountid": Uuid::new_v4().to_string()})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        // Primary ids are not valid for update either way.
        s.write(
            "account",
            &key,
            &body(json!({"accountid": id.to_string(), "name": "Same"})),
            WriteMode::Upsert,
            ME,
        )
        .unwrap();
    }

    #[test]
    fn if_match_and_if_none_match() {
        let mut s = store();
        let missing = Uuid::new_v4();
        let err = s
            .write(
                "account",
                &RecordKey::Id(missing),
                &body(json!({"name": "x"})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (404, error::OBJECT_DOES_NOT_EXIST));
        assert_eq!(
            err.message,
            format!("account With Id = {missing} Does Not Exist")
        );
        assert_eq!(s.count("account"), 0);
        let made = s
            .write(
                "account",
                &RecordKey::Id(missing),
                &body(json!({"name": "x"})),
                WriteMode::CreateOnly,
                ME,
            )
            .unwrap();
        assert!(made.created);
        let err = s
            .write(
                "account",
                &RecordKey::Id(missing),
                &body(json!({"name": "y"})),
                WriteMode::CreateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (412, error::DUPLICATE_RECORD));
        assert_eq!(
            err.message,
            "A record with matching key values already exists."
        );
        assert_eq!(get(&s, "account", missing)["name"], json!("x"));
        let err = s
            .write(
                "account",
                &RecordKey::Id(missing),
                &body(json!({"name": "y"})),
                WriteMode::Create,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.status, 412);
    }

    #[test]
    fn alternate_keys_address_upsert_and_stay_unique() {
        let mut s = store();
        s.schema_mut()
            .add_key("account", "st_record_key", vec!["st_record_id".into()])
            .unwrap();
        let key = s.parse_key("account", "st_record_id='ST-1'").unwrap();
        let made = s
            .write(
                "account",
                &key,
                &body(json!({"name": "Acme"})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap();
        assert!(made.created);
        let row = get(&s, "account", made.id);
        assert_eq!(
            row["st_record_id"],
            json!("ST-1"),
            "the key's value is set on create"
        );
        let again = s
            .write(
                "account",
                &key,
                &body(json!({"name": "Acme Ltd"})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap();
        assert_eq!(
            again,
            Written {
                id: made.id,
                created: false
            }
        );
        assert_eq!(
            s.retrieve("account", &key).unwrap()["name"],
            json!("Acme Ltd")
        );
        assert_eq!(s.retrieve_id("account", &key).unwrap(), made.id);
        // Keys compare without case, like the org's collation.
        let err = s
            .create(
                "account",
                &body(json!({"name": "Dup", "st_record_id": "st-1"})),
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (412, error::DUPLICATE_KEY_VALUE));
        assert!(err
            .message
            .starts_with("Entity Key st_record_key violated."));
        let other = s
            .create(
                "account",
                &body(json!({"name": "Other", "st_record_id": "ST-2"})),
                ME,
            )
            .unwrap();
        let err = s
            .write(
                "account",
                &RecordKey::Id(other),
                &body(json!({"st_record_id": "ST-1"})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::DUPLICATE_KEY_VALUE);
        // Binds by key; a key nobody defined is refused.
        let c = s
            .create(
                "contact",
                &body(json!({"lastname": "R", "parentcustomerid_account@odata.bind": "/accounts(st_record_id='ST-2')"})),
                ME,
            )
            .unwrap();
        assert_eq!(
            get(&s, "contact", c)["_parentcustomerid_value"],
            json!(other.to_string())
        );
        let err = s
            .retrieve("account", &s.parse_key("account", "name='Acme'").unwrap())
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        // If-Match on a key that finds nothing.
        let nothing = s.parse_key("account", "st_record_id='ST-9'").unwrap();
        let err = s
            .write(
                "account",
                &nothing,
                &body(json!({"name": "x"})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.status, 404);
        // A key added when records exist indexes them.
        s.schema_mut()
            .add_key("contact", "st_contact_key", vec!["st_record_id".into()])
            .unwrap();
        s.write(
            "contact",
            &RecordKey::Id(c),
            &body(json!({"st_record_id": "C-1"})),
            WriteMode::UpdateOnly,
            ME,
        )
        .unwrap();
        let found = s.parse_key("contact", "st_record_id='C-1'").unwrap();
        assert_eq!(s.retrieve_id("contact", &found).unwrap(), c);
    }

    #[test]
    fn keys_over_lookups_and_several_columns() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        s.schema_mut()
            .add_key(
                "customeraddress",
                "st_site",
                vec!["parentid".into(), "addressnumber".into()],
            )
            .unwrap();
        let key = s
            .parse_key(
                "customeraddress",
                &format!("addressnumber=3,_parentid_value={acme}"),
            )
            .unwrap();
        let made = s
            .write(
                "customeraddress",
                &key,
                &body(json!({"name": "Depot", "line1": "9 Dock Rd"})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap();
        assert!(made.created);
        let row = get(&s, "customeraddress", made.id);
        assert_eq!(row["_parentid_value"], json!(acme.to_string()));
        assert_eq!(row["addressnumber"], json!(3));
        assert_eq!(row["objecttypecode"], json!("account"));
        let again = s
            .write(
                "customeraddress",
                &key,
                &body(json!({"city": "Hull"})),
                WriteMode::Upsert,
                ME,
            )
            .unwrap();
        assert!(!again.created);
        assert_eq!(s.count("customeraddress"), 1);
    }

    #[test]
    fn many_to_many_associate_and_disassociate() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let site = s
            .create(
                "customeraddress",
                &body(json!({"name": "Plant", "parentid_account@odata.bind": format!("/accounts({acme})")})),
                ME,
            )
            .unwrap();
        let boiler = s
            .create("st_equipment", &body(json!({"st_name": "Boiler"})), ME)
            .unwrap();
        let relationship = "st_equipment_customeraddress";
        assert_eq!(
            s.navigation_target("st_equipment", relationship).unwrap(),
            "customeraddress"
        );
        assert_eq!(
            s.navigation_target("customeraddress", relationship)
                .unwrap(),
            "st_equipment"
        );
        s.associate(
            "st_equipment",
            boiler,
            relationship,
            "customeraddress",
            site,
        )
        .unwrap();
        assert_eq!(s.linked(relationship, boiler), vec![site]);
        assert_eq!(s.linked(relationship, site), vec![boiler]);
        // From the other side it is the same pair, so a duplicate.
        let err = s
            .associate(
                "customeraddress",
                site,
                relationship,
                "st_equipment",
                boiler,
            )
            .unwrap_err();
        assert_eq!(err.code, error::DUPLICATE_RECORD);
        let err = s
            .associate(
                "st_equipment",
                boiler,
                relationship,
                "customeraddress",
                Uuid::new_v4(),
            )
            .unwrap_err();
        assert_eq!(err.code, error::OBJECT_DOES_NOT_EXIST);
        let err = s
            .associate("st_equipment", boiler, relationship, "account", acme)
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
        let err = s
            .associate("st_equipment", boiler, "st_nothing", "account", acme)
            .unwrap_err();
        assert_eq!(err.code, error::RESOURCE_NOT_FOUND);
        s.disassociate(
            "customeraddress",
            site,
            relationship,
            "st_equipment",
            boiler,
        )
        .unwrap();
        assert!(s.linked(relationship, boiler).is_empty());
        // Removing an absent link is not an error.
        s.disassociate(
            "st_equipment",
            boiler,
            relationship,
            "customeraddress",
            site,
        )
        .unwrap();
        // Deleting a record drops its links.
        s.associate(
            "st_equipment",
            boiler,
            relationship,
            "customeraddress",
            site,
        )
        .unwrap();
        s.delete("st_equipment", &RecordKey::Id(boiler)).unwrap();
        assert!(s.linked(relationship, site).is_empty());
    }

    #[test]
    fn single_valued_ref_sets_and_clears_a_lookup() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let contact = s
            .create("contact", &body(json!({"lastname": "Reyes"})), ME)
            .unwrap();
        assert_eq!(
            s.navigation_target("account", "primarycontactid").unwrap(),
            "contact"
        );
        assert_eq!(
            s.navigation_target("contact", "parentcustomerid_account")
                .unwrap(),
            "account"
        );
        s.associate("account", acme, "primarycontactid", "contact", contact)
            .unwrap();
        assert_eq!(
            get(&s, "account", acme)["_primarycontactid_value"],
            json!(contact.to_string())
        );
        s.disassociate("account", acme, "primarycontactid", "", Uuid::nil())
            .unwrap();
        assert_eq!(
            get(&s, "account", acme)["_primarycontactid_value"],
            Value::Null
        );
        let err = s
            .associate(
                "account",
                acme,
                "primarycontactid",
                "contact",
                Uuid::new_v4(),
            )
            .unwrap_err();
        assert_eq!(err.code, error::OBJECT_DOES_NOT_EXIST);
    }

    #[test]
    fn delete_cascades_to_dependents_and_clears_other_lookups() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let contact = s
            .create(
                "contact",
                &body(json!({"lastname": "Reyes", "parentcustomerid_account@odata.bind": format!("/accounts({acme})")})),
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
        let note = s
            .create(
                "annotation",
                &body(json!({"notetext": "hi", "objectid_account@odata.bind": format!("/accounts({acme})")})),
                ME,
            )
            .unwrap();
        s.delete("account", &RecordKey::Id(acme)).unwrap();
        assert_eq!(s.count("account"), 0);
        assert!(s.retrieve("customeraddress", &RecordKey::Id(site)).is_err());
        assert!(s.retrieve("annotation", &RecordKey::Id(note)).is_err());
        let row = get(&s, "contact", contact);
        assert_eq!(row["_parentcustomerid_value"], Value::Null);
        let err = s.delete("account", &RecordKey::Id(acme)).unwrap_err();
        assert_eq!((err.status, err.code), (404, error::OBJECT_DOES_NOT_EXIST));
    }
}
