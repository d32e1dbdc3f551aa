//! Requests to the metadata API routed to [`crate::metadata`] and the
//! schema: reading and creating tables, columns, keys and relationships,
//! `InsertOptionValue` and `PublishAllXml`.

use super::*;

pub(super) fn metadata_request(
    store: &mut Store,
    req: &DvRequest,
    segs: &[Segment],
) -> Result<DvResponse, DvError> {
    let method = req.method.as_str();
    let query = req.query.clone().unwrap_or_default();
    let expand_attributes = percent_decode(&query)?.contains("$expand=Attributes");
    let table = segs[0].key.as_deref().map(logical_name_key).transpose()?;
    match (method, table, segs.len()) {
        ("GET", None, 1) => Ok(DvResponse::json(
            200,
            metadata::entity_definitions(store.schema(), &req.base),
        )),
        ("POST", None, 1) => {
            let table = metadata::table_from_entity_metadata(&Value::Object(req.json_body()?))?;
            let name = table.logical_name.clone();
            store
                .schema_mut()
                .add_table(table)
                .map_err(|e| DvError::new(400, crate::error::DUPLICATE_RECORD, e))?;
            Ok(DvResponse::empty(204).with_header(
                "OData-EntityId",
                format!("{}EntityDefinitions(LogicalName='{name}')", req.base),
            ))
        }
        ("GET", Some(table), 1) => Ok(DvResponse::json(
            200,
            metadata::entity_definition(store.schema(), &req.base, &table, expand_attributes)?,
        )),
        ("GET", Some(table), 2) if segs[1].name == "Attributes" && segs[1].key.is_none() => {
            let definition = metadata::entity_definition(store.schema(), &req.base, &table, true)?;
            Ok(DvResponse::json(
                200,
                json!({"value": definition.get("Attributes").cloned().unwrap_or(Value::Array(Vec::new()))}),
            ))
        }
        ("GET", Some(table), 3) if segs[1].name == "Attributes" => {
            let column = logical_name_key(segs[1].key.as_deref().unwrap_or_default())?;
            let cast = segs[2]
                .name
                .strip_prefix("Microsoft.Dynamics.CRM.")
                .unwrap_or(&segs[2].name);
            Ok(DvResponse::json(
                200,
                metadata::attribute_with_optionset(store.schema(), &table, &column, cast)?,
            ))
        }
        ("GET", Some(table), 2) if segs[1].name == "Keys" => Ok(DvResponse::json(
            200,
            metadata::keys(store.schema(), &table)?,
        )),
        ("POST", Some(table), 2) if segs[1].name == "Attributes" => {
            let column =
                metadata::column_from_attribute_metadata(&Value::Object(req.json_body()?))?;
            let name = column.name.clone();
            store
                .schema_mut()
                .add_column(&table, column)
                .map_err(|e| DvError::new(400, crate::error::DUPLICATE_RECORD, e))?;
            Ok(DvResponse::empty(204).with_header(
                "OData-EntityId",
                format!(
                    "{}EntityDefinitions(LogicalName='{table}')/Attributes(LogicalName='{name}')",
                    req.base
                ),
            ))
        }
        ("POST", Some(table), 2) if segs[1].name == "Keys" => {
            let (name, columns) = metadata::key_from_metadata(&Value::Object(req.json_body()?))?;
            store
                .schema_mut()
                .add_key(&table, &name, columns)
                .map_err(|e| DvError::new(400, crate::error::DUPLICATE_RECORD, e))?;
            Ok(DvResponse::empty(204))
        }
        _ => Err(unsupported(method, &req.path)),
    }
}

/// `RelationshipDefinitions`: N:N relationships (creating and reading
/// `ManyToManyRelationshipMetadata`), so a plan can create the intersect
/// ferry's equipment ↔ address links need ("Create and update table
/// relationships using the Web API").
pub(super) fn relationship_request(
    store: &mut Store,
    req: &DvRequest,
) -> Result<DvResponse, DvError> {
    match req.method.as_str() {
        "GET" => {
            let value: Vec<Value> = store
                .schema()
                .many_to_many()
                .iter()
                .map(|m| {
                    json!({
                        "@odata.type": "#Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
                        "SchemaName": m.name,
                        "IntersectEntityName": m.name,
                        "Entity1LogicalName": m.table1,
                        "Entity2LogicalName": m.table2,
                    })
                })
                .collect();
            Ok(DvResponse::json(
                200,
                json!({"@odata.context": format!("{}$metadata#RelationshipDefinitions", req.base), "value": value}),
            ))
        }
        "POST" => {
            let body = req.json_body()?;
            let kind = body
                .get("@odata.type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !kind.ends_with("ManyToManyRelationshipMetadata") {
                // 405, which clients (ferry's among them) take as "use the
                // Attributes route for lookups instead".
                return Err(DvError::new(
                    405,
                    crate::error::BAD_REQUEST,
                    "this emulator creates N:N relationships here (ManyToManyRelationshipMetadata); create lookups through EntityDefinitions(...)/Attributes",
                ));
            }
            let text = |key: &str| -> Result<String, DvError> {
                body.get(key)
                    .and_then(Value::as_str)
                    .map(str::to_lowercase)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        DvError::bad_request(format!("ManyToManyRelationshipMetadata needs {key}."))
                    })
            };
            let name = text("SchemaName")?;
            let (table1, table2) = (text("Entity1LogicalName")?, text("Entity2LogicalName")?);
            store
                .schema_mut()
                .add_many_to_many(&name, &table1, &table2)
                .map_err(|e| DvError::new(400, crate::error::DUPLICATE_RECORD, e))?;
            Ok(DvResponse::empty(204).with_header(
                "OData-EntityId",
                format!("{}RelationshipDefinitions(SchemaName='{name}')", req.base),
            ))
        }
        other => Err(unsupported(other, &req.path)),
    }
}
