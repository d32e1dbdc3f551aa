//! What the store's unit tests share: a fresh org and the records most tests start from.

use super::*;

pub(super) fn store() -> Store {
    Store::new(Schema::builtin("st"), OrgSettings::default())
}

pub(super) fn body(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

pub(super) const ME: Uuid = APPLICATION_USER_ID;

pub(super) fn account(s: &mut Store, name: &str) -> Uuid {
    s.create("account", &body(json!({ "name": name })), ME)
        .expect("account")
}

pub(super) fn incident(s: &mut Store, customer: Uuid) -> Uuid {
    s.create(
        "incident",
        &body(json!({
            "title": "No heat",
            "customerid_account@odata.bind": format!("/accounts({customer})"),
        })),
        ME,
    )
    .expect("incident")
}

pub(super) fn get(s: &Store, table: &str, id: Uuid) -> Map<String, Value> {
    s.retrieve(table, &RecordKey::Id(id)).expect("retrieve")
}

pub(super) fn enabled_user(s: &Store) -> &SeedUser {
    s.org().users.iter().skip(1).find(|u| !u.disabled).unwrap()
}

pub(super) fn disabled_user(s: &Store) -> &SeedUser {
    s.org().users.iter().find(|u| u.disabled).unwrap()
}
