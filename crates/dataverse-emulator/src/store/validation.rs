//! Planning a write against an immutable store, so a refused write leaves
//! nothing behind: required columns, defaults the platform fills, state and
//! status pairs, derived columns, the rules of particular tables (cases,
//! contracts, products), alternate-key uniqueness and activity parties —
//! then committing the finished plan.

use super::*;

// Planning writes: everything is decided against an immutable store.
impl Store {
    pub(super) fn plan_create(
        &self,
        table: TableId,
        body: &Map<String, Value>,
        url_id: Option<Uuid>,
        key_values: &[(String, Value)],
        preset: &[(&str, Cell)],
        caller: Uuid,
    ) -> Result<Plan, DvError> {
        let def = self.require_table(&self.names[table as usize])?;
        let data = &self.data[table as usize];
        let parsed = self.parse_body(table, def, body, Op::Create)?;
        let id = match (parsed.id, url_id) {
            (Some(a), Some(b)) if a != b => {
                return Err(DvError::bad_request(format!(
                    "The '{}' in the body ({a}) is not the id the request addresses ({b}).",
                    def.primary_id
                )))
            }
            (a, b) => a.or(b).unwrap_or_else(Uuid::new_v4),
        };
        if data.records.contains_key(&id) {
            return Err(duplicate_id());
        }
        let at = now();
        let mut record = Record::new(at);
        // Upsert by alternate key creates the record with the key's values
        // ("Use an alternate key to reference a record").
        for (name, value) in key_values {
            let column = name
                .strip_prefix('_')
                .and_then(|n| n.strip_suffix("_value"))
                .unwrap_or(name);
            let col = def
                .column(column)
                .ok_or_else(|| not_a_property(column, &def.logical_name))?;
            let cell = if col.is_lookup() {
                value
                    .as_str()
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .and_then(|target| self.ref_to(col, target))
                    .ok_or_else(|| literal_error(value, "Edm.Guid"))?
            } else {
                self.to_cell(def, col, value)?
            };
            record.set(data.col(column).expect("schema column"), Some(cell));
        }
        let given = |col: Option<&Column>| {
            col.and_then(|c| data.col(&c.name))
                .is_some_and(|c| parsed.cells.iter().any(|(p, v)| *p == c && v.is_some()))
        };
        let states = state_columns(def);
        let given_state = given(states.map(|s| s.0));
        let given_status = given(states.map(|s| s.1));
        for (c, cell) in parsed.cells {
            record.set(c, cell);
        }
        for (name, cell) in preset {
            record.set(data.col(name).expect("schema column"), Some(cell.clone()));
        }
        if let (Some(original), Some(c)) =
            (parsed.overridden_created, data.col("overriddencreatedon"))
        {
            // The record says when it really began; overriddencreatedon
            // keeps when it was migrated ("Date and time that the record was
            // migrated", entity reference).
            record.created = original;
            record.set(c, Some(Cell::Time(at)));
        }
        self.fill_defaults(def, data, &mut record, caller, id);
        self.settle_state(
            def,
            data,
            &mut record,
            None,
            given_state,
            given_status,
            false,
        )?;
        self.derive(def, data, &mut record);
        for col in def.columns.iter().filter(|c| platform_required(def, c)) {
            if data.col(&col.name).and_then(|c| record.get(c)).is_none() {
                return Err(required_missing(def, col));
            }
        }
        self.check_table_rules(def, data, &record)?;
        self.check_keys(def, data, &record, id)?;
        let parties = match parsed.parties {
            Some(items) => self.plan_parties(table, id, &items, caller)?,
            None => Vec::new(),
        };
        Ok(Plan {
            table,
            id,
            record,
            parties,
            replace_parties: false,
        })
    }

