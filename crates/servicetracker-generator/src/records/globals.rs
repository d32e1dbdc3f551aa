//! The objects every customer refers to — technicians, the parts catalogue
//! and the automation rules — written before any customer and kept in memory
//! only as the small references later records need.

use std::collections::HashSet;

use rand::Rng;

use super::values::{between, bool_text, modified_after, money, phone, pick, pick_city, slug};
use super::{rng_for, Generator, PartRef, Stream, TechnicianRef, LATEST};
use crate::clock::{DAY, HISTORY_START_UNIX};
use crate::dirt::DirtKind;
use crate::error::Result;
use crate::names::{self, Trade};

impl Generator {
    /// Technicians, parts and workflows: written first, referenced later.
    pub fn write_globals(&mut self) -> Result<()> {
        self.write_technicians()?;
        self.write_parts()?;
        self.write_workflows()
    }

    fn write_technicians(&mut self) -> Result<()> {
        let count = crate::technician_count(self.customers);
        let mut emails = HashSet::new();
        for index in 0..count {
            let mut rng = rng_for(self.seed, Stream::Technician, index);
            let assignment = self.plan.technician(index);
            let id = self.ids.technicians.next();
            let first = pick(&mut rng, names::FIRST_NAMES);
            let last = pick(&mut rng, names::LAST_NAMES);
            let base = format!("{}.{}", slug(first), slug(last));
            let email = match assignment {
                Some(a) if a.kind == DirtKind::TechnicianWithoutUser => {
                    let domain = names::FREE_MAIL_DOMAINS
                        [a.variant as usize % names::FREE_MAIL_DOMAINS.len()];
                    let email = format!("{base}{}@{domain}", rng.gen_range(1..100));
                    self.ledger.record_value(
                        DirtKind::TechnicianWithoutUser,
                        "technicians",
                        "email",
                        &id,
                        &email,
                    );
                    email
                }
                _ => {
                    // Company mailboxes are unique: a second John Smith gets john.smith2.
                    let mut email = format!("{base}@{}", names::SERVICE_COMPANY_DOMAIN);
                    let mut n = 2;
                    while !emails.insert(email.clone()) {
                        email = format!("{base}{n}@{}", names::SERVICE_COMPANY_DOMAIN);
                        n += 1;
                    }
                    email
                }
            };
            let active = !matches!(assignment, Some(a) if a.kind == DirtKind::InactiveTechnicianOwnsActivities);
            if !active {
                self.inactive_waiting.push_back(index as usize);
            }
            let skill_count = rng.gen_range(1..=3);
            let mut skills: Vec<&str> = Vec::new();
            while skills.len() < skill_count {
                let s = pick(&mut rng, names::TECHNICIAN_SKILLS);
                if !skills.contains(&s) {
                    skills.push(s);
                }
            }
            let area_code = pick_city(&mut rng).area_code;
            let created = between(&mut rng, HISTORY_START_UNIX, LATEST - 365 * DAY);
            let modified = modified_after(&mut rng, created);
            let mut row = self.tables.technicians.row();
            row.put("id", &id)?
                .put("first_name", first)?
                .put("last_name", last)?
                .put("email", &email)?
                .put("phone", &phone(&mut rng, area_code))?
                .put("active", bool_text(active))?
                .put("skills", &skills.join(";"))?
                .put("hourly_rate", &money(rng.gen_range(3_800..9_500)))?
                .put("created_at", &created.render())?
                .put("modified_at", &modified.render())?;
            row.finish()?;
            self.technicians.push(TechnicianRef { id, active });
        }
        Ok(())
    }

