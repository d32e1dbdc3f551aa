//! What a new org holds before anyone writes to it: the platform's own
//! tables the emulator adds to the schema (organization, business unit,
//! currency, …) and the records every org starts with (SPEC §9: users,
//! the organization, its root business unit, base currency, a contract
//! template and the default unit group), with stable ids so tests and saved
//! state agree across runs.

use super::*;

/// Records a Dataverse org cannot delete (users are disabled, not deleted;
/// the base currency, root business unit and organization are fixed).
pub(super) const PROTECTED_TABLES: [&str; 4] = [
    "systemuser",
    "organization",
    "businessunit",
    "transactioncurrency",
];

pub(super) fn internal_column(name: &str, column_type: ColumnType) -> Column {
    Column {
        name: name.to_string(),
        column_type,
        max_length: None,
        required_level: RequiredLevel::None,
        targets: Vec::new(),
        options: Vec::new(),
        format: None,
        behavior: None,
        min: None,
        max: None,
        precision: None,
        valid_for_create: Some(true),
        valid_for_update: Some(true),
        custom: false,
    }
}

pub(super) fn internal_table(
    name: &str,
    set: &str,
    primary_name: &str,
    columns: Vec<Column>,
) -> Table {
    let mut all = vec![Column {
        valid_for_update: Some(false),
        required_level: RequiredLevel::SystemRequired,
        ..internal_column(&format!("{name}id"), ColumnType::Uniqueidentifier)
    }];
    all.extend(columns);
    Table {
        logical_name: name.to_string(),
        entity_set_name: set.to_string(),
        primary_id: format!("{name}id"),
        primary_name: primary_name.to_string(),
        ownership: Ownership::OrganizationOwned,
        columns: all,
        keys: Vec::new(),
        custom: false,
    }
}

/// The minimal org tables the migration schema leaves out; their columns
/// are the ones the entity reference pages give for the facts seeded here.
pub(super) fn internal_tables() -> Vec<Table> {
    let text = |name: &str, len: i64| Column {
        max_length: Some(len),
        ..internal_column(name, ColumnType::String)
    };
    let lookup = |name: &str, target: &str| Column {
        targets: vec![target.to_string()],
        ..internal_column(name, ColumnType::Lookup)
    };
    vec![
        internal_table(
            "organization",
            "organizations",
            "name",
            vec![
                text("name", 160),
                Column {
                    min: Some(0.0),
                    max: Some(MAX_UPLOAD_BYTES_CEILING as f64),
                    ..internal_column("maxuploadfilesize", ColumnType::Integer)
                },
                lookup("basecurrencyid", "transactioncurrency"),
            ],
        ),
        internal_table(
            "businessunit",
            "businessunits",
            "name",
            vec![text("name", 160)],
        ),
        internal_table(
            "transactioncurrency",
            "transactioncurrencies",
            "currencyname",
            vec![
                text("currencyname", 100),
                text("isocurrencycode", 5),
                text("currencysymbol", 10),
                internal_column("exchangerate", ColumnType::Decimal),
                internal_column("currencyprecision", ColumnType::Integer),
            ],
        ),
        internal_table(
            "contracttemplate",
            "contracttemplates",
            "name",
            vec![text("name", 100), text("abbreviation", 20)],
        ),
    ]
}

