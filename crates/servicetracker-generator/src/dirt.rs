//! The dirt a generated export carries (SPEC §8.4) and its ground truth,
//! `dirt.json`.
//!
//! Every kind of dirt is injected into an exact, planned number of records,
//! each belonging to its own customer (or, for technician-level kinds, its
//! own technician), chosen with the seeded RNG before anything is written.
//! Kinds never share a customer, so one kind can never mask another, and a
//! test can check each pipeline stage against `dirt.json` record by record.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

/// One kind of dirt. Serialized in `snake_case` (`invalid_email`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirtKind {
    InvalidEmail,
    NoEmailDomain,
    FreeMailDomain,
    DuplicateCustomer,
    OrphanContact,
    OrphanWorkOrderSite,
    UndocumentedStatus,
    UndocumentedPriority,
    CriticalPriority,
    NameTooLong,
    TitleTooLong,
    #[serde(rename = "date_before_1753")]
    DateBefore1753,
    DateInFuture,
    PostalCodeLeadingZero,
    StateNameNotCode,
    UnicodeText,
    HtmlText,
    CsvSpecialChars,
    InactiveTechnicianOwnsActivities,
    TechnicianWithoutUser,
    AttachmentOverLimit,
    AttachmentPathChars,
    PendingSync,
    MalformedRow,
    UntypeableValue,
}

/// Whether a kind's dirty records belong to a customer or a technician.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Customer,
    Technician,
}

impl DirtKind {
    pub const ALL: [DirtKind; 25] = [
        DirtKind::InvalidEmail,
        DirtKind::NoEmailDomain,
        DirtKind::FreeMailDomain,
        DirtKind::DuplicateCustomer,
        DirtKind::OrphanContact,
        DirtKind::OrphanWorkOrderSite,
        DirtKind::UndocumentedStatus,
        DirtKind::UndocumentedPriority,
        DirtKind::CriticalPriority,
        DirtKind::NameTooLong,
        DirtKind::TitleTooLong,
        DirtKind::DateBefore1753,
        DirtKind::DateInFuture,
        DirtKind::PostalCodeLeadingZero,
        DirtKind::StateNameNotCode,
        DirtKind::UnicodeText,
        DirtKind::HtmlText,
        DirtKind::CsvSpecialChars,
        DirtKind::InactiveTechnicianOwnsActivities,
        DirtKind::TechnicianWithoutUser,
        DirtKind::AttachmentOverLimit,
        DirtKind::AttachmentPathChars,
        DirtKind::PendingSync,
        DirtKind::MalformedRow,
        DirtKind::UntypeableValue,
    ];

