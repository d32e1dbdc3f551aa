//! The records that hang off one customer besides its work orders —
//! contacts, sites, contracts, equipment and billing history — each written
//! as [`Generator::write_customer`] reaches it.

use chrono::Datelike;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::values::{
    add_years, between, bool_text, cap_future, custom, modified_after, money, phone, pick,
    pick_distinct, pick_trade, slug, street, thousands, trade_label, weighted,
};
use super::{malformed_object, untypeable_object, Generator, Identity, SiteRef, LATEST};
use crate::clock::{render_date, Moment, DAY};
use crate::dirt::{Assignment, DirtKind};
use crate::error::Result;
use crate::names::{self, Trade};

impl Generator {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_contact(
        &mut self,
        rng: &mut ChaCha8Rng,
        id: &str,
        customer_id: &str,
        first: &str,
        last: &str,
        email: &str,
        is_primary: bool,
        identity: &Identity,
        customer_created: Moment,
    ) -> Result<()> {
        let created = between(
            rng,
            customer_created.unix(),
            customer_created.unix() + 60 * DAY,
        );
        let modified = modified_after(rng, created);
        let mobile = if rng.gen_bool(0.6) {
            phone(rng, identity.city.area_code)
        } else {
            String::new()
        };
        let mut row = self.tables.contacts.row();
        row.put("id", id)?
            .put("customer_id", customer_id)?
            .put("first_name", first)?
            .put("last_name", last)?
            .put("job_title", pick(rng, names::JOB_TITLES))?
            .put("direct_phone", &phone(rng, identity.city.area_code))?
            .put("mobile_phone", &mobile)?
            .put("email", email)?
            .put("is_primary", bool_text(is_primary))?
            .put("created_at", &created.render())?
            .put("modified_at", &modified.render())?;
        row.finish()?;
        Ok(())
    }

    pub(super) fn write_sites(
        &mut self,
        rng: &mut ChaCha8Rng,
        customer_id: &str,
        identity: &Identity,
        customer_created: Moment,
    ) -> Result<Vec<SiteRef>> {
        let count = rng.gen_range(1..=3);
        let mut sites = Vec::with_capacity(count);
        for i in 0..count {
            let id = self.ids.sites.next();
            // The first site is the billing address; others are nearby.
            let (city, street1, name, site_type) = if i == 0 {
                let t = if rng.gen_bool(0.6) {
                    "Service"
                } else {
                    "Billing"
                };
                (
                    identity.city,
                    identity.street.clone(),
                    pick(rng, &["Main Office", "Headquarters"]).to_string(),
                    t,
                )
            } else {
                let city = if rng.gen_bool(0.7) {
                    identity.city
                } else {
                    names::CITIES[rng.gen_range(0..names::HOME_CITIES)]
                };
                let name = if rng.gen_bool(0.3) {
                    format!("Store #{}", rng.gen_range(100..999))
                } else {
                    format!("{} - {}", city.name, pick(rng, names::SITE_NAMES))
                };
                let t = if rng.gen_bool(0.8) {
                    "Service"
                } else {
                    "Shipping"
                };
                (city, street(rng), name, t)
            };
            let street2 = if rng.gen_bool(0.3) {
                pick(rng, names::SECOND_LINES)
            } else {
                ""
            };
            let latitude = city.latitude + rng.gen_range(-0.05..0.05);
            let longitude = city.longitude + rng.gen_range(-0.05..0.05);
            let access = if rng.gen_bool(0.5) {
                pick(rng, names::ACCESS_NOTES)
            } else {
                ""
            };
            // Gate codes often start with 0 and must stay text.
            let gate_code = custom(rng, |rng| {
                if rng.gen_bool(0.4) {
                    format!("0{:03}", rng.gen_range(0..1_000))
                } else {
                    format!("{:04}", rng.gen_range(1_000..10_000))
                }
            });
            let created = between(
                rng,
                customer_created.unix(),
                customer_created.unix() + 30 * DAY,
            );
            let modified = modified_after(rng, created);
            let mut row = self.tables.sites.row();
            row.put("id", &id)?
                .put("customer_id", customer_id)?
                .put("site_name", &name)?
                .put("site_type", site_type)?
                .put("street1", &street1)?
                .put("street2", street2)?
                .put("city", city.name)?
                .put("state", city.state)?
                .put("postal_code", city.postal_code)?
                .put("country", "US")?
                .put("latitude", &format!("{latitude:.5}"))?
                .put("longitude", &format!("{longitude:.5}"))?
                .put("access_notes", access)?
                .put("created_at", &created.render())?
                .put("modified_at", &modified.render())?
                .put("cf_gate_code", &gate_code)?;
            row.finish()?;
            sites.push(SiteRef { id });
        }
        Ok(sites)
    }