    pub(super) fn plan_update(
        &self,
        table: TableId,
        id: Uuid,
        body: &Map<String, Value>,
        caller: Uuid,
        internal: bool,
    ) -> Result<Plan, DvError> {
        let def = self.require_table(&self.names[table as usize])?;
        let data = &self.data[table as usize];
        let existing = data
            .records
            .get(&id)
            .ok_or_else(|| DvError::not_found(&def.logical_name, id))?;
        let parsed = self.parse_body(table, def, body, Op::Update)?;
        if parsed.id.is_some_and(|given| given != id) {
            return Err(DvError::bad_request(format!(
                "The '{}' in the body is not the id the request addresses ({id}).",
                def.primary_id
            )));
        }
        let given = |col: Option<&Column>| {
            col.and_then(|c| data.col(&c.name))
                .is_some_and(|c| parsed.cells.iter().any(|(p, v)| *p == c && v.is_some()))
        };
        let states = state_columns(def);
        let given_state = given(states.map(|s| s.0));
        let given_status = given(states.map(|s| s.1));
        let mut record = existing.clone();
        for (c, cell) in parsed.cells {
            if cell.is_none() {
                // "When this is set to SystemRequired, you cannot set these
                // attributes to a null value" (update-delete-entities-using-web-api).
                let col = def.column(&data.cols[c as usize]);
                if let Some(col) = col.filter(|c| c.required_level == RequiredLevel::SystemRequired)
                {
                    return Err(required_missing(def, col));
                }
            }
            record.set(c, cell);
        }
        self.settle_state(
            def,
            data,
            &mut record,
            Some(existing),
            given_state,
            given_status,
            internal,
        )?;
        self.derive(def, data, &mut record);
        self.check_table_rules(def, data, &record)?;
        self.check_keys(def, data, &record, id)?;
        record.modified = now();
        let (parties, replace_parties) = match parsed.parties {
            Some(items) => (self.plan_parties(table, id, &items, caller)?, true),
            None => (Vec::new(), false),
        };
        Ok(Plan {
            table,
            id,
            record,
            parties,
            replace_parties,
        })
    }

    /// Deep insert of `<activity>_activity_parties` (SPEC §9): each party
    /// is an activityparty record pointing at the activity.
    pub(super) fn plan_parties(
        &self,
        activity_table: TableId,
        activity: Uuid,
        items: &[Map<String, Value>],
        caller: Uuid,
    ) -> Result<Vec<Plan>, DvError> {
        let party_table = self
            .tid("activityparty")
            .ok_or_else(|| DvError::no_segment("activityparty"))?;
        items
            .iter()
            .map(|item| {
                self.plan_create(
                    party_table,
                    item,
                    None,
                    &[],
                    &[("activityid", Cell::Ref(activity_table, activity))],
                    caller,
                )
            })
            .collect()
    }

    /// What the platform fills in on create when the body did not.
    pub(super) fn fill_defaults(
        &self,
        def: &Table,
        data: &TableData,
        record: &mut Record,
        caller: Uuid,
        id: Uuid,
    ) {
        let mut default = |column: &str, cell: Option<Cell>| {
            if let (Some(c), Some(cell)) = (data.col(column), cell) {
                if def.column(column).is_some() && record.get(c).is_none() {
                    record.set(c, Some(cell));
                }
            }
        };
        // ownerid defaults to the caller (SPEC §9).
        if def
            .column("ownerid")
            .is_some_and(|c| c.column_type == ColumnType::Owner)
        {
            default(
                "ownerid",
                self.tid("systemuser").map(|t| Cell::Ref(t, caller)),
            );
        }
        // Currency-enabled tables take the base currency unless told.
        if def
            .column("transactioncurrencyid")
            .is_some_and(|c| c.targets.iter().any(|t| t == "transactioncurrency"))
        {
            let currency = self.base_currency_id();
            default(
                "transactioncurrencyid",
                self.tid("transactioncurrency")
                    .map(|t| Cell::Ref(t, currency)),
            );
        }
        if self.is_activity(&def.logical_name) {
            default("activitytypecode", Some(Cell::text(&def.logical_name)));
            default("isregularactivity", Some(Cell::Bool(true)));
        }
        let serial = || id.simple().to_string()[..6].to_uppercase();
        match def.logical_name.as_str() {
            // The platform numbers cases and contracts when the body does not.
            "incident" => default(
                "ticketnumber",
                Some(Cell::text(&format!("CAS-{}", serial()))),
            ),
            "contract" => default(
                "contractnumber",
                Some(Cell::text(&format!("CNR-{}", serial()))),
            ),
            // A product is a plain product unless it says it is a family.
            "product" => default("productstructure", Some(Cell::Int(1))),
            _ => {}
        }
    }

