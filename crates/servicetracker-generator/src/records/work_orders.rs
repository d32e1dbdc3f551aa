//! A customer's work orders and everything hanging off them: parts used,
//! dispatches, activities, notes and attachments (whose bytes are written to
//! `files/<id>/`). Work-order-level dirt lands on the customer's first one.

use chrono::Datelike;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::values::{
    between, bool_text, custom, long_text, modified_after, money, pick, pick_distinct, pick_trade,
    weighted,
};
use super::{
    malformed_object, untypeable_object, CustomerContext, Generator, WorkOrderRef, LATEST,
};
use crate::attachments::{self, Format, Subject};
use crate::clock::{render_date, Moment, DAY, HOUR, MINUTE};
use crate::dirt::{Assignment, DirtKind};
use crate::error::{IoContext, Result};
use crate::names::{self, Trade};

impl Generator {
    /// One work order of `customer` and its parts, dispatches, activities,
    /// notes and attachment.
    pub(super) fn write_work_order(
        &mut self,
        rng: &mut ChaCha8Rng,
        customer: &CustomerContext<'_>,
        dirt: Option<Assignment>,
    ) -> Result<()> {
        let CustomerContext {
            id: customer_id,
            created: customer_created,
            contacts,
            sites,
            contracts,
            ..
        } = *customer;
        let kind = dirt.map(|a| a.kind);
        let variant = dirt.map_or(0, |a| a.variant);
        let id = self.ids.work_orders.next();
        let trade = pick_trade(rng);
        let words = names::trade_words(trade);
        let wo_type = weighted(
            rng,
            &[
                ("Repair", 45),
                ("Maintenance", 30),
                ("Inspection", 15),
                ("Installation", 10),
            ],
        );
        let created = between(rng, customer_created.unix() + DAY, LATEST - DAY);
        let number = format!(
            "{}-{:07}",
            created.local_date().year(),
            self.ids.work_orders.last
        );
        let age_days = (LATEST - created.unix()) / DAY;
        let mut status = if age_days < 14 {
            weighted(
                rng,
                &[
                    ("Open", 40),
                    ("In Progress", 35),
                    ("On Hold", 15),
                    ("Closed Complete", 10),
                ],
            )
        } else {
            weighted(
                rng,
                &[
                    ("Closed Complete", 85),
                    ("Cancelled", 10),
                    ("On Hold", 3),
                    ("Open", 2),
                ],
            )
        };
        let mut priority = weighted(rng, &[("Low", 30), ("Medium", 50), ("High", 20)]);
        let site_id = &sites[rng.gen_range(0..sites.len())].id;
        let mut site_id = site_id.clone();
        let contract_id = if !contracts.is_empty()
            && rng.gen_bool(if wo_type == "Maintenance" { 0.8 } else { 0.15 })
        {
            contracts[rng.gen_range(0..contracts.len())].clone()
        } else {
            String::new()
        };
        let equipment = pick(rng, words.equipment);
        let thing = names::in_sentence(equipment);
        let done = status == "Closed Complete";
        let (finding, action) = words.repairs[rng.gen_range(0..words.repairs.len())];
        let note = pick(rng, names::NOTE_SENTENCES);
        let (mut summary, mut description) = match wo_type {
            "Repair" => {
                let problem = pick(rng, words.problems);
                let outcome = if done {
                    format!(" Found {finding}. {action}.")
                } else {
                    String::new()
                };
                (
                    format!("{equipment} {problem}"),
                    format!("Customer reports the {thing} {problem}.{outcome} {note}"),
                )
            }
            "Maintenance" => {
                let [a, b] = pick_distinct(rng, words.pm_tasks);
                let outcome = if done {
                    "All readings within spec."
                } else {
                    "Scheduled per contract."
                };
                (
                    format!("PM - {equipment}: {a} and {b}"),
                    format!("Performed {a} and {b} on the {thing}. {outcome} {note}"),
                )
            }
            "Inspection" => {
                let summary = pick(rng, names::INSPECTION_SUMMARIES);
                let outcome = if !done {
                    "Inspection scheduled.".to_string()
                } else if rng.gen_bool(0.7) {
                    "No deficiencies found.".to_string()
                } else {
                    format!("Found {finding}; quoted the repair.")
                };
                (
                    summary.to_string(),
                    format!("{summary} of the {thing}. {outcome} {note}"),
                )
            }
            _ => {
                let summary = format!("{} {thing}", pick(rng, names::INSTALLATION_SUMMARIES));
                let outcome = if done {
                    "Removed the old unit, installed and started up the new one, and walked staff through it."
                } else {
                    "Waiting on equipment delivery."
                };
                (summary.clone(), format!("{summary}. {outcome} {note}"))
            }
        };
        let mut sync_status = "Synced";
        match kind {
            Some(DirtKind::OrphanWorkOrderSite) => {
                // Past the largest site id any export of this size can have.
                site_id = self
                    .ids
                    .sites
                    .format(3 * self.customers + 1 + rng.gen_range(0..1_000));
                self.ledger.record_value(
                    DirtKind::OrphanWorkOrderSite,
                    "work_orders",
                    "site_id",
                    &id,
                    &site_id,
                );
            }
            Some(DirtKind::UndocumentedStatus) => {
                status = if variant.is_multiple_of(2) {
                    "Waiting Parts"
                } else {
                    "Awaiting Approval"
                };
                self.ledger.record_value(
                    DirtKind::UndocumentedStatus,
                    "work_orders",
                    "status",
                    &id,
                    status,
                );
            }
            Some(DirtKind::UndocumentedPriority) => {
                priority = "Urgent";
                self.ledger.record_value(
                    DirtKind::UndocumentedPriority,
                    "work_orders",
                    "priority",
                    &id,
                    priority,
                );
            }
            Some(DirtKind::CriticalPriority) => {
                priority = "Critical";
                self.ledger.record_value(
                    DirtKind::CriticalPriority,
                    "work_orders",
                    "priority",
                    &id,
                    priority,
                );
            }
            Some(DirtKind::TitleTooLong) => {
                summary = long_text(rng, &summary, names::LONG_TITLE_PHRASES, 215..=300, ", ");
                self.ledger.record_value(
                    DirtKind::TitleTooLong,
                    "work_orders",
                    "summary",
                    &id,
                    &summary,
                );
            }
            Some(DirtKind::HtmlText) => {
                description =
                    HTML_DESCRIPTIONS[variant as usize % HTML_DESCRIPTIONS.len()].to_string();
                self.ledger.record_value(
                    DirtKind::HtmlText,
                    "work_orders",
                    "description",
                    &id,
                    &description,
                );
            }
            Some(DirtKind::PendingSync) => {
                sync_status = "Pending";
                self.ledger.record_value(
                    DirtKind::PendingSync,
                    "work_orders",
                    "sync_status",
                    &id,
                    sync_status,
                );
            }
            _ => {}
        }
        let closed = status == "Closed Complete";
        let completed = closed.then(|| {
            between(
                rng,
                created.unix() + 2 * HOUR,
                (created.unix() + 10 * DAY).min(LATEST),
            )
        });
        let floor = completed.unwrap_or(created);
        let modified = between(rng, floor.unix(), (floor.unix() + 30 * DAY).min(LATEST));
        let reported_by = if rng.gen_bool(0.8) {
            contacts[rng.gen_range(0..contacts.len())].id.clone()
        } else {
            String::new()
        };
        let technician = if status == "Open" && rng.gen_bool(0.2) {
            None
        } else {
            Some(rng.gen_range(0..self.technicians.len()))
        };
        let technician_id = technician.map_or(String::new(), |t| self.technicians[t].id.clone());
        let cf_warranty = custom(rng, |rng| bool_text(rng.gen_bool(0.1)).to_string());
        let cf_odometer = custom(rng, |rng| rng.gen_range(12_000..190_000).to_string());
        let cf_follow_up = custom(rng, |rng| {
            render_date(created.local_date() + chrono::Days::new(rng.gen_range(7..90)))
        });
        let mut row = self.tables.work_orders.row();
        row.put("id", &id)?
            .put("number", &number)?
            .put("customer_id", customer_id)?
            .put("site_id", &site_id)?
            .put("contract_id", &contract_id)?
            .put("status", status)?
            .put("priority", priority)?
            .put("type", wo_type)?
            .put("summary", &summary)?
            .put("description", &description)?
            .put("reported_by_contact_id", &reported_by)?
            .put("assigned_technician_id", &technician_id)?
            .put(
                "completed_at",
                &completed.map_or(String::new(), |c| c.render()),
            )?
            .put("sync_status", sync_status)?
            .put("created_at", &created.render())?
            .put("modified_at", &modified.render())?
            .put("cf_warranty_claim", &cf_warranty)?
            .put("cf_odometer_miles", &cf_odometer)?
            .put("cf_follow_up_date", &cf_follow_up)?;
        row.finish()?;

        let wo = WorkOrderRef {
            id,
            number,
            trade,
            created,
            modified,
            closed,
            technician,
        };
        self.write_work_order_parts(rng, &wo, dirt)?;
        self.write_dispatches(rng, &wo, status, dirt)?;
        self.write_activities(rng, &wo, customer, dirt)?;
        for _ in 0..weighted(rng, &[(0, 45), (1, 40), (2, 15)]) {
            let author = wo
                .technician
                .unwrap_or_else(|| rng.gen_range(0..self.technicians.len()));
            self.write_note(
                rng,
                "work_order",
                &wo.id,
                Some(&wo),
                author,
                customer_created,
                None,
            )?;
        }
        let attachment_dirt = dirt.filter(|a| {
            matches!(
                a.kind,
                DirtKind::AttachmentOverLimit | DirtKind::AttachmentPathChars
            )
        });
        if attachment_dirt.is_some() || rng.gen_bool(0.25) {
            self.write_attachment(
                rng,
                "work_order",
                &wo.id,
                &wo.number,
                wo.trade,
                wo.created,
                attachment_dirt,
            )?;
        }
        Ok(())
    }