    fn write_parts(&mut self) -> Result<()> {
        const BRANDS: &[&str] = &[
            "Supco",
            "Packard",
            "Mars",
            "Titan",
            "Genteq",
            "Emerson",
            "Honeywell",
            "Nibco",
            "Mueller",
            "Leviton",
            "Eaton",
            "Siemens",
            "Watts",
            "Sioux Chief",
            "Oatey",
            "Klein",
        ];
        let count = crate::part_count(self.customers);
        for index in 0..count {
            let mut rng = rng_for(self.seed, Stream::Part, index);
            let (base_name, trade, unit, description) =
                names::PART_CATALOG[index as usize % names::PART_CATALOG.len()];
            let id = self.ids.parts.next();
            let prefix = match trade {
                Trade::Hvac => "HV",
                Trade::Plumbing => "PL",
                Trade::Electrical => "EL",
            };
            let name = if unit == "Hour" {
                base_name.to_string()
            } else {
                format!("{} {base_name}", pick(&mut rng, BRANDS))
            };
            let price = match unit {
                "Each" => rng.gen_range(450..45_000),
                "Box" => rng.gen_range(2_000..18_000),
                "Foot" => rng.gen_range(35..1_200),
                "Gallon" => rng.gen_range(1_500..6_000),
                _ => rng.gen_range(8_500..16_500),
            };
            let on_hand = match unit {
                "Each" | "Box" => rng.gen_range(0..250).to_string(),
                "Foot" => format!("{:.1}", rng.gen_range(0.0..2_000.0f64)),
                "Gallon" => format!("{:.1}", rng.gen_range(0..120) as f64 / 2.0),
                _ => "0".to_string(),
            };
            let location = if rng.gen_bool(0.8) {
                format!(
                    "Warehouse {} - Aisle {} - Bin {}",
                    ["A", "B", "C"][rng.gen_range(0..3)],
                    rng.gen_range(1..20),
                    rng.gen_range(1..60)
                )
            } else {
                format!("Truck {:02}", rng.gen_range(1..40))
            };
            let created = between(&mut rng, HISTORY_START_UNIX, LATEST - 200 * DAY);
            let modified = modified_after(&mut rng, created);
            let mut row = self.tables.parts.row();
            row.put("id", &id)?
                .put("part_number", &format!("{prefix}-{:05}", 10_000 + index))?
                .put("name", &name)?
                .put("description", description)?
                .put("unit_price", &money(price))?
                .put("unit_of_measure", unit)?
                .put("quantity_on_hand", &on_hand)?
                .put("inventory_location", &location)?
                .put("active", bool_text(rng.gen_bool(0.95)))?
                .put("created_at", &created.render())?
                .put("modified_at", &modified.render())?;
            row.finish()?;
            self.parts.push(PartRef {
                id,
                unit_price_cents: price,
                unit_of_measure: unit,
            });
        }
        Ok(())
    }

    fn write_workflows(&mut self) -> Result<()> {
        let mut rng = rng_for(self.seed, Stream::Workflow, 0);
        for (name, object, trigger, conditions, actions, active) in WORKFLOWS {
            let id = self.ids.workflows.next();
            let created = between(
                &mut rng,
                HISTORY_START_UNIX,
                HISTORY_START_UNIX + 5 * 365 * DAY,
            );
            let modified = modified_after(&mut rng, created);
            let mut row = self.tables.workflows.row();
            row.put("id", &id)?
                .put("name", name)?
                .put("object", object)?
                .put("trigger", trigger)?
                .put("conditions", conditions)?
                .put("actions", actions)?
                .put("active", bool_text(*active))?
                .put("created_at", &created.render())?
                .put("modified_at", &modified.render())?;
            row.finish()?;
        }
        Ok(())
    }
}

/// The automation rules ServiceTracker runs; ferry documents them for a
/// Power Automate rebuild. (name, object, trigger, conditions, actions, active)
const WORKFLOWS: &[(&str, &str, &str, &str, &str, bool)] = &[
    (
        "Notify dispatch of high-priority work orders",
        "work_orders",
        "On create",
        "priority in ('High', 'Critical')",
        "Send email to dispatch@lakeshore-service.com; Send SMS to on-call supervisor",
        true,
    ),
    (
        "Create PM work orders from contracts",
        "contracts",
        "Scheduled daily at 05:00",
        "status = 'Active' and next PM date within 7 days",
        "Create work order from pm_routine; Assign to preferred technician",
        true,
    ),
    (
        "Send completion survey",
        "work_orders",
        "On update",
        "status changed to 'Closed Complete'",
        "Email satisfaction survey to the reporting contact after 24 hours",
        true,
    ),
    (
        "Escalate stale open work orders",
        "work_orders",
        "Scheduled hourly",
        "status = 'Open' and created more than 48 hours ago",
        "Raise priority one level; Notify service manager",
        true,
    ),
    (
        "Invoice on completion",
        "work_orders",
        "On update",
        "status changed to 'Closed Complete' and contract_id is empty",
        "Create invoice in billing_history from parts and labor",
        true,
    ),
    (
        "Overdue invoice reminder",
        "billing_history",
        "Scheduled daily at 08:00",
        "status = 'Overdue'",
        "Email statement to the billing contact; Add note to customer",
        true,
    ),
    (
        "Contract renewal reminder",
        "contracts",
        "Scheduled weekly",
        "end_date within 60 days and status = 'Active'",
        "Create task for account manager; Email renewal quote",
        true,
    ),
    (
        "Warranty claim follow-up",
        "work_orders",
        "On update",
        "cf_warranty_claim = true",
        "Create task to file the claim with the manufacturer within 5 days",
        true,
    ),
    (
        "Dispatch confirmation text",
        "dispatches",
        "On create",
        "dispatch_status = 'Scheduled'",
        "Send SMS with arrival window to the site contact",
        true,
    ),
    (
        "Low stock alert",
        "parts",
        "On update",
        "quantity_on_hand below 5 and active = true",
        "Email purchasing; Create purchase request",
        true,
    ),
    (
        "Welcome new customer",
        "customers",
        "On create",
        "status = 'Active'",
        "Send welcome email; Schedule onboarding site visit",
        false,
    ),
    (
        "Fax invoices to mail customers",
        "customers",
        "On update",
        "invoice_method = 'Mail'",
        "Fax invoice copy to accounting",
        false,
    ),
];