    /// Settles statecode/statuscode after a write: the default state on
    /// create, the state's default status when only a state is given, and
    /// the status must belong to the state (`InvalidStateCodeStatusCode`).
    /// A case is resolved only by `CloseIncident` (SPEC §9).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn settle_state(
        &self,
        def: &Table,
        data: &TableData,
        record: &mut Record,
        before: Option<&Record>,
        given_state: bool,
        given_status: bool,
        internal: bool,
    ) -> Result<(), DvError> {
        let Some((state_col, status_col)) = state_columns(def) else {
            return Ok(());
        };
        let (Some(sc), Some(uc)) = (data.col(&state_col.name), data.col(&status_col.name)) else {
            return Ok(());
        };
        let first_state = state_col.options.first().map_or(0, |o| i64::from(o.value));
        let state = cell_int(record.get(sc)).unwrap_or(first_state);
        let previous = before.and_then(|b| cell_int(b.get(sc)));
        record.set(sc, Some(Cell::Int(state)));
        let status = match cell_int(record.get(uc)) {
            Some(s) if given_status || !given_state => s,
            _ => match default_status(state_col, status_col, state) {
                Some(s) => s,
                None => return Ok(()),
            },
        };
        let belongs = status_col
            .option(status as i32)
            .is_some_and(|o| o.state.is_none_or(|s| i64::from(s) == state));
        if !belongs {
            return Err(DvError::new(
                400,
                error::STATE_STATUS_MISMATCH,
                format!(
                    "State code is invalid or state code is valid but status code is invalid for a specified state code. ({}: {state}, {}: {status}, on {})",
                    state_col.name, status_col.name, def.logical_name
                ),
            ));
        }
        record.set(uc, Some(Cell::Int(status)));
        if def.logical_name == "incident" && !internal && state == 1 && previous != Some(1) {
            return Err(DvError::new(
                400,
                error::INVALID_ARGUMENT,
                "This message can not be used to set the state of incident to Resolved. In order to set state of incident to Resolved, use the CloseIncidentRequest message instead.",
            ));
        }
        Ok(())
    }

    /// Columns the platform computes from others.
    pub(super) fn derive(&self, def: &Table, data: &TableData, record: &mut Record) {
        let get =
            |record: &Record, column: &str| data.col(column).and_then(|c| record.get(c).cloned());
        let text = |cell: Option<Cell>| cell.and_then(|c| c.as_text().map(str::to_string));
        let set = |record: &mut Record, column: &str, cell: Option<Cell>| {
            if let Some(c) = data.col(column) {
                record.set(c, cell);
            }
        };
        // Full name is "First Last", the platform's default format.
        if def
            .column("fullname")
            .is_some_and(|c| c.valid_for_create == Some(false))
            && def.column("lastname").is_some()
        {
            let parts: Vec<String> = [get(record, "firstname"), get(record, "lastname")]
                .into_iter()
                .filter_map(text)
                .filter(|s| !s.is_empty())
                .collect();
            let full = (!parts.is_empty()).then(|| Cell::text(&parts.join(" ")));
            set(record, "fullname", full);
        }
        // The type column of a lookup says which table it points at.
        let table_of = |record: &Record, column: &str| match get(record, column) {
            Some(Cell::Ref(t, _)) => Some(Cell::text(&self.names[t as usize])),
            _ => None,
        };
        match def.logical_name.as_str() {
            "annotation" => {
                let ot = table_of(record, "objectid");
                set(record, "objecttypecode", ot);
                let document = text(get(record, "documentbody"));
                let size = document.as_deref().map(|d| {
                    base64::engine::general_purpose::STANDARD
                        .decode(d)
                        .map_or(0, |b| b.len() as i64)
                });
                set(record, "filesize", size.map(Cell::Int));
                set(record, "isdocument", Some(Cell::Bool(document.is_some())));
            }
            "activityparty" => {
                let pt = table_of(record, "partyid");
                set(record, "partyobjecttypecode", pt);
            }
            "customeraddress" => {
                let ot = table_of(record, "parentid");
                set(record, "objecttypecode", ot);
            }
            "contract" => {
                let abbreviation = match get(record, "contracttemplateid") {
                    Some(Cell::Ref(t, id)) => {
                        let template = &self.data[t as usize];
                        template
                            .col("abbreviation")
                            .and_then(|c| template.records.get(&id)?.get(c).cloned())
                    }
                    _ => None,
                };
                set(record, "contracttemplateabbreviation", abbreviation);
            }
            _ => {}
        }
    }

    /// Rules of particular tables the platform enforces.
    pub(super) fn check_table_rules(
        &self,
        def: &Table,
        data: &TableData,
        record: &Record,
    ) -> Result<(), DvError> {
        let get = |column: &str| data.col(column).and_then(|c| record.get(c));
        match def.logical_name.as_str() {
            // A unit group is created with its base unit's name; the
            // platform makes that unit (error `BaseUomNameNotSpecified`).
            "uomschedule" if get("baseuomname").is_none() => Err(DvError::new(
                400,
                error::BASE_UOM_NAME_MISSING,
                "baseuomname not specified",
            )),
            // A product is sold in units of its unit group: both are needed
            // and the unit must be of the group (SPEC §9).
            "product" => {
                for column in ["defaultuomscheduleid", "defaultuomid"] {
                    if get(column).is_none() {
                        let col = def.column(column).expect("product has its unit columns");
                        return Err(required_missing(def, col));
                    }
                }
                if let (Some(Cell::Ref(_, group)), Some(Cell::Ref(ut, unit))) =
                    (get("defaultuomscheduleid"), get("defaultuomid"))
                {
                    let units = &self.data[*ut as usize];
                    let unit_group = units
                        .col("uomscheduleid")
                        .and_then(|c| units.records.get(unit)?.get(c));
                    if !matches!(unit_group, Some(Cell::Ref(_, g)) if g == group) {
                        return Err(DvError::new(
                            400,
                            error::INVALID_ARGUMENT,
                            "The unit (defaultuomid) does not belong to the unit group (defaultuomscheduleid).",
                        ));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Alternate keys are unique (`DuplicateRecordEntityKey`).
    pub(super) fn check_keys(
        &self,
        def: &Table,
        data: &TableData,
        record: &Record,
        id: Uuid,
    ) -> Result<(), DvError> {
        for index in &data.keys {
            let Some(parts) = index.parts(record) else {
                continue;
            };
            if index.ids.get(&parts).is_some_and(|other| *other != id) {
                return Err(DvError::new(
                    412,
                    error::DUPLICATE_KEY_VALUE,
                    format!(
                        "Entity Key {} violated. A record with the same value for {} already exists. A duplicate record cannot be created. Select one or more unique values and try again. (entity '{}')",
                        index.key.name,
                        index.key.columns.join(", "),
                        def.logical_name
                    ),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn commit(&mut self, plan: Plan) {
        if plan.replace_parties {
            self.drop_parties(plan.id);
        }
        let mut record = plan.record;
        self.version += 1;
        record.version = self.version;
        // Records are written once and read many times: no spare capacity.
        record.cells.shrink_to_fit();
        self.put_logged(plan.table, plan.id, Some(record));
        for party in plan.parties {
            self.commit(party);
        }
    }

    pub(super) fn drop_parties(&mut self, activity: Uuid) {
        let Some(pt) = self.tid("activityparty") else {
            return;
        };
        let Some(c) = self.data[pt as usize].col("activityid") else {
            return;
        };
        let parties: Vec<Uuid> = self
            .refs
            .range((activity, pt, Uuid::nil())..=(activity, pt, MAX_UUID))
            .map(|(_, _, id)| *id)
            .filter(|id| {
                matches!(self.data[pt as usize].records.get(id).and_then(|r| r.get(c)),
                    Some(Cell::Ref(_, a)) if *a == activity)
            })
            .collect();
        for id in parties {
            self.put_logged(pt, id, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;

    #[test]
    fn body_id_is_used_and_a_duplicate_is_refused() {
        let mut s = store();
        let id = Uuid::new_v4();
        let created = s
            .create(
                "account",
                &body(json!({"accountid": id.to_string(), "name": "A"})),
                ME,
            )
            .unwrap();
        assert_eq!(created, id);
        let err = s
            .create(
                "account",
                &body(json!({"accountid": id.to_string(), "name": "B"})),
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (412, error::DUPLICATE_RECORD));
        assert_eq!(get(&s, "account", id)["name"], json!("A"));
    }

    #[test]
    fn state_and_status_must_pair() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let case = incident(&mut s, acme);
        let key = RecordKey::Id(case);
        let update = |s: &mut Store, v: Value| {
            s.write("incident", &key, &body(v), WriteMode::UpdateOnly, ME)
        };
        let err = update(&mut s, json!({"statecode": 2, "statuscode": 1})).unwrap_err();
        assert_eq!((err.status, err.code), (400, error::STATE_STATUS_MISMATCH));
        assert!(err.message.starts_with("State code is invalid or state code is valid but status code is invalid for a specified state code."));
        // A status of the current state is fine; so is a state alone, which
        // takes its default status (Cancelled → 6).
        update(&mut s, json!({"statuscode": 2})).unwrap();
        assert_eq!(get(&s, "incident", case)["statuscode"], json!(2));
        update(&mut s, json!({"statecode": 2})).unwrap();
        let row = get(&s, "incident", case);
        assert_eq!(
            (row["statecode"].clone(), row["statuscode"].clone()),
            (json!(2), json!(6))
        );
        // Reactivate, then cancel as merged.
        update(&mut s, json!({"statecode": 0, "statuscode": 1})).unwrap();
        update(&mut s, json!({"statecode": 2, "statuscode": 2000})).unwrap();
        assert_eq!(get(&s, "incident", case)["statuscode"], json!(2000));
    }

    #[test]
    fn system_required_columns_the_platform_cannot_fill() {
        let mut s = store();
        // A case needs its customer; its title (ApplicationRequired) is
        // a form rule the Web API does not enforce.
        let err = s
            .create("incident", &body(json!({"title": "x"})), ME)
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (
                error::INCIDENT_CUSTOMER_MISSING,
                "You should specify a parent contact or account."
            )
        );
        let acme = account(&mut s, "Acme");
        s.create(
            "incident",
            &body(json!({"customerid_account@odata.bind": format!("/accounts({acme})")})),
            ME,
        )
        .unwrap();
        // An address needs its parent.
        let err = s
            .create(
                "customeraddress",
                &body(json!({"name": "Site", "line1": "1 Main"})),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::REQUIRED_MISSING);
        assert!(err.message.contains("'parentid'"));
        // A contract needs customer, billing customer, dates and template;
        // the currency defaults to the base currency.
        let mut contract = json!({
            "title": "PM",
            "billingcustomerid_account@odata.bind": format!("/accounts({acme})"),
            "activeon": "2024-01-01T00:00:00Z",
            "expireson": "2025-01-01T00:00:00Z",
            "contracttemplateid@odata.bind": format!("/contracttemplates({})", s.contract_template_id()),
        });
        let err = s
            .create("contract", &body(contract.clone()), ME)
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (
                error::CONTRACT_CUSTOMER_MISSING,
                "Account is required to save a contract."
            )
        );
        contract["customerid_account@odata.bind"] = json!(format!("/accounts({acme})"));
        let id = s.create("contract", &body(contract.clone()), ME).unwrap();
        let row = get(&s, "contract", id);
        assert_eq!(
            row["_transactioncurrencyid_value"],
            json!(s.base_currency_id().to_string())
        );
        assert_eq!(row["contracttemplateabbreviation"], json!("SVC"));
        assert!(row["contractnumber"].as_str().unwrap().starts_with("CNR-"));
        contract
            .as_object_mut()
            .unwrap()
            .remove("contracttemplateid@odata.bind");
        let err = s.create("contract", &body(contract), ME).unwrap_err();
        assert!(err.message.contains("'contracttemplateid'"));
        // A SystemRequired column cannot be emptied by an update.
        let err = s
            .write(
                "contract",
                &RecordKey::Id(id),
                &body(json!({"activeon": null})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::REQUIRED_MISSING);
    }

    #[test]
    fn products_need_a_unit_of_their_unit_group() {
        let mut s = store();
        let group = s.default_unit_group_id();
        let unit = s.primary_unit_id();
        let err = s
            .create(
                "product",
                &body(json!({"name": "Filter", "productnumber": "F-1"})),
                ME,
            )
            .unwrap_err();
        assert!(
            err.message.contains("'defaultuomscheduleid'"),
            "{}",
            err.message
        );
        let err = s
            .create(
                "product",
                &body(json!({
                    "name": "Filter",
                    "defaultuomscheduleid@odata.bind": format!("/uomschedules({group})"),
                    "defaultuomid@odata.bind": format!("/uoms({unit})"),
                })),
                ME,
            )
            .unwrap_err();
        assert!(err.message.contains("'productnumber'"), "{}", err.message);
        // A unit group made through the API brings its base unit name.
        let err = s
            .create("uomschedule", &body(json!({"name": "Boxes"})), ME)
            .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (error::BASE_UOM_NAME_MISSING, "baseuomname not specified")
        );
        let boxes = s
            .create(
                "uomschedule",
                &body(json!({"name": "Boxes", "baseuomname": "Box"})),
                ME,
            )
            .unwrap();
        let err = s
            .create(
                "product",
                &body(json!({
                    "name": "Filter",
                    "productnumber": "F-1",
                    "defaultuomscheduleid@odata.bind": format!("/uomschedules({boxes})"),
                    "defaultuomid@odata.bind": format!("/uoms({unit})"),
                })),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::INVALID_ARGUMENT);
        // ...but with the group's own base unit it is fine.
        let boxes_rows = s.rows("uom").unwrap();
        let bx = boxes_rows
            .iter()
            .find(|u| u["name"] == json!("Box"))
            .expect("the base unit was made with the group");
        assert_eq!(bx["_uomscheduleid_value"], json!(boxes.to_string()));
        assert_eq!(bx["quantity"], json!(1.0));
        s.create(
            "product",
            &body(json!({
                "name": "Boxed filter",
                "productnumber": "F-2",
                "defaultuomscheduleid@odata.bind": format!("/uomschedules({boxes})"),
                "defaultuomid@odata.bind": format!("/uoms({})", bx["uomid"].as_str().unwrap()),
            })),
            ME,
        )
        .unwrap();
        let p = s
            .create(
                "product",
                &body(json!({
                    "name": "Filter",
                    "productnumber": "F-1",
                    "price": 12.5,
                    "defaultuomscheduleid@odata.bind": format!("/uomschedules({group})"),
                    "defaultuomid@odata.bind": format!("/uoms({unit})"),
                })),
                ME,
            )
            .unwrap();
        let row = get(&s, "product", p);
        assert_eq!(row["price"], json!(12.5));
        assert_eq!(row["productstructure"], json!(1));
        assert!(
            !row.contains_key("_ownerid_value"),
            "products are organization-owned"
        );
    }

    #[test]
    fn owners_must_be_enabled_users() {
        let mut s = store();
        let enabled = enabled_user(&s).clone();
        let disabled = disabled_user(&s).clone();
        let a = s
            .create(
                "account",
                &body(json!({"name": "A", "ownerid@odata.bind": format!("/systemusers({})", enabled.id)})),
                ME,
            )
            .unwrap();
        let row = get(&s, "account", a);
        assert_eq!(row["_ownerid_value"], json!(enabled.id.to_string()));
        assert_eq!(
            row["_ownerid_value@OData.Community.Display.V1.FormattedValue"],
            json!(enabled.name)
        );
        let err = s
            .create(
                "account",
                &body(json!({"name": "B", "ownerid@odata.bind": format!("/systemusers({})", disabled.id)})),
                ME,
            )
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, error::USER_DISABLED));
        assert!(err.message.starts_with(
            "The specified user is either disabled or is not a member of any business unit."
        ));
        let err = s
            .write(
                "account",
                &RecordKey::Id(a),
                &body(json!({"ownerid@odata.bind": format!("/systemusers({})", disabled.id)})),
                WriteMode::UpdateOnly,
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::USER_DISABLED);
        assert_eq!(
            get(&s, "account", a)["_ownerid_value"],
            json!(enabled.id.to_string())
        );
        // A disabled user may still be referred to otherwise (a party).
        let call = s
            .create(
                "phonecall",
                &body(json!({
                    "subject": "x",
                    "phonecall_activity_parties": [
                        {"participationtypemask": 1, "partyid_systemuser@odata.bind": format!("/systemusers({})", disabled.id)}
                    ],
                })),
                ME,
            )
            .unwrap();
        assert_eq!(s.count("activityparty"), 1, "{call}");
        let err = s
            .delete("systemuser", &RecordKey::Id(disabled.id))
            .unwrap_err();
        assert_eq!(err.code, error::BAD_REQUEST);
    }

    #[test]
    fn activity_parties_are_created_with_their_activity() {
        let mut s = store();
        let acme = account(&mut s, "Acme");
        let contact = s
            .create("contact", &body(json!({"lastname": "Reyes"})), ME)
            .unwrap();
        let case = incident(&mut s, acme);
        let tech = enabled_user(&s).id;
        let call = s
            .create(
                "phonecall",
                &body(json!({
                    "subject": "Visit booked",
                    "regardingobjectid_incident_phonecall@odata.bind": format!("/incidents({case})"),
                    "phonecall_activity_parties": [
                        {"participationtypemask": 1, "partyid_systemuser@odata.bind": format!("/systemusers({tech})")},
                        {"participationtypemask": 2, "partyid_contact@odata.bind": format!("/contacts({contact})")},
                    ],
                })),
                ME,
            )
            .unwrap();
        let parties = s.rows("activityparty").unwrap();
        assert_eq!(parties.len(), 2);
        for party in &parties {
            assert_eq!(party["_activityid_value"], json!(call.to_string()));
            assert_eq!(
                party["_activityid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
                json!("phonecall")
            );
        }
        let mut kinds: Vec<&str> = parties
            .iter()
            .map(|p| p["partyobjecttypecode"].as_str().unwrap())
            .collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["contact", "systemuser"]);
        // A bad party fails the whole activity.
        let err = s
            .create(
                "phonecall",
                &body(json!({
                    "subject": "x",
                    "phonecall_activity_parties": [{"participationtypemask": 99}],
                })),
                ME,
            )
            .unwrap_err();
        assert_eq!(err.code, error::PICKLIST_VALUE_OUT_OF_RANGE);
        assert_eq!((s.count("phonecall"), s.count("activityparty")), (1, 2));
        // An update with a party list replaces it.
        s.write(
            "phonecall",
            &RecordKey::Id(call),
            &body(json!({"phonecall_activity_parties": [
                {"participationtypemask": 2, "partyid_account@odata.bind": format!("/accounts({acme})")}
            ]})),
            WriteMode::UpdateOnly,
            ME,
        )
        .unwrap();
        assert_eq!(s.count("activityparty"), 1);
        // Deleting the activity takes its parties along.
        s.delete("phonecall", &RecordKey::Id(call)).unwrap();
        assert_eq!(s.count("activityparty"), 0);
    }
}