    /// The name used in `dirt.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            DirtKind::InvalidEmail => "invalid_email",
            DirtKind::NoEmailDomain => "no_email_domain",
            DirtKind::FreeMailDomain => "free_mail_domain",
            DirtKind::DuplicateCustomer => "duplicate_customer",
            DirtKind::OrphanContact => "orphan_contact",
            DirtKind::OrphanWorkOrderSite => "orphan_work_order_site",
            DirtKind::UndocumentedStatus => "undocumented_status",
            DirtKind::UndocumentedPriority => "undocumented_priority",
            DirtKind::CriticalPriority => "critical_priority",
            DirtKind::NameTooLong => "name_too_long",
            DirtKind::TitleTooLong => "title_too_long",
            DirtKind::DateBefore1753 => "date_before_1753",
            DirtKind::DateInFuture => "date_in_future",
            DirtKind::PostalCodeLeadingZero => "postal_code_leading_zero",
            DirtKind::StateNameNotCode => "state_name_not_code",
            DirtKind::UnicodeText => "unicode_text",
            DirtKind::HtmlText => "html_text",
            DirtKind::CsvSpecialChars => "csv_special_chars",
            DirtKind::InactiveTechnicianOwnsActivities => "inactive_technician_owns_activities",
            DirtKind::TechnicianWithoutUser => "technician_without_user",
            DirtKind::AttachmentOverLimit => "attachment_over_limit",
            DirtKind::AttachmentPathChars => "attachment_path_chars",
            DirtKind::PendingSync => "pending_sync",
            DirtKind::MalformedRow => "malformed_row",
            DirtKind::UntypeableValue => "untypeable_value",
        }
    }

    /// Which pipeline stages must notice this kind: `inventory`, `check`
    /// (a validation finding), `landed_intact` (must arrive byte for byte),
    /// `quarantine` (the extractor rejects the row) or `pending_sync` (the
    /// extractor refuses to start).
    pub fn caught_by(self) -> &'static [&'static str] {
        use DirtKind::*;
        match self {
            InvalidEmail | NoEmailDomain | FreeMailDomain | OrphanContact | OrphanWorkOrderSite
            | UndocumentedStatus | UndocumentedPriority | CriticalPriority | DateBefore1753
            | DateInFuture | StateNameNotCode => &["inventory", "check"],
            DuplicateCustomer
            | NameTooLong
            | TitleTooLong
            | InactiveTechnicianOwnsActivities
            | TechnicianWithoutUser
            | AttachmentOverLimit
            | AttachmentPathChars => &["check"],
            PostalCodeLeadingZero | UnicodeText | CsvSpecialChars => &["landed_intact"],
            HtmlText => &["inventory", "landed_intact"],
            PendingSync => &["pending_sync"],
            MalformedRow | UntypeableValue => &["quarantine"],
        }
    }

    pub fn scope(self) -> Scope {
        match self {
            DirtKind::InactiveTechnicianOwnsActivities | DirtKind::TechnicianWithoutUser => {
                Scope::Technician
            }
            _ => Scope::Customer,
        }
    }

    /// Share of customers that carry this kind.
    fn rate(self) -> f64 {
        use DirtKind::*;
        match self {
            FreeMailDomain | UnicodeText => 0.005,
            InvalidEmail
            | UndocumentedStatus
            | PostalCodeLeadingZero
            | CsvSpecialChars
            | PendingSync => 0.004,
            NoEmailDomain | DuplicateCustomer | OrphanContact | CriticalPriority | TitleTooLong
            | DateInFuture | StateNameNotCode | HtmlText | AttachmentPathChars | MalformedRow
            | UntypeableValue => 0.003,
            OrphanWorkOrderSite
            | UndocumentedPriority
            | NameTooLong
            | DateBefore1753
            | InactiveTechnicianOwnsActivities
            | TechnicianWithoutUser => 0.002,
            // Oversized files cost 4–6 MB each, so they are rarer.
            AttachmentOverLimit => 1.0 / 20_000.0,
        }
    }

    /// The fewest records of this kind: one per variant where a kind has
    /// variants a test must see (the malformed and untypeable rows live in
    /// three different objects).
    fn minimum(self) -> u64 {
        match self {
            DirtKind::MalformedRow | DirtKind::UntypeableValue => 3,
            _ => 1,
        }
    }

    /// How many records of this kind an export of `customers` customers has.
    pub fn planned_count(self, customers: u64) -> u64 {
        let by_rate = if self == DirtKind::AttachmentOverLimit {
            customers / 20_000
        } else {
            (self.rate() * customers as f64).round() as u64
        };
        by_rate.max(self.minimum())
    }
}

impl std::fmt::Display for DirtKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `dirt.json`: the ground truth of an export's dirt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirtFile {
    pub seed: u64,
    pub customers: u64,
    pub clean: bool,
    pub timezone: String,
    pub dirt: Vec<DirtEntry>,
}

/// The records of one dirt kind in one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirtEntry {
    pub kind: DirtKind,
    pub object: String,
    /// The dirty field; `null` for `malformed_row`, where the whole row is.
    pub field: Option<String>,
    /// `ids.len()`.
    pub count: u64,
    /// Ids of the dirty records (technician ids for technician kinds), sorted.
    pub ids: Vec<String>,
    pub caught_by: Vec<String>,
    /// Id → the exact value written in `field` (for `malformed_row`: the raw
    /// line without its line break).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expected: BTreeMap<String, String>,
    /// Id → 1-based physical line the record starts on in `<object>.csv`
    /// (header = line 1).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lines: BTreeMap<String, u64>,
    /// `[duplicate id, original id]` for `duplicate_customer`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<[String; 2]>,
    /// Related records by object, e.g. `activities` owned by an inactive
    /// technician.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub related: BTreeMap<String, Vec<String>>,
}

impl DirtFile {
    pub const FILE_NAME: &'static str = "dirt.json";

    pub fn read(path: impl AsRef<Path>) -> Result<DirtFile> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).at(path)?;
        serde_json::from_str(&text).map_err(|e| {
            Error::input(
                path,
                format!("not a dirt.json file: {e}"),
                "regenerate the export with `ferry generate`",
            )
        })
    }

    /// The entries of one kind (one per object it touches).
    pub fn entries(&self, kind: DirtKind) -> impl Iterator<Item = &DirtEntry> {
        self.dirt.iter().filter(move |e| e.kind == kind)
    }

    /// All dirty ids of one kind, across objects.
    pub fn ids(&self, kind: DirtKind) -> Vec<&str> {
        self.entries(kind)
            .flat_map(|e| e.ids.iter().map(String::as_str))
            .collect()
    }
}

