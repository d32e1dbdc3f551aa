//! The records of a synthetic export, written customer by customer.
//!
//! Every customer draws from its own seeded RNG stream, so a customer's
//! records depend only on the seed and its index; only ids (global
//! sequences) depend on the customers before it. The global objects
//! (technicians, parts, workflows) are written first and kept in memory as
//! small references; everything else is streamed out and forgotten, which
//! keeps memory flat however many customers an export has.
//!
//! Dirt is applied where the [`DirtPlan`] says, to records of the planned
//! customer or technician, and every injection is written to the
//! [`DirtLedger`] with the exact value or line it produced.

mod accounts;
mod globals;
mod values;
mod work_orders;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::clock::{Moment, DAY, EXPORTED_AT_UNIX, HISTORY_START_UNIX, HOUR};
use super::dirt::{DirtKind, DirtLedger, DirtPlan};
use super::names::{self, City, Trade};
use super::output::Tables;
use crate::error::{Error, IoContext, Result};
use values::{
    between, bool_text, custom, long_text, modified_after, money, phone, pick, pick_city,
    pick_trade, slug, street, weighted,
};

/// The latest instant clean data uses: a little before the export, so that
/// nudging out of a daylight-saving fold never passes the export time.
const LATEST: i64 = EXPORTED_AT_UNIX - 3 * HOUR;
/// Clean future dates (contract ends, warranties) stay before the years the
/// `date_in_future` dirt uses.
const LATEST_FUTURE_DATE: (i32, u32, u32) = (2030, 12, 31);
/// Share of custom-field values left empty.
const EMPTY_CUSTOM_VALUE: f64 = 0.3;

/// Independent RNG streams, so that adding a draw in one place never shifts
/// the values of another.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Plan = 0,
    Customer = 1,
    Identity = 2,
    Technician = 3,
    Part = 4,
    Workflow = 5,
    CompanyNames = 6,
}

pub(crate) fn rng_for(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((index << 4) | stream as u64);
    rng
}

/// A global id sequence: `<prefix>-<zero-padded number>`, numbers from 1.
struct Sequence {
    prefix: &'static str,
    width: usize,
    last: u64,
}

impl Sequence {
    const fn new(prefix: &'static str, width: usize) -> Sequence {
        Sequence {
            prefix,
            width,
            last: 0,
        }
    }

    fn next(&mut self) -> String {
        self.last += 1;
        self.format(self.last)
    }

    fn format(&self, number: u64) -> String {
        format!("{}-{:0width$}", self.prefix, number, width = self.width)
    }
}

/// Widths fit `--customers 100000` (about 1 million work orders and
/// 2 million work-order parts); larger exports simply print more digits.
struct Ids {
    customers: Sequence,
    contacts: Sequence,
    sites: Sequence,
    technicians: Sequence,
    contracts: Sequence,
    parts: Sequence,
    work_orders: Sequence,
    work_order_parts: Sequence,
    dispatches: Sequence,
    attachments: Sequence,
    activities: Sequence,
    notes: Sequence,
    invoices: Sequence,
    equipment: Sequence,
    equipment_sites: Sequence,
    workflows: Sequence,
}

impl Ids {
    fn new() -> Ids {
        Ids {
            customers: Sequence::new("CUS", 6),
            contacts: Sequence::new("CON", 7),
            sites: Sequence::new("SIT", 7),
            technicians: Sequence::new("TEC", 5),
            contracts: Sequence::new("CTR", 6),
            parts: Sequence::new("PRT", 5),
            work_orders: Sequence::new("WO", 7),
            work_order_parts: Sequence::new("WOP", 7),
            dispatches: Sequence::new("DSP", 7),
            attachments: Sequence::new("ATT", 7),
            activities: Sequence::new("ACT", 7),
            notes: Sequence::new("NOT", 7),
            invoices: Sequence::new("INV", 7),
            equipment: Sequence::new("EQP", 6),
            equipment_sites: Sequence::new("EQS", 7),
            workflows: Sequence::new("WF", 3),
        }
    }
}

struct TechnicianRef {
    id: String,
    active: bool,
}

struct PartRef {
    id: String,
    unit_price_cents: i64,
    unit_of_measure: &'static str,
}

/// Unique company names: a customer index maps through a fixed permutation
/// of all (head, business type, suffix) combinations, so two customers never
/// share a name unless the `duplicate_customer` dirt says so.
struct CompanyNames {
    combinations: u64,
    stride: u64,
    offset: u64,
}

