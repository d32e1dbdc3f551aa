//! Deterministic record identity (SPEC §6): every target record's GUID is a
//! UUIDv5 over the workspace's namespace and `<table>:<source id>`.
//!
//! Re-running a push addresses the same records, children bind to parents by
//! GUID before the parents are even written, and a request that may or may
//! not have been applied can be retried safely. The staging SQL computes the
//! same value with the `map.record_guid` macro (`sql/transforms/V001__functions.sql`),
//! so a GUID seen in `stg.*` is the one the loader will send; a test keeps
//! the two in step.

use uuid::Uuid;

/// The namespace of workspaces whose `ferry.toml` predates the `namespace`
/// setting. New workspaces get a random namespace of their own at `init`.
pub const DEFAULT_NAMESPACE: Uuid = Uuid::from_u128(0x5f3c_2a4e_8d1b_4c7a_9e60_f3a1_b2c4_d5e6);

/// The GUID of the record that source record `source_id` becomes in
/// `table` (a Dataverse logical name).
pub fn record_guid(namespace: &Uuid, table: &str, source_id: &str) -> Uuid {
    let mut name = String::with_capacity(table.len() + 1 + source_id.len());
    name.push_str(table);
    name.push(':');
    name.push_str(source_id);
    Uuid::new_v5(namespace, name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4122_name_based_uuid() {
        // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "account:CUS-000001")
        let guid = record_guid(&Uuid::NAMESPACE_DNS, "account", "CUS-000001");
        assert_eq!(guid.to_string(), "9eafbf03-d56e-51ad-8ab6-80decd116b85");
    }

    #[test]
    fn table_and_namespace_both_separate_records() {
        let ns = DEFAULT_NAMESPACE;
        let a = record_guid(&ns, "account", "CUS-1");
        assert_ne!(a, record_guid(&ns, "contact", "CUS-1"));
        assert_ne!(a, record_guid(&Uuid::NAMESPACE_URL, "account", "CUS-1"));
        assert_eq!(a, record_guid(&ns, "account", "CUS-1"));
    }
}
