//! Requests on records: create, retrieve, update, upsert and delete by id
//! or alternate key, `$ref` links, collection reads with the OData query
//! options and paging, and the bulk messages (`CreateMultiple`,
//! `UpdateMultiple`, `UpsertMultiple`).

use super::*;

/// The lookup-free properties a query may name: columns, `_x_value` for
/// lookups, and the system columns every row carries.
pub(super) fn check_properties(
    store: &Store,
    table: &str,
    names: &[String],
) -> Result<(), DvError> {
    let Some(t) = store.schema().table(table) else {
        return Ok(());
    };
    for name in names {
        let plain = name
            .strip_prefix('_')
            .and_then(|n| n.strip_suffix("_value"))
            .unwrap_or(name);
        let known = t.column(plain).is_some()
            || matches!(
                plain,
                "createdon" | "modifiedon" | "versionnumber" | "ownerid"
            );
        if !known {
            return Err(DvError::bad_request(format!(
                "Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{table}'."
            )));
        }
    }
    Ok(())
}

pub(super) fn record_request(
    store: &mut Store,
    req: &DvRequest,
    segs: &[Segment],
    caller: &Caller,
) -> Result<DvResponse, DvError> {
    let set = &segs[0].name;
    let table = store.table_for_set(set)?;
    let method = req.method.as_str();
    match (segs.len(), &segs[0].key) {
        (1, None) => match method {
            "GET" => list(store, req, &table),
            "POST" => {
                let body = req.json_body()?;
                let id = store.transaction(|s| s.create(&table, &body, caller.user_id))?;
                created_response(store, req, &table, set, id, true)
            }
            _ => Err(unsupported(method, &req.path)),
        },
        (1, Some(key)) => {
            let key = store.parse_key(&table, key)?;
            match method {
                "GET" => {
                    let row = store.retrieve(&table, &key)?;
                    let row = select_row(store, req, &table, row)?;
                    let mut row = row;
                    row.insert(
                        "@odata.context".into(),
                        Value::String(format!("{}$metadata#{set}/$entity", req.base)),
                    );
                    Ok(DvResponse::json(200, Value::Object(row)))
                }
                "PATCH" => {
                    let mode = if req.header("if-match").is_some() {
                        WriteMode::UpdateOnly
                    } else if req.header("if-none-match") == Some("*") {
                        WriteMode::CreateOnly
                    } else {
                        WriteMode::Upsert
                    };
                    let body = req.json_body()?;
                    let written = store
                        .transaction(|s| s.write(&table, &key, &body, mode, caller.user_id))?;
                    if req.prefers("return=representation") {
                        let row = store.retrieve(&table, &RecordKey::Id(written.id))?;
                        let status = if written.created { 201 } else { 200 };
                        Ok(DvResponse::json(status, Value::Object(row)).written(1))
                    } else {
                        Ok(DvResponse::empty(204)
                            .with_header(
                                "OData-EntityId",
                                format!("{}{set}({})", req.base, written.id),
                            )
                            .written(1))
                    }
                }
                "DELETE" => {
                    store.transaction(|s| s.delete(&table, &key))?;
                    Ok(DvResponse::empty(204).written(1))
                }
                _ => Err(unsupported(method, &req.path)),
            }
        }
        (2, None) if method == "POST" => {
            let action = segs[1]
                .name
                .strip_prefix("Microsoft.Dynamics.CRM.")
                .unwrap_or(&segs[1].name);
            bulk(store, req, &table, set, action, caller)
        }
        (3, Some(key)) | (4, Some(key)) if segs.last().is_some_and(|s| s.name == "$ref") => {
            let key = store.parse_key(&table, key)?;
            let id = store.retrieve_id(&table, &key)?;
            reference(store, req, &table, id, &segs[1], caller)
        }
        _ => Err(unsupported(method, &req.path)),
    }
}