impl CompanyNames {
    fn new(seed: u64) -> CompanyNames {
        let combinations = (names::COMPANY_HEADS.len()
            * names::BUSINESS_TYPES.len()
            * names::COMPANY_SUFFIXES.len()) as u64;
        // A stride coprime with the number of combinations makes
        // `index * stride + offset` a permutation; ~0.618 spreads neighbours.
        let mut stride = combinations * 618 / 1000;
        while gcd(stride, combinations) != 1 {
            stride += 1;
        }
        let offset = rng_for(seed, Stream::CompanyNames, 0).gen_range(0..combinations);
        CompanyNames {
            combinations,
            stride,
            offset,
        }
    }

    /// (company name, e-mail domain, industry) of the customer at `index`.
    fn get(&self, index: u64) -> (String, String, &'static str) {
        let cycle = index / self.combinations;
        let p = ((index % self.combinations) as u128 * self.stride as u128 + self.offset as u128)
            % self.combinations as u128;
        let p = p as u64;
        let heads = names::COMPANY_HEADS.len() as u64;
        let types = names::BUSINESS_TYPES.len() as u64;
        let head = names::COMPANY_HEADS[(p % heads) as usize];
        let (business, industry) = names::BUSINESS_TYPES[((p / heads) % types) as usize];
        let (suffix, suffix_slug) = names::COMPANY_SUFFIXES[(p / heads / types) as usize];
        let mut name = format!("{head} {business} {suffix}");
        let mut domain = format!("{}{}{}", slug(head), slug(business), suffix_slug);
        if cycle > 0 {
            // Past every combination (more than ~180,000 customers): number
            // the repeats so names stay unique.
            name.push_str(&format!(" {}", cycle + 1));
            domain.push_str(&(cycle + 1).to_string());
        }
        domain.push_str(".com");
        (name, domain, industry)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// What a customer is known by: a duplicate repeats its original's.
struct Identity {
    company_name: String,
    domain: String,
    industry: &'static str,
    city: City,
    street: String,
    phone: String,
}

struct ContactRef {
    id: String,
    first: &'static str,
    last: &'static str,
}

struct SiteRef {
    id: String,
}

/// What a customer's work orders need to know about it.
#[derive(Clone, Copy)]
struct CustomerContext<'a> {
    id: &'a str,
    created: Moment,
    /// No dirt planned for this customer: inactive technicians get their
    /// first activity from such customers, so no kind masks another.
    clean: bool,
    contacts: &'a [ContactRef],
    sites: &'a [SiteRef],
    contracts: &'a [String],
}

struct WorkOrderRef {
    id: String,
    number: String,
    trade: Trade,
    created: Moment,
    modified: Moment,
    closed: bool,
    technician: Option<usize>,
}

pub(crate) struct Generator {
    seed: u64,
    customers: u64,
    plan: DirtPlan,
    ledger: DirtLedger,
    tables: Tables,
    files_dir: PathBuf,
    ids: Ids,
    names: CompanyNames,
    technicians: Vec<TechnicianRef>,
    parts: Vec<PartRef>,
    /// Inactive technicians that do not own an activity yet: the next clean
    /// customer's activities go to them first, so each owns at least one.
    inactive_waiting: VecDeque<usize>,
    /// Activities owned by inactive technicians, by technician index.
    inactive_activities: BTreeMap<usize, Vec<String>>,
    attachment_bytes: u64,
}

/// What [`Generator::finish`] hands back.
pub(crate) struct Written {
    pub rows: BTreeMap<String, u64>,
    pub dirt: Vec<super::DirtEntry>,
    pub attachment_bytes: u64,
}

impl Generator {
    pub fn new(dir: &Path, seed: u64, customers: u64, plan: DirtPlan) -> Result<Generator> {
        let files_dir = dir.join("files");
        std::fs::create_dir_all(&files_dir).at(&files_dir)?;
        Ok(Generator {
            seed,
            customers,
            plan,
            ledger: DirtLedger::default(),
            tables: Tables::create(dir)?,
            files_dir,
            ids: Ids::new(),
            names: CompanyNames::new(seed),
            technicians: Vec::new(),
            parts: Vec::new(),
            inactive_waiting: VecDeque::new(),
            inactive_activities: BTreeMap::new(),
            attachment_bytes: 0,
        })
    }

