//! The ServiceTracker objects and their documented fields in export column
//! order, read from the export contract ferry keeps as data
//! (`src/source/servicetracker-objects.json`): the generator writes what
//! ferry's extractor and the emulator expect without sharing their code.

use std::sync::LazyLock;

use serde::Deserialize;

/// The shared export contract: ferry, this generator and the emulator each
/// parse this same file with types of their own.
const OBJECTS_JSON: &str = include_str!("../../../src/source/servicetracker-objects.json");

/// One object of the export: its file is `<name>.csv`.
#[derive(Debug, Deserialize)]
pub struct Object {
    pub name: String,
    fields: Vec<Field>,
}

#[derive(Debug, Deserialize)]
struct Field {
    name: String,
}

impl Object {
    /// The documented fields, `id` first, in export column order.
    pub fn field_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.fields.iter().map(|f| f.name.as_str())
    }
}

#[derive(Deserialize)]
struct ModelFile {
    custom_field_prefix: String,
    objects: Vec<Object>,
}

static MODEL: LazyLock<ModelFile> = LazyLock::new(|| {
    serde_json::from_str(OBJECTS_JSON).expect("servicetracker-objects.json parses")
});

/// Every object, parents before children (the manifest's order).
pub fn objects() -> &'static [Object] {
    &MODEL.objects
}

/// The object named `name`; the generator only asks for objects it writes.
pub fn object(name: &str) -> &'static Object {
    objects()
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("servicetracker-objects.json lists no object `{name}`"))
}

/// The prefix custom (undocumented) fields carry in an export.
pub fn custom_field_prefix() -> &'static str {
    &MODEL.custom_field_prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_lists_sixteen_objects_with_id_first() {
        assert_eq!(objects().len(), 16);
        assert_eq!(objects()[0].name, "customers");
        for o in objects() {
            assert_eq!(o.field_names().next(), Some("id"), "{}", o.name);
        }
        assert_eq!(object("workflows").field_names().count(), 9);
    }
}
