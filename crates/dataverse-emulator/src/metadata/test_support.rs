//! What the metadata unit tests share: the built-in org and ways to look into served definitions.

use super::*;

pub(super) const BASE: &str = "http://127.0.0.1:5555/api/data/v9.2";

pub(super) fn schema() -> Schema {
    Schema::builtin("st")
}

pub(super) fn attribute<'a>(entity: &'a Value, name: &str) -> &'a Value {
    entity["Attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["LogicalName"] == name)
        .unwrap_or_else(|| panic!("no attribute {name}"))
}

pub(super) fn option_values(set: &Value) -> Vec<(i64, String)> {
    set["Options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["Value"].as_i64().unwrap(),
                o["Label"]["UserLocalizedLabel"]["Label"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}