    pub(super) fn write_contracts(
        &mut self,
        rng: &mut ChaCha8Rng,
        customer_id: &str,
        customer_created: Moment,
    ) -> Result<Vec<String>> {
        let count = weighted(rng, &[(0, 50), (1, 35), (2, 15)]);
        let mut contracts = Vec::with_capacity(count);
        for _ in 0..count {
            let id = self.ids.contracts.next();
            let trade = pick_trade(rng);
            let trade_label = trade_label(trade);
            let start = between(rng, customer_created.unix() + 7 * DAY, LATEST - 30 * DAY);
            let created = Moment::at(
                (start.unix() - rng.gen_range(1..30) * DAY).max(customer_created.unix()),
            );
            let start_date = start.local_date();
            let end_date = cap_future(add_years(start_date, rng.gen_range(1..=3)));
            let export_date = Moment::at(LATEST).local_date();
            let status = if end_date < export_date {
                if rng.gen_bool(0.9) {
                    "Expired"
                } else {
                    "Cancelled"
                }
            } else if rng.gen_bool(0.92) {
                "Active"
            } else {
                "Draft"
            };
            let frequency = weighted(
                rng,
                &[
                    ("Monthly", 20),
                    ("Quarterly", 45),
                    ("Semi-Annually", 20),
                    ("Annually", 15),
                ],
            );
            let words = names::trade_words(trade);
            let [a, b, c] = pick_distinct(rng, words.pm_tasks);
            let routine = format!(
                "PM-{}-{}: {a}; {b}; {c}",
                trade_label.to_ascii_uppercase(),
                &frequency[..1]
            );
            let modified = modified_after(rng, created);
            let mut row = self.tables.contracts.row();
            row.put("id", &id)?
                .put(
                    "contract_number",
                    &format!("SA-{:06}", self.ids.contracts.last + 10_000),
                )?
                .put("customer_id", customer_id)?
                .put(
                    "name",
                    &format!("{trade_label} {}", pick(rng, names::CONTRACT_NAMES)),
                )?
                .put(
                    "billing_terms",
                    weighted(rng, &[("Monthly", 40), ("Quarterly", 35), ("Annually", 25)]),
                )?
                .put("start_date", &render_date(start_date))?
                .put("end_date", &render_date(end_date))?
                .put("value", &money(rng.gen_range(1_200..60_000) * 100))?
                .put("pm_frequency", frequency)?
                .put("pm_routine", &routine)?
                .put("status", status)?
                .put("created_at", &created.render())?
                .put("modified_at", &modified.render())?;
            row.finish()?;
            contracts.push(id);
        }
        Ok(contracts)
    }

    pub(super) fn write_equipment(
        &mut self,
        rng: &mut ChaCha8Rng,
        customer_id: &str,
        sites: &[SiteRef],
        customer_created: Moment,
        dirt: Option<Assignment>,
    ) -> Result<()> {
        let typo_year = dirt.is_some_and(|a| a.kind == DirtKind::DateBefore1753);
        let mut count = weighted(rng, &[(0, 35), (1, 30), (2, 20), (3, 15)]);
        if typo_year {
            count = count.max(1);
        }
        for e in 0..count {
            let id = self.ids.equipment.next();
            let trade = pick_trade(rng);
            let (manufacturer, models) = names::trade_words(trade).makes
                [rng.gen_range(0..names::trade_words(trade).makes.len())];
            let model = pick(rng, models);
            let installed = between(rng, customer_created.unix(), LATEST - 10 * DAY);
            let install_date = installed.local_date();
            let mut install_text = render_date(install_date);
            if typo_year && e == 0 {
                // A year typed with a digit missing or wrong: 0202, 1202, 1699.
                const YEARS: &[i32] = &[202, 1202, 1699, 1019, 201, 1720, 1492];
                let year = YEARS[dirt.map_or(0, |a| a.variant) as usize % YEARS.len()];
                let date = install_date
                    .with_year(year)
                    .or_else(|| install_date.with_day(28).and_then(|d| d.with_year(year)))
                    .unwrap_or_default();
                install_text = render_date(date);
                self.ledger.record_value(
                    DirtKind::DateBefore1753,
                    "equipment",
                    "install_date",
                    &id,
                    &install_text,
                );
            }
            let warranty_end = cap_future(add_years(install_date, rng.gen_range(1..=5)));
            let serial = format!(
                "{}{:02}{}{:05}",
                &slug(manufacturer)[..2].to_ascii_uppercase(),
                install_date.year() % 100,
                (b'A' + rng.gen_range(0..26u8)) as char,
                rng.gen_range(0..100_000)
            );
            let refrigerant = if trade == Trade::Hvac && rng.gen_bool(0.8) {
                custom(rng, |rng| pick(rng, names::REFRIGERANTS).to_string())
            } else {
                String::new()
            };
            let last_service = custom(rng, |rng| between(rng, installed.unix(), LATEST).render());
            let created = installed.plus(rng.gen_range(0..5) * DAY);
            let modified = modified_after(rng, created);
            let mut row = self.tables.equipment.row();
            row.put("id", &id)?
                .put("serial_number", &serial)?
                .put("model", model)?
                .put("manufacturer", manufacturer)?
                .put("install_date", &install_text)?
                .put("warranty_end", &render_date(warranty_end))?
                .put("customer_id", customer_id)?
                .put("created_at", &created.render())?
                .put("modified_at", &modified.render())?
                .put("cf_refrigerant_type", &refrigerant)?
                .put("cf_last_service_at", &last_service)?;
            row.finish()?;

            let links = if sites.len() > 1 && rng.gen_bool(0.3) {
                2
            } else {
                1
            };
            let first = rng.gen_range(0..sites.len());
            for l in 0..links {
                let site = &sites[(first + l) % sites.len()];
                let link_id = self.ids.equipment_sites.next();
                let mut row = self.tables.equipment_sites.row();
                row.put("id", &link_id)?
                    .put("equipment_id", &id)?
                    .put("site_id", &site.id)?
                    .put("created_at", &created.render())?
                    .put("modified_at", &created.render())?;
                row.finish()?;
            }
        }
        Ok(())
    }