/// `$ref` on a navigation property: associate (POST/PUT) or disassociate
/// (DELETE, with the target in the path or in `$id`).
pub(super) fn reference(
    store: &mut Store,
    req: &DvRequest,
    table: &str,
    id: Uuid,
    nav: &Segment,
    _caller: &Caller,
) -> Result<DvResponse, DvError> {
    let target_of = |store: &Store, url: &str| -> Result<(String, Uuid), DvError> {
        let path = url
            .split_once(API_PREFIX)
            .map_or(url, |(_, p)| p)
            .trim_start_matches('/');
        let segs = segments(path)?;
        let seg = segs
            .first()
            .filter(|s| s.key.is_some())
            .ok_or_else(|| DvError::bad_request(format!("'{url}' does not address a record.")))?;
        let target_table = store.table_for_set(&seg.name)?;
        let key = store.parse_key(&target_table, seg.key.as_deref().unwrap_or_default())?;
        let target_id = store.retrieve_id(&target_table, &key)?;
        Ok((target_table, target_id))
    };
    match req.method.as_str() {
        "POST" | "PUT" => {
            let body = req.json_body()?;
            let url = body
                .get("@odata.id")
                .and_then(Value::as_str)
                .ok_or_else(|| DvError::bad_request("A $ref body needs \"@odata.id\"."))?;
            let (target_table, target_id) = target_of(store, url)?;
            store.transaction(|s| s.associate(table, id, &nav.name, &target_table, target_id))?;
            Ok(DvResponse::empty(204).written(1))
        }
        "DELETE" => {
            let (target_table, target_id) = match &nav.key {
                Some(key) => {
                    let target = store.navigation_target(table, &nav.name)?;
                    let key = store.parse_key(&target, key)?;
                    (target.clone(), store.retrieve_id(&target, &key)?)
                }
                None => {
                    let query = percent_decode(req.query.as_deref().unwrap_or_default())?;
                    match query.split('&').find_map(|p| p.strip_prefix("$id=")) {
                        Some(url) => target_of(store, url)?,
                        None => (String::new(), Uuid::nil()),
                    }
                }
            };
            store
                .transaction(|s| s.disassociate(table, id, &nav.name, &target_table, target_id))?;
            Ok(DvResponse::empty(204).written(1))
        }
        other => Err(unsupported(other, &req.path)),
    }
}

pub(super) fn created_response(
    store: &Store,
    req: &DvRequest,
    table: &str,
    set: &str,
    id: Uuid,
    _created: bool,
) -> Result<DvResponse, DvError> {
    let entity = format!("{}{set}({id})", req.base);
    if req.prefers("return=representation") {
        let row = store.retrieve(table, &RecordKey::Id(id))?;
        let row = select_row(store, req, table, row)?;
        Ok(DvResponse::json(201, Value::Object(row))
            .with_header("OData-EntityId", entity)
            .written(1))
    } else {
        Ok(DvResponse::empty(204)
            .with_header("OData-EntityId", entity)
            .written(1))
    }
}

pub(super) fn select_row(
    store: &Store,
    req: &DvRequest,
    table: &str,
    row: Map<String, Value>,
) -> Result<Map<String, Value>, DvError> {
    let options = odata::parse_query_options(req.query.as_deref())?;
    match &options.select {
        Some(select) => {
            check_properties(store, table, select)?;
            let primary = store
                .schema()
                .table(table)
                .map(|t| t.primary_id.clone())
                .unwrap_or_default();
            Ok(odata::apply_select(&row, select, &[primary.as_str()]))
        }
        None => Ok(row),
    }
}