    pub(super) fn write_work_order_parts(
        &mut self,
        rng: &mut ChaCha8Rng,
        wo: &WorkOrderRef,
        dirt: Option<Assignment>,
    ) -> Result<()> {
        let malformed = dirt.filter(|a| {
            a.kind == DirtKind::MalformedRow && malformed_object(a.variant) == "work_order_parts"
        });
        let untypeable = dirt.filter(|a| {
            a.kind == DirtKind::UntypeableValue
                && untypeable_object(a.variant) == "work_order_parts"
        });
        let mut count = weighted(rng, &[(0, 25), (1, 25), (2, 25), (3, 15), (4, 10)]);
        if malformed.is_some() || untypeable.is_some() {
            count = count.max(1);
        }
        for i in 0..count {
            let id = self.ids.work_order_parts.next();
            let part = &self.parts[rng.gen_range(0..self.parts.len())];
            let mut quantity = match part.unit_of_measure {
                "Each" | "Box" => rng.gen_range(1..=4).to_string(),
                "Foot" => format!("{:.1}", rng.gen_range(10..200) as f64 / 2.0),
                "Gallon" => rng.gen_range(1..=5).to_string(),
                _ => format!("{:.1}", rng.gen_range(1..=16) as f64 / 2.0),
            };
            let created = between(rng, wo.created.unix(), wo.modified.unix());
            let modified = modified_after(rng, created).min(wo.modified.max(created));
            let (part_id, unit_price) = (part.id.clone(), money(part.unit_price_cents));
            let table = &mut self.tables.work_order_parts;
            if let (Some(a), 0) = (malformed, i) {
                let (created, modified) = (created.render(), modified.render());
                let fields: Vec<&str> = if a.variant.is_multiple_of(2) {
                    vec![&id, &wo.id, &part_id]
                } else {
                    vec![
                        &id, &wo.id, &part_id, &quantity, "1", "250.00", &created, &modified,
                    ]
                };
                let line = table.write_malformed(&fields)?;
                let entry =
                    self.ledger
                        .record(DirtKind::MalformedRow, "work_order_parts", None, &id);
                entry.lines.insert(id.clone(), line);
                entry.expected.insert(id.clone(), fields.join(","));
                continue;
            }
            let untypeable_here = untypeable.is_some() && i == 0;
            if let (Some(a), true) = (untypeable, untypeable_here) {
                quantity =
                    ["two", "three", "a few", "1 1/2"][a.variant as usize / 3 % 4].to_string();
            }
            let mut row = table.row();
            row.put("id", &id)?
                .put("work_order_id", &wo.id)?
                .put("part_id", &part_id)?
                .put("quantity", &quantity)?
                .put("unit_price", &unit_price)?
                .put("created_at", &created.render())?
                .put("modified_at", &modified.render())?;
            let line = row.finish()?;
            if untypeable_here {
                let entry = self.ledger.record_value(
                    DirtKind::UntypeableValue,
                    "work_order_parts",
                    "quantity",
                    &id,
                    &quantity,
                );
                entry.lines.insert(id.clone(), line);
            }
        }
        Ok(())
    }

