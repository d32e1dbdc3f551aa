//! The ServiceTracker data model as ferry knows it (SPEC §8.1).
//!
//! ServiceTracker documents its standard fields but not its custom ones, so
//! this module is the single place that says which columns an export must
//! have, how each is typed when it lands, which values a picklist documents
//! and which fields point at other objects. The generator writes exports from
//! it, the extractor types columns by it and the inventory profiles against it.

/// How a field's text is typed when it lands in Parquet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Kept verbatim as text: ids, names, phone numbers, postal codes.
    Text,
    /// `YYYY-MM-DD HH:MM:SS` local time in the export's timezone, landed as UTC.
    Timestamp,
    /// `YYYY-MM-DD`.
    Date,
    /// `true` / `false`.
    Boolean,
    /// A whole number that fits in 64 bits.
    Integer,
    /// A fixed-point number with at most `scale` decimal places, landed as
    /// Decimal128(precision, scale) so no cent is ever rounded.
    Decimal { precision: u8, scale: i8 },
    /// A floating-point number (coordinates).
    Double,
}

impl FieldType {
    /// Money as Dataverse stores it: up to four decimal places.
    pub const MONEY: FieldType = FieldType::Decimal {
        precision: 19,
        scale: 4,
    };
    /// Quantities of parts (feet, gallons, hours can be fractional).
    pub const QUANTITY: FieldType = FieldType::Decimal {
        precision: 19,
        scale: 4,
    };

    /// The name analysts see in the inventory and in DuckDB.
    pub fn sql_name(&self) -> String {
        match self {
            FieldType::Text => "VARCHAR".into(),
            FieldType::Timestamp => "TIMESTAMP WITH TIME ZONE".into(),
            FieldType::Date => "DATE".into(),
            FieldType::Boolean => "BOOLEAN".into(),
            FieldType::Integer => "BIGINT".into(),
            FieldType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
            FieldType::Double => "DOUBLE".into(),
        }
    }

    /// A short label for reports and JSON.
    pub fn label(&self) -> String {
        match self {
            FieldType::Text => "text".into(),
            FieldType::Timestamp => "timestamp".into(),
            FieldType::Date => "date".into(),
            FieldType::Boolean => "boolean".into(),
            FieldType::Integer => "integer".into(),
            FieldType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            FieldType::Double => "double".into(),
        }
    }
}

/// One standard (documented) field of a ServiceTracker object.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    /// The values ServiceTracker documents for a picklist field (empty otherwise).
    /// Values outside this list still land; the inventory reports them.
    pub picklist: &'static [&'static str],
    /// For reference fields: the objects the value may point at.
    pub references: &'static [&'static str],
}

/// One ServiceTracker object and its standard fields, `id` first and
/// `created_at`, `modified_at` last, in export column order.
#[derive(Debug, Clone, Copy)]
pub struct Object {
    pub name: &'static str,
    /// Prefix of the object's ids, e.g. `CUS` in `CUS-000123`.
    pub id_prefix: &'static str,
    pub fields: &'static [Field],
    /// For polymorphic parents (`parent_type` + `parent_id`): which
    /// `parent_type` value points at which object.
    pub parent_types: &'static [(&'static str, &'static str)],
}

impl Object {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn field_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().map(|f| f.name)
    }
}