    /// Flushes every file and closes the ledger.
    pub fn finish(mut self) -> Result<Written> {
        if let Some(&waiting) = self.inactive_waiting.front() {
            return Err(Error::Usage(format!(
                "too few clean activities to give inactive technician {} one; use more --customers",
                self.technicians[waiting].id
            )));
        }
        for (technician, activities) in std::mem::take(&mut self.inactive_activities) {
            let id = self.technicians[technician].id.clone();
            let entry = self.ledger.record_value(
                DirtKind::InactiveTechnicianOwnsActivities,
                "technicians",
                "active",
                &id,
                "false",
            );
            entry
                .related
                .entry("activities".into())
                .or_default()
                .extend(activities);
        }
        let rows = self.tables.finish()?;
        Ok(Written {
            rows,
            dirt: self.ledger.finish(),
            attachment_bytes: self.attachment_bytes,
        })
    }

    fn identity(&self, index: u64) -> Identity {
        let mut rng = rng_for(self.seed, Stream::Identity, index);
        let (company_name, domain, industry) = self.names.get(index);
        let city = pick_city(&mut rng);
        Identity {
            company_name,
            domain,
            industry,
            street: street(&mut rng),
            phone: phone(&mut rng, city.area_code),
            city,
        }
    }

    /// Writes the customer at 0-based `index` and everything that belongs to it.
    pub fn write_customer(&mut self, index: u64) -> Result<()> {
        let mut rng = rng_for(self.seed, Stream::Customer, index);
        let dirt = self.plan.customer(index);
        let kind = dirt.map(|a| a.kind);
        let variant = dirt.map_or(0, |a| a.variant);
        let id = self.ids.customers.format(index + 1);
        self.ids.customers.last = index + 1;
        let own = self.identity(index);
        let original = dirt.and_then(|a| a.original);
        let identity = match original {
            Some(o) => self.identity(o),
            None => own,
        };
        let created = between(&mut rng, HISTORY_START_UNIX, LATEST - 120 * DAY);

        // Contacts first (the customer row names its primary contact).
        let contact_count = rng.gen_range(1..=4);
        let primary = rng.gen_range(0..contact_count);
        let mut contacts: Vec<ContactRef> = Vec::with_capacity(contact_count);
        let mut contact_rows = Vec::with_capacity(contact_count);
        let mut used_emails: Vec<String> = Vec::new();
        for i in 0..contact_count {
            let first = pick(&mut rng, names::FIRST_NAMES);
            let last = pick(&mut rng, names::LAST_NAMES);
            let mut email = format!("{}.{}@{}", slug(first), slug(last), identity.domain);
            if used_emails.contains(&email) {
                email = format!(
                    "{}.{}{}@{}",
                    slug(first),
                    slug(last),
                    i + 1,
                    identity.domain
                );
            }
            used_emails.push(email.clone());
            let contact_id = self.ids.contacts.next();
            contact_rows.push((contact_id.clone(), first, last, email, i == primary));
            contacts.push(ContactRef {
                id: contact_id,
                first,
                last,
            });
        }
        let primary_name = format!("{} {}", contacts[primary].first, contacts[primary].last);
        let billing_contact = if rng.gen_bool(0.6) {
            let c = &contacts[rng.gen_range(0..contacts.len())];
            format!("{} {}", c.first, c.last)
        } else {
            "Accounts Payable".to_string()
        };

        // The customer row.
        let company_name = match kind {
            Some(DirtKind::NameTooLong) => {
                let value = long_text(
                    &mut rng,
                    &identity.company_name,
                    names::LONG_NAME_PHRASES,
                    175..=250,
                    " ",
                );
                self.ledger.record_value(
                    DirtKind::NameTooLong,
                    "customers",
                    "company_name",
                    &id,
                    &value,
                );
                value
            }
            Some(DirtKind::UnicodeText) => {
                let list = names::UNICODE_COMPANY_NAMES;
                let mut value = list[variant as usize % list.len()].to_string();
                if variant as usize >= list.len() {
                    value.push_str(&format!(" {}", variant as usize / list.len() + 1));
                }
                self.ledger.record_value(
                    DirtKind::UnicodeText,
                    "customers",
                    "company_name",
                    &id,
                    &value,
                );
                value
            }
            _ => identity.company_name.clone(),
        };
        let local_part = pick(&mut rng, names::EMAIL_LOCAL_PARTS);
        let (email, website) = match kind {
            Some(DirtKind::InvalidEmail) => {
                let base = identity.domain.trim_end_matches(".com");
                let value = match variant % 4 {
                    0 => format!("{local_part}@@{}", identity.domain),
                    1 => format!("{local_part} at {}", identity.domain),
                    2 => format!("{local_part}@{base}"),
                    _ => format!("{local_part}@{base}..com"),
                };
                self.ledger
                    .record_value(DirtKind::InvalidEmail, "customers", "email", &id, &value);
                (value, format!("https://www.{}", identity.domain))
            }
            Some(DirtKind::NoEmailDomain) => {
                self.ledger
                    .record_value(DirtKind::NoEmailDomain, "customers", "email", &id, "");
                (String::new(), String::new())
            }
            Some(DirtKind::FreeMailDomain) => {
                let domain =
                    names::FREE_MAIL_DOMAINS[variant as usize % names::FREE_MAIL_DOMAINS.len()];
                let stem: String = identity
                    .domain
                    .trim_end_matches(".com")
                    .chars()
                    .take(20)
                    .collect();
                let value = format!("{stem}{}@{domain}", rng.gen_range(1..100));
                self.ledger.record_value(
                    DirtKind::FreeMailDomain,
                    "customers",
                    "email",
                    &id,
                    &value,
                );
                (value, format!("https://www.{}", identity.domain))
            }
            _ => {
                let website = if rng.gen_bool(0.85) {
                    format!("https://www.{}", identity.domain)
                } else {
                    String::new()
                };
                (format!("{local_part}@{}", identity.domain), website)
            }
        };
        if let Some(o) = original {
            let original_id = self.ids.customers.format(o + 1);
            let entry = self.ledger.record_value(
                DirtKind::DuplicateCustomer,
                "customers",
                "company_name",
                &id,
                &company_name,
            );
            entry.pairs.push([id.clone(), original_id]);
        }
        let (billing_city, billing_street) = match kind {
            Some(DirtKind::PostalCodeLeadingZero) => {
                let city =
                    names::LEADING_ZERO_CITIES[variant as usize % names::LEADING_ZERO_CITIES.len()];
                self.ledger.record_value(
                    DirtKind::PostalCodeLeadingZero,
                    "customers",
                    "billing_postal_code",
                    &id,
                    city.postal_code,
                );
                (city, street(&mut rng))
            }
            _ => (identity.city, identity.street.clone()),
        };
        let billing_state = if kind == Some(DirtKind::StateNameNotCode) {
            let name = names::state_name(billing_city.state);
            self.ledger.record_value(
                DirtKind::StateNameNotCode,
                "customers",
                "billing_state",
                &id,
                name,
            );
            name
        } else {
            billing_city.state
        };
        let modified = modified_after(&mut rng, created);
        let invoice_method = weighted(&mut rng, &[("Email", 60), ("Mail", 15), ("Portal", 25)]);
        let po_number = if rng.gen_bool(0.4) {
            format!("PO-{}", rng.gen_range(10_000..100_000))
        } else {
            String::new()
        };
        let payment_terms = weighted(
            &mut rng,
            &[
                ("Net 30", 55),
                ("Net 15", 15),
                ("Net 45", 15),
                ("Due on Receipt", 15),
            ],
        );
        let status = if rng.gen_bool(0.88) {
            "Active"
        } else {
            "Inactive"
        };
        let tier = weighted(&mut rng, &[("Gold", 15), ("Silver", 35), ("Bronze", 50)]);
        let cf_industry = custom(&mut rng, |_| identity.industry.to_string());
        let cf_tier = custom(&mut rng, |_| tier.to_string());
        let cf_credit = custom(&mut rng, |rng| money(rng.gen_range(5..=100) * 100_000));
        let cf_tax_exempt = custom(&mut rng, |rng| bool_text(rng.gen_bool(0.12)).to_string());
        let mut row = self.tables.customers.row();
        row.put("id", &id)?
            .put("company_name", &company_name)?
            .put("primary_contact_name", &primary_name)?
            .put("email", &email)?
            .put("phone", &identity.phone)?
            .put("website", &website)?
            .put("billing_street", &billing_street)?
            .put("billing_city", billing_city.name)?
            .put("billing_state", billing_state)?
            .put("billing_postal_code", billing_city.postal_code)?
            .put("billing_country", "US")?
            .put("billing_contact_name", &billing_contact)?
            .put("invoice_method", invoice_method)?
            .put("po_number", &po_number)?
            .put("payment_terms", payment_terms)?
            .put("status", status)?
            .put("created_at", &created.render())?
            .put("modified_at", &modified.render())?
            .put("cf_industry", &cf_industry)?
            .put("cf_account_tier", &cf_tier)?
            .put("cf_credit_limit", &cf_credit)?
            .put("cf_tax_exempt", &cf_tax_exempt)?;
        row.finish()?;

        for (contact_id, first, last, email, is_primary) in contact_rows {
            self.write_contact(
                &mut rng,
                &contact_id,
                &id,
                first,
                last,
                &email,
                is_primary,
                &identity,
                created,
            )?;
        }
        if kind == Some(DirtKind::OrphanContact) {
            // An extra contact whose customer was deleted in ServiceTracker
            // without cascading: its id is past every customer's.
            let missing = self
                .ids
                .customers
                .format(self.customers + 1 + rng.gen_range(0..1_000));
            let contact_id = self.ids.contacts.next();
            let first = pick(&mut rng, names::FIRST_NAMES);
            let last = pick(&mut rng, names::LAST_NAMES);
            let email = format!("{}.{}@{}", slug(first), slug(last), identity.domain);
            self.write_contact(
                &mut rng,
                &contact_id,
                &missing,
                first,
                last,
                &email,
                false,
                &identity,
                created,
            )?;
            self.ledger.record_value(
                DirtKind::OrphanContact,
                "contacts",
                "customer_id",
                &contact_id,
                &missing,
            );
        }

        let sites = self.write_sites(&mut rng, &id, &identity, created)?;
        let contracts = self.write_contracts(&mut rng, &id, created)?;
        self.write_equipment(&mut rng, &id, &sites, created, dirt)?;
        self.write_billing(&mut rng, &id, created, dirt)?;

        let customer = CustomerContext {
            id: &id,
            created,
            clean: dirt.is_none(),
            contacts: &contacts,
            sites: &sites,
            contracts: &contracts,
        };
        let work_order_count = 3 + rng.gen_range(0..=7) + rng.gen_range(0..=7);
        for w in 0..work_order_count {
            // Work-order-level dirt lands on the customer's first work order.
            let wo_dirt = if w == 0 { dirt } else { None };
            self.write_work_order(&mut rng, &customer, wo_dirt)?;
        }

        // Notes and files on the customer itself.
        let note_dirt = dirt.filter(|a| {
            a.kind == DirtKind::CsvSpecialChars
                || (a.kind == DirtKind::MalformedRow && malformed_object(a.variant) == "notes")
        });
        if note_dirt.is_some() || rng.gen_bool(0.3) {
            let author = rng.gen_range(0..self.technicians.len());
            self.write_note(&mut rng, "customer", &id, None, author, created, note_dirt)?;
        }
        for contract in &contracts {
            if rng.gen_bool(0.2) {
                let author = rng.gen_range(0..self.technicians.len());
                self.write_note(&mut rng, "contract", contract, None, author, created, None)?;
            }
        }
        if rng.gen_bool(0.05) {
            let trade = pick_trade(&mut rng);
            self.write_attachment(&mut rng, "customer", &id, "", trade, created, None)?;
        }
        Ok(())
    }
}

/// Which leaf object the malformed row of a given variant is in: the three
/// objects in turn, so the smallest export has one of each.
fn malformed_object(variant: u64) -> &'static str {
    ["work_order_parts", "notes", "billing_history"][variant as usize % 3]
}