impl Store {
    pub(super) fn seed(&mut self) {
        let at = now();
        let put = |store: &mut Store, table: &str, id: Uuid, cells: Vec<(&str, Cell)>| {
            let t = store.sync_table(table).expect("seeded tables exist");
            let mut record = Record::new(at);
            for (name, cell) in cells {
                let c = store.data[t as usize].intern(name);
                record.set(c, Some(cell));
            }
            store.version += 1;
            record.version = store.version;
            store.put(t, id, Some(record));
        };
        let text = Cell::text;
        let currency = self.base_currency_id();
        let currency_t = self
            .sync_table("transactioncurrency")
            .expect("internal table");
        put(
            self,
            "transactioncurrency",
            currency,
            vec![
                ("currencyname", text("US Dollar")),
                ("isocurrencycode", text("USD")),
                ("currencysymbol", text("$")),
                ("exchangerate", Cell::Num(1.0)),
                ("currencyprecision", Cell::Int(2)),
            ],
        );
        let org_id = self.organization_id();
        let max_upload = self.org.max_upload_bytes.min(MAX_UPLOAD_BYTES_CEILING) as i64;
        put(
            self,
            "organization",
            org_id,
            vec![
                ("name", text("ferry emulator")),
                ("maxuploadfilesize", Cell::Int(max_upload)),
                ("basecurrencyid", Cell::Ref(currency_t, currency)),
            ],
        );
        let bu = self.business_unit_id();
        let bu_t = self.sync_table("businessunit").expect("internal table");
        put(
            self,
            "businessunit",
            bu,
            vec![("name", text("ferry emulator"))],
        );
        let users = self.org.users.clone();
        for user in &users {
            let (first, last) = user.name.split_once(' ').unwrap_or(("", &user.name));
            put(
                self,
                "systemuser",
                user.id,
                vec![
                    ("internalemailaddress", text(&user.email)),
                    ("domainname", text(&user.email)),
                    ("fullname", text(&user.name)),
                    ("firstname", text(first)),
                    ("lastname", text(last)),
                    ("isdisabled", Cell::Bool(user.disabled)),
                    ("businessunitid", Cell::Ref(bu_t, bu)),
                ],
            );
        }
        put(
            self,
            "contracttemplate",
            self.contract_template_id(),
            vec![("name", text("Service")), ("abbreviation", text("SVC"))],
        );
        let group = self.default_unit_group_id();
        let group_t = self
            .sync_table("uomschedule")
            .expect("uomschedule is in the schema");
        put(
            self,
            "uomschedule",
            group,
            vec![
                ("name", text("Default Unit")),
                ("baseuomname", text("Primary Unit")),
                ("statecode", Cell::Int(0)),
                ("statuscode", Cell::Int(1)),
            ],
        );
        put(
            self,
            "uom",
            self.primary_unit_id(),
            vec![
                ("name", text("Primary Unit")),
                ("quantity", Cell::Num(1.0)),
                ("uomscheduleid", Cell::Ref(group_t, group)),
            ],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;

    #[test]
    fn seeds_the_org_of_spec_9() {
        let s = store();
        let users = &s.org().users;
        assert_eq!(users[0].id, APPLICATION_USER_ID);
        assert_eq!(users.iter().skip(1).filter(|u| !u.disabled).count(), 6);
        assert_eq!(users.iter().filter(|u| u.disabled).count(), 2);
        assert!(users
            .iter()
            .all(|u| u.email.ends_with("@contoso-emulator.example")));
        // Deterministic: the same org every time.
        assert_eq!(OrgSettings::default().users, *users);
        assert_eq!(s.count("systemuser"), 9);
        let grace = get(&s, "systemuser", disabled_user(&s).id);
        assert_eq!(grace["isdisabled"], json!(true));
        assert_eq!(
            grace["internalemailaddress"],
            json!(disabled_user(&s).email)
        );
        assert_eq!(
            grace["_businessunitid_value"],
            json!(s.business_unit_id().to_string())
        );
        let org = get(&s, "organization", s.organization_id());
        assert_eq!(org["maxuploadfilesize"], json!(5_242_880));
        assert_eq!(s.table_for_set("organizations").unwrap(), "organization");
        let usd = get(&s, "transactioncurrency", s.base_currency_id());
        assert_eq!(usd["currencyname"], json!("US Dollar"));
        assert_eq!(usd["isocurrencycode"], json!("USD"));
        let template = get(&s, "contracttemplate", s.contract_template_id());
        assert_eq!(template["name"], json!("Service"));
        let group = get(&s, "uomschedule", s.default_unit_group_id());
        assert_eq!(group["name"], json!("Default Unit"));
        assert_eq!(group["statecode"], json!(0));
        let unit = get(&s, "uom", s.primary_unit_id());
        assert_eq!(unit["name"], json!("Primary Unit"));
        assert_eq!(
            unit["_uomscheduleid_value"],
            json!(s.default_unit_group_id().to_string())
        );
        assert_eq!(
            unit["_uomscheduleid_value@OData.Community.Display.V1.FormattedValue"],
            json!("Default Unit")
        );
    }
}