    pub(super) fn write_dispatches(
        &mut self,
        rng: &mut ChaCha8Rng,
        wo: &WorkOrderRef,
        status: &str,
        dirt: Option<Assignment>,
    ) -> Result<()> {
        let untypeable = dirt.filter(|a| {
            a.kind == DirtKind::UntypeableValue && untypeable_object(a.variant) == "dispatches"
        });
        let mut count = if wo.closed {
            weighted(rng, &[(1, 75), (2, 25)])
        } else {
            weighted(rng, &[(0, 40), (1, 50), (2, 10)])
        };
        if untypeable.is_some() {
            count = count.max(1);
        }
        for i in 0..count {
            let id = self.ids.dispatches.next();
            let technician = wo
                .technician
                .unwrap_or_else(|| rng.gen_range(0..self.technicians.len()));
            // Business hours in Chicago: 13:00–22:00 UTC.
            let day = (wo.created.unix() / DAY + rng.gen_range(0..4)) * DAY;
            let start_at = (day + rng.gen_range(13..22) * HOUR + rng.gen_range(0..2) * 30 * MINUTE)
                .min(LATEST - 6 * HOUR);
            let start = Moment::at(start_at.max(wo.created.unix()));
            let end = start.plus(rng.gen_range(1..=4) * HOUR);
            let dispatch_status = if wo.closed {
                "Completed"
            } else if status == "In Progress" {
                weighted(rng, &[("En Route", 40), ("On Site", 60)])
            } else {
                "Scheduled"
            };
            let created = between(rng, wo.created.unix(), start.unix());
            let modified = between(rng, created.unix(), end.unix().max(created.unix()));
            let mut start_text = start.render();
            let untypeable_here = untypeable.is_some() && i == 0;
            if let (Some(a), true) = (untypeable, untypeable_here) {
                start_text = [
                    "2024-13-45 25:61:00",
                    "2023-00-00 00:00:00",
                    "2022-02-30 27:15:00",
                ][a.variant as usize / 3 % 3]
                    .to_string();
            }
            let mut row = self.tables.dispatches.row();
            row.put("id", &id)?
                .put("work_order_id", &wo.id)?
                .put("technician_id", &self.technicians[technician].id)?
                .put("scheduled_start", &start_text)?
                .put("scheduled_end", &end.render())?
                .put("route_sequence", &rng.gen_range(1..=8).to_string())?
                .put("dispatch_status", dispatch_status)?
                .put("created_at", &created.render())?
                .put("modified_at", &modified.render())?;
            let line = row.finish()?;
            if untypeable_here {
                let entry = self.ledger.record_value(
                    DirtKind::UntypeableValue,
                    "dispatches",
                    "scheduled_start",
                    &id,
                    &start_text,
                );
                entry.lines.insert(id.clone(), line);
            }
        }
        Ok(())
    }