const fn text(name: &'static str) -> Field {
    Field {
        name,
        ty: FieldType::Text,
        picklist: &[],
        references: &[],
    }
}
const fn typed(name: &'static str, ty: FieldType) -> Field {
    Field {
        name,
        ty,
        picklist: &[],
        references: &[],
    }
}
const fn pick(name: &'static str, values: &'static [&'static str]) -> Field {
    Field {
        name,
        ty: FieldType::Text,
        picklist: values,
        references: &[],
    }
}
const fn reference(name: &'static str, to: &'static [&'static str]) -> Field {
    Field {
        name,
        ty: FieldType::Text,
        picklist: &[],
        references: to,
    }
}

const ID: Field = text("id");
const CREATED_AT: Field = typed("created_at", FieldType::Timestamp);
const MODIFIED_AT: Field = typed("modified_at", FieldType::Timestamp);

pub const CUSTOMERS: Object = Object {
    name: "customers",
    id_prefix: "CUS",
    parent_types: &[],
    fields: &[
        ID,
        text("company_name"),
        text("primary_contact_name"),
        text("email"),
        text("phone"),
        text("website"),
        text("billing_street"),
        text("billing_city"),
        text("billing_state"),
        text("billing_postal_code"),
        text("billing_country"),
        text("billing_contact_name"),
        pick("invoice_method", &["Email", "Mail", "Portal"]),
        text("po_number"),
        pick(
            "payment_terms",
            &["Net 15", "Net 30", "Net 45", "Due on Receipt"],
        ),
        pick("status", &["Active", "Inactive"]),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const CONTACTS: Object = Object {
    name: "contacts",
    id_prefix: "CON",
    parent_types: &[],
    fields: &[
        ID,
        reference("customer_id", &["customers"]),
        text("first_name"),
        text("last_name"),
        text("job_title"),
        text("direct_phone"),
        text("mobile_phone"),
        text("email"),
        typed("is_primary", FieldType::Boolean),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const SITES: Object = Object {
    name: "sites",
    id_prefix: "SIT",
    parent_types: &[],
    fields: &[
        ID,
        reference("customer_id", &["customers"]),
        text("site_name"),
        pick("site_type", &["Billing", "Shipping", "Service"]),
        text("street1"),
        text("street2"),
        text("city"),
        text("state"),
        text("postal_code"),
        text("country"),
        typed("latitude", FieldType::Double),
        typed("longitude", FieldType::Double),
        text("access_notes"),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const TECHNICIANS: Object = Object {
    name: "technicians",
    id_prefix: "TEC",
    parent_types: &[],
    fields: &[
        ID,
        text("first_name"),
        text("last_name"),
        text("email"),
        text("phone"),
        typed("active", FieldType::Boolean),
        text("skills"),
        typed("hourly_rate", FieldType::MONEY),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const CONTRACTS: Object = Object {
    name: "contracts",
    id_prefix: "CTR",
    parent_types: &[],
    fields: &[
        ID,
        text("contract_number"),
        reference("customer_id", &["customers"]),
        text("name"),
        pick("billing_terms", &["Monthly", "Quarterly", "Annually"]),
        typed("start_date", FieldType::Date),
        typed("end_date", FieldType::Date),
        typed("value", FieldType::MONEY),
        pick(
            "pm_frequency",
            &[
                "Weekly",
                "Monthly",
                "Quarterly",
                "Semi-Annually",
                "Annually",
            ],
        ),
        text("pm_routine"),
        pick("status", &["Draft", "Active", "Expired", "Cancelled"]),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const PARTS: Object = Object {
    name: "parts",
    id_prefix: "PRT",
    parent_types: &[],
    fields: &[
        ID,
        text("part_number"),
        text("name"),
        text("description"),
        typed("unit_price", FieldType::MONEY),
        pick(
            "unit_of_measure",
            &["Each", "Box", "Foot", "Gallon", "Hour"],
        ),
        typed("quantity_on_hand", FieldType::QUANTITY),
        text("inventory_location"),
        typed("active", FieldType::Boolean),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const WORK_ORDER_STATUSES: &[&str] = &[
    "Open",
    "In Progress",
    "On Hold",
    "Closed Complete",
    "Cancelled",
];
pub const WORK_ORDER_PRIORITIES: &[&str] = &["Low", "Medium", "High", "Critical"];

pub const WORK_ORDERS: Object = Object {
    name: "work_orders",
    id_prefix: "WO",
    parent_types: &[],
    fields: &[
        ID,
        text("number"),
        reference("customer_id", &["customers"]),
        reference("site_id", &["sites"]),
        reference("contract_id", &["contracts"]),
        pick("status", WORK_ORDER_STATUSES),
        pick("priority", WORK_ORDER_PRIORITIES),
        pick(
            "type",
            &["Repair", "Installation", "Maintenance", "Inspection"],
        ),
        text("summary"),
        text("description"),
        reference("reported_by_contact_id", &["contacts"]),
        reference("assigned_technician_id", &["technicians"]),
        typed("completed_at", FieldType::Timestamp),
        pick("sync_status", &["Synced", "Pending"]),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const WORK_ORDER_PARTS: Object = Object {
    name: "work_order_parts",
    id_prefix: "WOP",
    parent_types: &[],
    fields: &[
        ID,
        reference("work_order_id", &["work_orders"]),
        reference("part_id", &["parts"]),
        typed("quantity", FieldType::QUANTITY),
        typed("unit_price", FieldType::MONEY),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const DISPATCHES: Object = Object {
    name: "dispatches",
    id_prefix: "DSP",
    parent_types: &[],
    fields: &[
        ID,
        reference("work_order_id", &["work_orders"]),
        reference("technician_id", &["technicians"]),
        typed("scheduled_start", FieldType::Timestamp),
        typed("scheduled_end", FieldType::Timestamp),
        typed("route_sequence", FieldType::Integer),
        pick(
            "dispatch_status",
            &["Scheduled", "En Route", "On Site", "Completed"],
        ),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const ATTACHMENTS: Object = Object {
    name: "attachments",
    id_prefix: "ATT",
    parent_types: &[("work_order", "work_orders"), ("customer", "customers")],
    fields: &[
        ID,
        pick("parent_type", &["work_order", "customer"]),
        reference("parent_id", &["work_orders", "customers"]),
        text("file_name"),
        text("content_type"),
        typed("size_bytes", FieldType::Integer),
        text("sha256"),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const ACTIVITIES: Object = Object {
    name: "activities",
    id_prefix: "ACT",
    parent_types: &[],
    fields: &[
        ID,
        pick("type", &["Call", "Email", "Meeting"]),
        text("subject"),
        text("body"),
        pick("direction", &["Inbound", "Outbound"]),
        reference("customer_id", &["customers"]),
        reference("contact_id", &["contacts"]),
        reference("work_order_id", &["work_orders"]),
        reference("technician_id", &["technicians"]),
        typed("occurred_at", FieldType::Timestamp),
        typed("duration_minutes", FieldType::Integer),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const NOTES: Object = Object {
    name: "notes",
    id_prefix: "NOT",
    parent_types: &[
        ("customer", "customers"),
        ("work_order", "work_orders"),
        ("contract", "contracts"),
    ],
    fields: &[
        ID,
        pick("parent_type", &["customer", "work_order", "contract"]),
        reference("parent_id", &["customers", "work_orders", "contracts"]),
        text("body"),
        reference("author_technician_id", &["technicians"]),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const BILLING_HISTORY: Object = Object {
    name: "billing_history",
    id_prefix: "INV",
    parent_types: &[],
    fields: &[
        ID,
        reference("customer_id", &["customers"]),
        text("invoice_number"),
        typed("invoice_date", FieldType::Date),
        typed("amount", FieldType::MONEY),
        pick("status", &["Paid", "Open", "Overdue"]),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const EQUIPMENT: Object = Object {
    name: "equipment",
    id_prefix: "EQP",
    parent_types: &[],
    fields: &[
        ID,
        text("serial_number"),
        text("model"),
        text("manufacturer"),
        typed("install_date", FieldType::Date),
        typed("warranty_end", FieldType::Date),
        reference("customer_id", &["customers"]),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const EQUIPMENT_SITES: Object = Object {
    name: "equipment_sites",
    id_prefix: "EQS",
    parent_types: &[],
    fields: &[
        ID,
        reference("equipment_id", &["equipment"]),
        reference("site_id", &["sites"]),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

pub const WORKFLOWS: Object = Object {
    name: "workflows",
    id_prefix: "WF",
    parent_types: &[],
    fields: &[
        ID,
        text("name"),
        text("object"),
        text("trigger"),
        text("conditions"),
        text("actions"),
        typed("active", FieldType::Boolean),
        CREATED_AT,
        MODIFIED_AT,
    ],
};

/// Every ServiceTracker object, parents before children.
pub const OBJECTS: &[Object] = &[
    CUSTOMERS,
    CONTACTS,
    SITES,
    TECHNICIANS,
    CONTRACTS,
    PARTS,
    WORK_ORDERS,
    WORK_ORDER_PARTS,
    DISPATCHES,
    ATTACHMENTS,
    ACTIVITIES,
    NOTES,
    BILLING_HISTORY,
    EQUIPMENT,
    EQUIPMENT_SITES,
    WORKFLOWS,
];

pub fn object(name: &str) -> Option<&'static Object> {
    OBJECTS.iter().find(|o| o.name == name)
}

/// Custom fields carry this prefix in CSV exports (SPEC §8.1).
pub const CUSTOM_FIELD_PREFIX: &str = "cf_";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_has_id_first_and_timestamps_last() {
        for o in OBJECTS {
            assert_eq!(o.fields[0].name, "id", "{}", o.name);
            let n = o.fields.len();
            assert_eq!(o.fields[n - 2].name, "created_at", "{}", o.name);
            assert_eq!(o.fields[n - 1].name, "modified_at", "{}", o.name);
        }
    }

    #[test]
    fn references_point_at_known_objects() {
        for o in OBJECTS {
            for f in o.fields {
                for r in f.references {
                    assert!(object(r).is_some(), "{}.{} -> {r}", o.name, f.name);
                }
            }
            for (_, target) in o.parent_types {
                assert!(object(target).is_some());
            }
        }
    }
}