/// Which dirt a customer or technician carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    pub kind: DirtKind,
    /// Rank among the records of this kind, in file order: picks the variant
    /// (which invalid e-mail form, which object a malformed row is in...).
    pub variant: u64,
    /// For `duplicate_customer`: the index of the earlier customer whose name
    /// and phone this one repeats.
    pub original: Option<u64>,
}

/// The dirty customers and technicians, chosen before generation.
#[derive(Debug, Default)]
pub struct DirtPlan {
    customers: HashMap<u64, Assignment>,
    technicians: HashMap<u64, Assignment>,
}

/// Customers that must be set aside for `customers` customers: each dirty
/// customer plus the original of each duplicate.
fn reserved_customers(customers: u64) -> u64 {
    DirtKind::ALL
        .iter()
        .filter(|k| k.scope() == Scope::Customer)
        .map(|k| k.planned_count(customers))
        .sum::<u64>()
        + DirtKind::DuplicateCustomer.planned_count(customers)
}

fn reserved_technicians(customers: u64) -> u64 {
    DirtKind::ALL
        .iter()
        .filter(|k| k.scope() == Scope::Technician)
        .map(|k| k.planned_count(customers))
        .sum()
}

/// Whether a dirty export of `customers` customers leaves at least half of
/// its customers and technicians clean: every kind gets its own records and
/// the clean majority stays a realistic baseline.
fn fits(customers: u64) -> bool {
    2 * reserved_customers(customers) <= customers
        && 2 * reserved_technicians(customers) <= super::technician_count(customers)
}

/// The smallest `--customers` a dirty export accepts.
pub fn minimum_customers() -> u64 {
    (1..).find(|&n| fits(n)).unwrap_or(u64::MAX)
}

impl DirtPlan {
    /// No dirt at all (`--clean`).
    pub fn none() -> DirtPlan {
        DirtPlan::default()
    }

    /// Chooses disjoint dirty customers and technicians with `rng`.
    pub fn choose(rng: &mut impl Rng, customers: u64, technicians: u64) -> Result<DirtPlan> {
        if !fits(customers) {
            let minimum = minimum_customers();
            return Err(Error::Usage(format!(
                "--customers {customers} is too small for a dirty export: each of the {} kinds of dirt \
                 needs customers of its own, which takes at least {minimum} customers; use \
                 --customers {minimum} or more, or --clean for an export without dirt",
                DirtKind::ALL.len()
            )));
        }
        let mut plan = DirtPlan::default();

        let needed = reserved_customers(customers) as usize;
        let mut picked = rand::seq::index::sample(rng, customers as usize, needed).into_iter();
        for kind in DirtKind::ALL
            .iter()
            .filter(|k| k.scope() == Scope::Customer)
        {
            let count = kind.planned_count(customers) as usize;
            // (dirty customer, original customer) per record.
            let mut targets: Vec<(u64, Option<u64>)> = Vec::with_capacity(count);
            for _ in 0..count {
                let a = picked.next().unwrap_or_default() as u64;
                if *kind == DirtKind::DuplicateCustomer {
                    // The duplicate repeats an EARLIER customer.
                    let b = picked.next().unwrap_or_default() as u64;
                    targets.push((a.max(b), Some(a.min(b))));
                } else {
                    targets.push((a, None));
                }
            }
            targets.sort_unstable();
            for (variant, (customer, original)) in targets.into_iter().enumerate() {
                plan.customers.insert(
                    customer,
                    Assignment {
                        kind: *kind,
                        variant: variant as u64,
                        original,
                    },
                );
            }
        }

        let needed = reserved_technicians(customers) as usize;
        let mut picked = rand::seq::index::sample(rng, technicians as usize, needed).into_iter();
        for kind in DirtKind::ALL
            .iter()
            .filter(|k| k.scope() == Scope::Technician)
        {
            let mut targets: Vec<u64> = (0..kind.planned_count(customers))
                .map(|_| picked.next().unwrap_or_default() as u64)
                .collect();
            targets.sort_unstable();
            for (variant, technician) in targets.into_iter().enumerate() {
                plan.technicians.insert(
                    technician,
                    Assignment {
                        kind: *kind,
                        variant: variant as u64,
                        original: None,
                    },
                );
            }
        }
        Ok(plan)
    }