    pub(super) fn write_activities(
        &mut self,
        rng: &mut ChaCha8Rng,
        wo: &WorkOrderRef,
        customer: &CustomerContext<'_>,
        dirt: Option<Assignment>,
    ) -> Result<()> {
        let future = dirt.is_some_and(|a| a.kind == DirtKind::DateInFuture);
        let mut count = weighted(rng, &[(0, 25), (1, 35), (2, 25), (3, 15)]);
        if future {
            count = count.max(1);
        }
        for i in 0..count {
            let id = self.ids.activities.next();
            let activity_type = weighted(rng, &[("Call", 50), ("Email", 35), ("Meeting", 15)]);
            let (subject, duration) = match activity_type {
                "Call" => (
                    pick(rng, names::ACTIVITY_CALL_SUBJECTS),
                    rng.gen_range(2..45),
                ),
                "Email" => (
                    pick(rng, names::ACTIVITY_EMAIL_SUBJECTS),
                    rng.gen_range(1..10),
                ),
                _ => (
                    pick(rng, names::ACTIVITY_MEETING_SUBJECTS),
                    rng.gen_range(2..=8) * 15,
                ),
            };
            let contact = &customer.contacts[rng.gen_range(0..customer.contacts.len())];
            let body = format!(
                "{} with {} {} about {}. {}",
                subject,
                contact.first,
                contact.last,
                wo.number,
                pick(rng, names::NOTE_SENTENCES)
            );
            // Inactive technicians still waiting for an activity get the next
            // clean one, so each owns at least one.
            let technician = match self.inactive_waiting.front() {
                Some(&t) if customer.clean => {
                    self.inactive_waiting.pop_front();
                    t
                }
                _ => wo
                    .technician
                    .filter(|_| rng.gen_bool(0.7))
                    .unwrap_or_else(|| rng.gen_range(0..self.technicians.len())),
            };
            if !self.technicians[technician].active {
                self.inactive_activities
                    .entry(technician)
                    .or_default()
                    .push(id.clone());
            }
            let occurred = between(rng, wo.created.unix(), wo.modified.unix());
            let created = occurred.plus(rng.gen_range(0..120) * MINUTE);
            let modified = modified_after(rng, created);
            let mut occurred_text = occurred.render();
            if future && i == 0 {
                // A year typed wrong on the mobile app: 2031–2099.
                let year = rng.gen_range(2031..=2099);
                let date = occurred
                    .local_date()
                    .with_day(1)
                    .and_then(|d| d.with_year(year))
                    .unwrap_or_default();
                let utc = date
                    .and_hms_opt(17, 0, 0)
                    .map_or(LATEST, |d| d.and_utc().timestamp());
                occurred_text = Moment::at(utc + rng.gen_range(0..27 * DAY)).render();
                self.ledger.record_value(
                    DirtKind::DateInFuture,
                    "activities",
                    "occurred_at",
                    &id,
                    &occurred_text,
                );
            }
            let mut row = self.tables.activities.row();
            row.put("id", &id)?
                .put("type", activity_type)?
                .put("subject", subject)?
                .put("body", &body)?
                .put(
                    "direction",
                    if rng.gen_bool(0.5) {
                        "Inbound"
                    } else {
                        "Outbound"
                    },
                )?
                .put("customer_id", customer.id)?
                .put("contact_id", &contact.id)?
                .put("work_order_id", &wo.id)?
                .put("technician_id", &self.technicians[technician].id)?
                .put("occurred_at", &occurred_text)?
                .put("duration_minutes", &duration.to_string())?
                .put("created_at", &created.render())?
                .put("modified_at", &modified.render())?;
            row.finish()?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_note(
        &mut self,
        rng: &mut ChaCha8Rng,
        parent_type: &str,
        parent_id: &str,
        wo: Option<&WorkOrderRef>,
        author: usize,
        customer_created: Moment,
        dirt: Option<Assignment>,
    ) -> Result<()> {
        let id = self.ids.notes.next();
        let (from, until) = match wo {
            Some(wo) => (wo.created.unix(), wo.modified.unix()),
            None => (customer_created.unix(), LATEST),
        };
        let created = between(rng, from, until);
        let modified = modified_after(rng, created);
        let mut body = pick(rng, names::NOTE_SENTENCES).to_string();
        if rng.gen_bool(0.5) {
            body.push(' ');
            body.push_str(pick(rng, names::NOTE_SENTENCES));
        }
        let author_id = self.technicians[author].id.clone();
        match dirt {
            Some(a) if a.kind == DirtKind::MalformedRow => {
                let (created, modified) = (created.render(), modified.render());
                let fields: Vec<&str> = if a.variant.is_multiple_of(2) {
                    vec![
                        &id,
                        parent_type,
                        parent_id,
                        "Called customer about the quote",
                    ]
                } else {
                    // A comma in the body that the exporter forgot to quote.
                    vec![
                        &id,
                        parent_type,
                        parent_id,
                        "Called customer",
                        " left voicemail",
                        &author_id,
                        &created,
                        &modified,
                    ]
                };
                let line = self.tables.notes.write_malformed(&fields)?;
                let entry = self
                    .ledger
                    .record(DirtKind::MalformedRow, "notes", None, &id);
                entry.lines.insert(id.clone(), line);
                entry.expected.insert(id.clone(), fields.join(","));
                return Ok(());
            }
            Some(a) if a.kind == DirtKind::CsvSpecialChars => {
                body =
                    CSV_SPECIAL_BODIES[a.variant as usize % CSV_SPECIAL_BODIES.len()].to_string();
            }
            _ => {}
        }
        let mut row = self.tables.notes.row();
        row.put("id", &id)?
            .put("parent_type", parent_type)?
            .put("parent_id", parent_id)?
            .put("body", &body)?
            .put("author_technician_id", &author_id)?
            .put("created_at", &created.render())?
            .put("modified_at", &modified.render())?;
        let line = row.finish()?;
        if dirt.is_some_and(|a| a.kind == DirtKind::CsvSpecialChars) {
            let entry =
                self.ledger
                    .record_value(DirtKind::CsvSpecialChars, "notes", "body", &id, &body);
            entry.lines.insert(id.clone(), line);
        }
        Ok(())
    }

    /// Writes an attachment's bytes under `files/<id>/` and its row.
    /// `label` names the parent in file names (a work-order number).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_attachment(
        &mut self,
        rng: &mut ChaCha8Rng,
        parent_type: &str,
        parent_id: &str,
        label: &str,
        trade: Trade,
        not_before: Moment,
        dirt: Option<Assignment>,
    ) -> Result<()> {
        let id = self.ids.attachments.next();
        let created = between(
            rng,
            not_before.unix(),
            (not_before.unix() + 20 * DAY).min(LATEST),
        );
        let date = created.render_date();
        let year = &date[..4];
        let (file_name, size) = match dirt {
            Some(a) if a.kind == DirtKind::AttachmentPathChars => {
                let names = attachments::PATH_CHAR_FILE_NAMES;
                (
                    names[a.variant as usize % names.len()].to_string(),
                    attachments::ordinary_size(rng),
                )
            }
            Some(a) if a.kind == DirtKind::AttachmentOverLimit => {
                let name = if a.variant.is_multiple_of(2) {
                    format!("meter_readings_full_history_{year}.csv")
                } else {
                    "Scanned Equipment Manual.pdf".to_string()
                };
                (name, attachments::oversized_size(rng))
            }
            _ => {
                let name = match (
                    parent_type,
                    weighted(
                        rng,
                        &[(Format::Pdf, 45), (Format::Text, 30), (Format::Csv, 25)],
                    ),
                ) {
                    ("customer", Format::Pdf) => [
                        format!("Certificate of Insurance {year}.pdf"),
                        "Signed Service Agreement.pdf".into(),
                        "Tax Exempt Certificate.pdf".into(),
                    ][rng.gen_range(0..3)]
                    .clone(),
                    ("customer", Format::Text) => "Site Access Instructions.txt".to_string(),
                    ("customer", Format::Csv) => format!("Utility Meter Readings {year}.csv"),
                    (_, Format::Pdf) => [
                        format!("Service Report {label}.pdf"),
                        format!("signed_work_order_{parent_id}.pdf"),
                        format!("Inspection Certificate {year}.pdf"),
                    ][rng.gen_range(0..3)]
                    .clone(),
                    (_, Format::Text) => format!("service_notes_{parent_id}.txt"),
                    (_, Format::Csv) => format!("meter_readings_{}.csv", &date[..7]),
                };
                (name, attachments::ordinary_size(rng))
            }
        };
        let format = Format::of_file_name(&file_name);
        let title = match format {
            Format::Pdf => "Service Report",
            Format::Text => "Service Notes",
            Format::Csv => "Meter Readings",
        };
        let subject = Subject {
            parent_id,
            title,
            trade,
            date: &date,
        };
        let bytes = attachments::content(rng, format, &subject, size);
        let sha256 = hex::encode(Sha256::digest(&bytes));
        self.store_file(&id, &attachments::sanitize_file_name(&file_name), &bytes)?;
        self.attachment_bytes += bytes.len() as u64;
        let size_bytes = bytes.len().to_string();
        let modified = modified_after(rng, created);
        let mut row = self.tables.attachments.row();
        row.put("id", &id)?
            .put("parent_type", parent_type)?
            .put("parent_id", parent_id)?
            .put("file_name", &file_name)?
            .put("content_type", format.content_type())?
            .put("size_bytes", &size_bytes)?
            .put("sha256", &sha256)?
            .put("created_at", &created.render())?
            .put("modified_at", &modified.render())?;
        row.finish()?;
        match dirt.map(|a| a.kind) {
            Some(DirtKind::AttachmentPathChars) => {
                self.ledger.record_value(
                    DirtKind::AttachmentPathChars,
                    "attachments",
                    "file_name",
                    &id,
                    &file_name,
                );
            }
            Some(DirtKind::AttachmentOverLimit) => {
                self.ledger.record_value(
                    DirtKind::AttachmentOverLimit,
                    "attachments",
                    "size_bytes",
                    &id,
                    &size_bytes,
                );
            }
            _ => {}
        }
        Ok(())
    }

    /// `files/<id>/<name>`, the folder holding exactly that one file (a
    /// leftover of an interrupted run in the same folder is removed).
    pub(super) fn store_file(&self, id: &str, name: &str, bytes: &[u8]) -> Result<()> {
        let folder = self.files_dir.join(id);
        match std::fs::create_dir(&folder) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                for entry in std::fs::read_dir(&folder).at(&folder)? {
                    let path = entry.at(&folder)?.path();
                    if path.is_file() && path.file_name().is_some_and(|n| n != name) {
                        std::fs::remove_file(&path).at(&path)?;
                    }
                }
            }
            Err(e) => return Err(e).at(&folder),
        }
        let path = folder.join(name);
        std::fs::write(&path, bytes).at(&path)
    }
}