    pub(super) fn write_billing(
        &mut self,
        rng: &mut ChaCha8Rng,
        customer_id: &str,
        customer_created: Moment,
        dirt: Option<Assignment>,
    ) -> Result<()> {
        let malformed = dirt.filter(|a| {
            a.kind == DirtKind::MalformedRow && malformed_object(a.variant) == "billing_history"
        });
        let untypeable = dirt.filter(|a| {
            a.kind == DirtKind::UntypeableValue && untypeable_object(a.variant) == "billing_history"
        });
        let mut count = rng.gen_range(0..=6);
        if malformed.is_some() || untypeable.is_some() {
            count = count.max(1);
        }
        for i in 0..count {
            let id = self.ids.invoices.next();
            let invoice_number = (500_000 + self.ids.invoices.last).to_string();
            let issued = between(rng, customer_created.unix() + 14 * DAY, LATEST - DAY);
            let invoice_date = render_date(issued.local_date());
            let mut amount = money(rng.gen_range(8_500..1_250_000));
            let age_days = (LATEST - issued.unix()) / DAY;
            let status = if age_days > 60 {
                if rng.gen_bool(0.93) {
                    "Paid"
                } else {
                    "Overdue"
                }
            } else if rng.gen_bool(0.7) {
                "Open"
            } else {
                "Paid"
            };
            let created = issued;
            let modified = modified_after(rng, created);
            let table = &mut self.tables.billing_history;
            if let (Some(a), 0) = (malformed, i) {
                let (created, modified) = (created.render(), modified.render());
                let fields: Vec<&str> = if a.variant.is_multiple_of(2) {
                    // Truncated: the export died mid-line.
                    vec![&id, customer_id, &invoice_number, &invoice_date]
                } else {
                    // The amount's thousands separator left unquoted.
                    vec![
                        &id,
                        customer_id,
                        &invoice_number,
                        &invoice_date,
                        "1",
                        "200.00",
                        status,
                        &created,
                        &modified,
                    ]
                };
                let line = table.write_malformed(&fields)?;
                let entry =
                    self.ledger
                        .record(DirtKind::MalformedRow, "billing_history", None, &id);
                entry.lines.insert(id.clone(), line);
                entry.expected.insert(id.clone(), fields.join(","));
                continue;
            }
            let untypeable_here = untypeable.is_some() && i == 0;
            if untypeable_here {
                amount = format!("${}", thousands(rng.gen_range(100_000..1_000_000)));
            }
            let mut row = table.row();
            row.put("id", &id)?
                .put("customer_id", customer_id)?
                .put("invoice_number", &invoice_number)?
                .put("invoice_date", &invoice_date)?
                .put("amount", &amount)?
                .put("status", status)?
                .put("created_at", &created.render())?
                .put("modified_at", &modified.render())?;
            let line = row.finish()?;
            if untypeable_here {
                let entry = self.ledger.record_value(
                    DirtKind::UntypeableValue,
                    "billing_history",
                    "amount",
                    &id,
                    &amount,
                );
                entry.lines.insert(id.clone(), line);
            }
        }
        Ok(())
    }
}