    /// The dirt of the customer at 0-based `index`, if any.
    pub fn customer(&self, index: u64) -> Option<Assignment> {
        self.customers.get(&index).copied()
    }

    /// The dirt of the technician at 0-based `index`, if any.
    pub fn technician(&self, index: u64) -> Option<Assignment> {
        self.technicians.get(&index).copied()
    }
}

/// Collects dirt entries while the export is written.
#[derive(Debug, Default)]
pub struct DirtLedger {
    entries: BTreeMap<(DirtKind, &'static str), DirtEntry>,
}

impl DirtLedger {
    /// Records that record `id` of `object` carries `kind` in `field`;
    /// returns the entry so expected values, lines and pairs can be added.
    pub fn record(
        &mut self,
        kind: DirtKind,
        object: &'static str,
        field: Option<&str>,
        id: &str,
    ) -> &mut DirtEntry {
        let entry = self
            .entries
            .entry((kind, object))
            .or_insert_with(|| DirtEntry {
                kind,
                object: object.to_string(),
                field: field.map(str::to_string),
                count: 0,
                ids: Vec::new(),
                caught_by: kind.caught_by().iter().map(|s| s.to_string()).collect(),
                expected: BTreeMap::new(),
                lines: BTreeMap::new(),
                pairs: Vec::new(),
                related: BTreeMap::new(),
            });
        entry.ids.push(id.to_string());
        entry
    }

    /// Records `kind` with the exact value written.
    pub fn record_value(
        &mut self,
        kind: DirtKind,
        object: &'static str,
        field: &str,
        id: &str,
        value: &str,
    ) -> &mut DirtEntry {
        let entry = self.record(kind, object, Some(field), id);
        entry.expected.insert(id.to_string(), value.to_string());
        entry
    }

    /// The finished entries: ids sorted, counts set, in kind order.
    pub fn finish(self) -> Vec<DirtEntry> {
        self.entries
            .into_values()
            .map(|mut e| {
                e.ids.sort();
                e.pairs.sort();
                for ids in e.related.values_mut() {
                    ids.sort();
                }
                e.count = e.ids.len() as u64;
                e
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn names_round_trip_through_serde() {
        for kind in DirtKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<DirtKind>(&json).unwrap(), kind);
        }
    }

    #[test]
    fn counts_follow_rates_with_minimums() {
        assert_eq!(DirtKind::InvalidEmail.planned_count(1000), 4);
        assert_eq!(DirtKind::NameTooLong.planned_count(100), 1);
        assert_eq!(DirtKind::MalformedRow.planned_count(100), 3);
        assert_eq!(DirtKind::AttachmentOverLimit.planned_count(1000), 1);
        assert_eq!(DirtKind::AttachmentOverLimit.planned_count(100_000), 5);
        for kind in DirtKind::ALL {
            let at_1000 = kind.planned_count(1000);
            assert!(at_1000 <= 5, "{kind}: {at_1000}");
        }
    }

    #[test]
    fn plans_are_disjoint_and_duplicates_point_backwards() {
        let customers = 1000;
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let plan = DirtPlan::choose(
            &mut rng,
            customers,
            super::super::technician_count(customers),
        )
        .unwrap();
        // One assignment per customer by construction of the map; count them.
        for kind in DirtKind::ALL {
            let n = match kind.scope() {
                Scope::Customer => plan.customers.values().filter(|a| a.kind == kind).count(),
                Scope::Technician => plan.technicians.values().filter(|a| a.kind == kind).count(),
            };
            assert_eq!(n as u64, kind.planned_count(customers), "{kind}");
        }
        for (dup, a) in plan
            .customers
            .iter()
            .filter(|(_, a)| a.kind == DirtKind::DuplicateCustomer)
        {
            let original = a.original.unwrap();
            assert!(original < *dup);
            assert!(plan.customer(original).is_none(), "originals stay clean");
        }
    }

    #[test]
    fn too_few_customers_is_a_usage_error_naming_the_minimum() {
        let minimum = minimum_customers();
        assert!(minimum > 20 && minimum < 200, "{minimum}");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let err = DirtPlan::choose(&mut rng, minimum - 1, 5).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&minimum.to_string()) && text.contains("--clean"),
            "{text}"
        );
        assert!(
            DirtPlan::choose(&mut rng, minimum, super::super::technician_count(minimum)).is_ok()
        );
    }
}