/// Work-order descriptions pasted from an HTML e-mail or a web form.
const HTML_DESCRIPTIONS: &[&str] = &[
    "<p>Replaced <b>valve</b></p><script>alert('x')</script>",
    "<div class=\"note\">Customer says the <i>unit</i> is noisy<br>Call before arrival</div>",
    "<table><tr><td>Filter</td><td>20x25x2</td></tr></table>",
    "<p>Tech notes:</p><ul><li>Checked breaker</li><li>Reset GFCI</li></ul>",
    "Compressor &amp; fan replaced <img src=x onerror=alert(1)>",
];

/// Note bodies with embedded commas, double quotes and both kinds of line
/// break, as typed into a multi-line box on the mobile app.
const CSV_SPECIAL_BODIES: &[&str] = &[
    "Customer said: \"Don't come before 9, the gate is locked.\"\nCall ahead, ask for Mike.\r\nBalance due: 1,200.50",
    "Items, in order:\n1. Replace filter, 20x25x2\r\n2. Check \"economizer\" linkage\n3. Done, \"all good\"",
    "Note from the \"night\" manager, verbatim:\r\n\"Cooler alarm went off twice, 2 AM and 4 AM\"\nPlease advise.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_special_bodies_have_every_special_character() {
        for body in CSV_SPECIAL_BODIES {
            assert!(body.contains(',') && body.contains('"') && body.contains("\r\n"));
            assert!(body.replace("\r\n", "").contains('\n'));
        }
    }

    #[test]
    fn html_descriptions_carry_tags() {
        assert!(HTML_DESCRIPTIONS
            .iter()
            .all(|d| d.contains('<') && d.contains('>')));
    }
}