/// Which leaf object the untypeable value of a given variant is in.
fn untypeable_object(variant: u64) -> &'static str {
    ["work_order_parts", "billing_history", "dispatches"][variant as usize % 3]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn company_names_are_unique_across_a_large_export() {
        let names = CompanyNames::new(42);
        let mut seen = HashSet::new();
        let mut domains = HashSet::new();
        for i in 0..200_000 {
            let (name, domain, _) = names.get(i);
            assert!(seen.insert(name.clone()), "repeated {name} at {i}");
            assert!(
                domains.insert(domain.clone()) || i >= names.combinations,
                "{domain}"
            );
            assert!(name.is_ascii() && name.len() < 160);
        }
        assert!(names.combinations >= 100_000, "{}", names.combinations);
    }

    #[test]
    fn different_seeds_name_customers_differently() {
        assert_ne!(CompanyNames::new(1).get(0).0, CompanyNames::new(2).get(0).0);
    }

    #[test]
    fn streams_differ() {
        let a: u64 = rng_for(1, Stream::Customer, 0).gen();
        let b: u64 = rng_for(1, Stream::Customer, 1).gen();
        let c: u64 = rng_for(1, Stream::Identity, 0).gen();
        let d: u64 = rng_for(2, Stream::Customer, 0).gen();
        assert!(a != b && a != c && a != d);
    }
}