/// The ids of a filter that is exactly `Microsoft.Dynamics.CRM.In` over the
/// primary id, when every value is a GUID.
pub(super) fn ids_filter(filter: Option<&odata::Filter>, primary: &str) -> Option<Vec<Uuid>> {
    match filter? {
        odata::Filter::In {
            property,
            values,
            negated: false,
        } if property == primary => values
            .iter()
            .map(|v| match v {
                odata::Literal::Guid(s) | odata::Literal::Text(s) => Uuid::parse_str(s).ok(),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// A collection read: filter, order, count, then one page.
pub(super) fn list(store: &Store, req: &DvRequest, table: &str) -> Result<DvResponse, DvError> {
    let options = odata::parse_query_options(req.query.as_deref())?;
    let mut named: Vec<String> = options.select.clone().unwrap_or_default();
    if let Some(filter) = &options.filter {
        named.extend(filter.properties());
    }
    named.extend(options.orderby.iter().map(|o| o.column.clone()));
    check_properties(store, table, &named)?;
    let primary = store
        .schema()
        .table(table)
        .map(|t| t.primary_id.clone())
        .unwrap_or_default();
    // `scan` yields one record at a time: only the matching ones are kept,
    // so a filtered read of a large table does not copy all of it.
    let mut rows: Vec<Map<String, Value>> = match ids_filter(options.filter.as_ref(), &primary) {
        // `In` over the primary id (how a loader asks which of its ids
        // exist): the records by id, not a scan of the table — same rows,
        // same order.
        Some(mut ids) => {
            ids.sort();
            ids.dedup();
            ids.into_iter()
                .filter_map(|id| store.retrieve(table, &RecordKey::Id(id)).ok())
                .collect()
        }
        None => store
            .scan(table)?
            .filter(|r| options.filter.as_ref().is_none_or(|f| f.matches(r)))
            .collect(),
    };
    if !options.orderby.is_empty() {
        // Rows arrive in primary-id order; a stable sort keeps that as the
        // tie-break, so paging is deterministic.
        rows.sort_by(|a, b| odata::compare_rows(a, b, &options.orderby));
    }
    let total = rows.len();
    let limit = options.top.unwrap_or(usize::MAX).min(total);
    let offset = match &options.skiptoken {
        Some(token) => odata::decode_skiptoken(token)?,
        None => 0,
    };
    let page_size = req.max_page_size();
    let end = (offset + page_size).min(limit);
    let page: Vec<Value> = rows
        .into_iter()
        .take(end)
        .skip(offset.min(end))
        .map(|r| match &options.select {
            Some(select) => Value::Object(odata::apply_select(&r, select, &[primary.as_str()])),
            None => Value::Object(r),
        })
        .collect();
    let set = store
        .schema()
        .table(table)
        .map(|t| t.entity_set_name.clone())
        .unwrap_or_default();
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        Value::String(format!("{}$metadata#{set}", req.base)),
    );
    if options.count {
        body.insert("@odata.count".into(), json!(total.min(limit)));
    }
    body.insert("value".into(), Value::Array(page));
    if end < limit {
        let kept: Vec<&str> = req
            .query
            .as_deref()
            .unwrap_or_default()
            .split('&')
            .filter(|p| {
                !p.is_empty() && !p.starts_with("$skiptoken=") && !p.starts_with("%24skiptoken=")
            })
            .collect();
        let mut query = kept.join("&");
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("$skiptoken=");
        query.push_str(&odata::encode_skiptoken(end));
        body.insert(
            "@odata.nextLink".into(),
            Value::String(format!("{}{set}?{query}", req.base)),
        );
    }
    Ok(DvResponse::json(200, Value::Object(body)).with_header(
        "Preference-Applied",
        format!("odata.maxpagesize={page_size}"),
    ))
}

/// `CreateMultiple`, `UpdateMultiple`, `UpsertMultiple`: all-or-nothing on
/// standard tables (SPEC §9): one bad target and nothing is written.
pub(super) fn bulk(
    store: &mut Store,
    req: &DvRequest,
    table: &str,
    set: &str,
    action: &str,
    caller: &Caller,
) -> Result<DvResponse, DvError> {
    let body = req.json_body()?;
    let targets = match body.get("Targets") {
        Some(Value::Array(targets)) => targets,
        _ => {
            return Err(DvError::bad_request(format!(
                "{action} needs a \"Targets\" array."
            )))
        }
    };
    if targets.is_empty() || targets.len() > MAX_BULK_TARGETS {
        return Err(DvError::bad_request(format!(
            "{action} takes 1 to {MAX_BULK_TARGETS} targets per request; this one has {}.",
            targets.len()
        )));
    }
    let expected_type = format!("Microsoft.Dynamics.CRM.{table}");
    let mut records = Vec::with_capacity(targets.len());
    for (i, target) in targets.iter().enumerate() {
        let Value::Object(record) = target else {
            return Err(DvError::bad_request(format!(
                "Targets[{i}] is not an object."
            )));
        };
        match record.get("@odata.type").and_then(Value::as_str) {
            Some(t) if t.trim_start_matches('#') == expected_type => {}
            other => {
                return Err(DvError::bad_request(format!(
                    "Targets[{i}]: \"@odata.type\" must be \"{expected_type}\" (found {}).",
                    other.unwrap_or("none")
                )))
            }
        }
        let mut record = record.clone();
        record.remove("@odata.type");
        records.push(record);
    }
    let primary = store
        .schema()
        .table(table)
        .map(|t| t.primary_id.clone())
        .unwrap_or_default();
    match action {
        "CreateMultiple" => {
            let ids = store.transaction(|s| {
                records
                    .iter()
                    .map(|r| s.create(table, r, caller.user_id))
                    .collect::<Result<Vec<Uuid>, DvError>>()
            })?;
            let n = ids.len();
            Ok(DvResponse::json(
                200,
                json!({
                    "@odata.context": format!("{}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse", req.base),
                    "Ids": ids.iter().map(|id| id.to_string()).collect::<Vec<_>>(),
                }),
            )
            .written(n))
        }
        "UpdateMultiple" | "UpsertMultiple" => {
            let mode = if action == "UpdateMultiple" {
                WriteMode::UpdateOnly
            } else {
                WriteMode::Upsert
            };
            let n = records.len();
            store.transaction(|s| {
                for (i, record) in records.iter().enumerate() {
                    let key = target_key(s, table, set, &primary, record).map_err(|e| {
                        DvError::new(e.status, e.code, format!("Targets[{i}]: {}", e.message))
                    })?;
                    let mut record = record.clone();
                    record.remove("@odata.id");
                    s.write(table, &key, &record, mode, caller.user_id)?;
                }
                Ok(())
            })?;
            Ok(DvResponse::empty(204).written(n))
        }
        other => Err(DvError::no_segment(&format!(
            "Microsoft.Dynamics.CRM.{other}"
        ))),
    }
}

/// Which record a bulk update/upsert target addresses: `@odata.id`
/// (`accounts(guid)` or an alternate key) or its primary id column.
pub(super) fn target_key(
    store: &Store,
    table: &str,
    set: &str,
    primary: &str,
    record: &Map<String, Value>,
) -> Result<RecordKey, DvError> {
    if let Some(id) = record.get("@odata.id").and_then(Value::as_str) {
        let path = id.split_once(API_PREFIX).map_or(id, |(_, p)| p);
        let segs = segments(path.trim_start_matches('/'))?;
        return match segs.first() {
            Some(Segment {
                name,
                key: Some(key),
            }) if name == set => store.parse_key(table, key),
            _ => Err(DvError::bad_request(format!(
                "\"@odata.id\" '{id}' does not address a record of {set}."
            ))),
        };
    }
    match record
        .get(primary)
        .and_then(Value::as_str)
        .map(Uuid::parse_str)
    {
        Some(Ok(id)) => Ok(RecordKey::Id(id)),
        _ => Err(DvError::bad_request(format!(
            "each target needs \"{primary}\" or \"@odata.id\"."
        ))),
    }
}
