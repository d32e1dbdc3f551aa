//! Reading the org's metadata: table definitions with their option sets and
//! alternate keys, and the N:N relationships, so `ferry plan` can compare
//! them with what the migration needs.

use super::*;

impl DataverseClient {
    /// The named tables as the org defines them: columns from
    /// `EntityDefinitions(LogicalName='x')?$expand=Attributes`, alternate
    /// keys from `/Keys`, and the options of every choice, state and status
    /// column from its cast (`…/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet`),
    /// because an expanded attribute list carries no option sets. A table
    /// the org does not have is left out, not an error: finding out is what
    /// `ferry plan` asks.
    pub async fn entity_definitions(&self, names: &[&str]) -> DvResult<Vec<Table>> {
        let mut tables = Vec::with_capacity(names.len());
        for &name in names {
            check_name(name, "table")?;
            let root = format!("EntityDefinitions(LogicalName='{name}')");
            let mut entity = match self.get_json(&format!("{root}?$expand=Attributes")).await {
                Ok(entity) => entity,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            let keys = self.get_json(&format!("{root}/Keys")).await?;
            let wanted: Vec<(usize, String, &'static str)> = entity
                .get("Attributes")
                .and_then(Value::as_array)
                .map(|attributes| {
                    attributes
                        .iter()
                        .enumerate()
                        .filter_map(|(i, a)| {
                            let column = a.get("LogicalName")?.as_str()?.to_string();
                            Some((i, column, option_cast(a)?))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let root = &root;
            let fetched: Vec<(usize, DvResult<Value>)> = stream::iter(wanted)
                .map(|(i, column, cast)| async move {
                    let path = format!(
                        "{root}/Attributes(LogicalName='{column}')/{CRM}{cast}?$select=LogicalName&$expand=OptionSet"
                    );
                    (i, self.get_json(&path).await)
                })
                .buffer_unordered(METADATA_PARALLELISM)
                .collect()
                .await;
            let attributes = entity
                .get_mut("Attributes")
                .and_then(Value::as_array_mut)
                .ok_or_else(|| {
                    DvClientError::Transport(format!(
                        "the org's definition of {name} has no Attributes although they were asked for"
                    ))
                })?;
            for (i, answer) in fetched {
                if let Some(set) = answer?.get("OptionSet").filter(|s| !s.is_null()) {
                    attributes[i]["OptionSet"] = set.clone();
                }
            }
            entity["Keys"] = keys.get("value").cloned().unwrap_or(json!([]));
            let read =
                crate::dataverse::org_metadata::tables_from_org_metadata(&entity).map_err(|e| {
                    DvClientError::Transport(format!(
                        "the org's definition of {name} could not be read: {e}"
                    ))
                })?;
            tables.extend(read);
        }
        Ok(tables)
    }

    /// The org's N:N relationships among `tables` (intersect name and the
    /// two tables), so a plan can tell which it still has to create.
    pub async fn many_to_many(
        &self,
        tables: &[&str],
    ) -> DvResult<Vec<crate::dataverse::schema::ManyToMany>> {
        let spec = self.spec(
            Method::GET,
            "RelationshipDefinitions/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata?$select=SchemaName,Entity1LogicalName,Entity2LogicalName",
            None,
            &[],
        )?;
        // The emulator serves the collection without the type cast.
        let (spec, reply) = match self.run(&spec).await {
            Ok(reply) => (spec, reply),
            Err(e) if matches!(e.status(), Some(404) | Some(400)) => {
                let spec = self.spec(Method::GET, "RelationshipDefinitions", None, &[])?;
                let reply = self.run(&spec).await?;
                (spec, reply)
            }
            Err(e) => return Err(e),
        };
        let body = parse_json(&spec, &reply)?;
        Ok(body["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let t1 = r["Entity1LogicalName"].as_str()?.to_lowercase();
                let t2 = r["Entity2LogicalName"].as_str()?.to_lowercase();
                (tables.contains(&t1.as_str()) || tables.contains(&t2.as_str())).then(|| {
                    crate::dataverse::schema::ManyToMany {
                        name: r["SchemaName"].as_str().unwrap_or_default().to_lowercase(),
                        table1: t1,
                        table2: t2,
                    }
                })
            })
            .collect())
    }
}

/// The metadata cast whose `$expand=OptionSet` holds a column's options.
pub(super) fn option_cast(attribute: &Value) -> Option<&'static str> {
    let declared = attribute
        .get("@odata.type")
        .and_then(Value::as_str)
        .map(|t| t.trim_start_matches('#').trim_start_matches(CRM));
    let type_name = attribute
        .get("AttributeTypeName")
        .and_then(|t| t.get("Value"))
        .and_then(Value::as_str);
    let kind = attribute.get("AttributeType").and_then(Value::as_str);
    let cast = match (declared, type_name, kind) {
        (Some("PicklistAttributeMetadata"), _, _) | (None, _, Some("Picklist")) => {
            "PicklistAttributeMetadata"
        }
        (Some("MultiSelectPicklistAttributeMetadata"), _, _)
        | (None, Some("MultiSelectPicklistType"), _) => "MultiSelectPicklistAttributeMetadata",
        (Some("StateAttributeMetadata"), _, _) | (None, _, Some("State")) => {
            "StateAttributeMetadata"
        }
        (Some("StatusAttributeMetadata"), _, _) | (None, _, Some("Status")) => {
            "StatusAttributeMetadata"
        }
        _ => return None,
    };
    Some(cast)
}
