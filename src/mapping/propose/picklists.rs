//! Picklist values: each source value matched to an option of its target
//! column by label (equal, synonym, edit distance), undocumented values left
//! for a person's decision, and new options placed in the publisher's range.

use super::*;

/// Normalises a label for comparison: lower case, words separated by one
/// space.
pub(super) fn norm_label(s: &str) -> String {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Match {
    Exact,
    ScopedSynonym,
    Synonym,
    Similar(f64),
}

impl Match {
    pub(super) fn score(self) -> f64 {
        match self {
            Match::Exact => 1.0,
            Match::ScopedSynonym => 0.85,
            Match::Synonym => 0.8,
            Match::Similar(s) => s,
        }
    }

    pub(super) fn confidence(self) -> f64 {
        match self {
            Match::Exact => 0.95,
            Match::ScopedSynonym => 0.85,
            Match::Synonym => 0.8,
            Match::Similar(s) => s * 0.9,
        }
    }
}

/// How a source value compares to an option label on `table.column`.
pub(super) fn compare_label(value: &str, label: &str, scope: &str) -> Match {
    let v = norm_label(value);
    // An existing translation's label may explain itself in parentheses.
    let l = norm_label(label.split(" (").next().unwrap_or(label));
    if v == l || v.replace(' ', "") == l.replace(' ', "") {
        return Match::Exact;
    }
    for (s, from, to) in synonyms::OPTION_SYNONYMS {
        if norm_label(from) == v && norm_label(to) == l {
            if *s == scope {
                return Match::ScopedSynonym;
            }
            if *s == "*" {
                return Match::Synonym;
            }
        }
    }
    let vw: BTreeSet<&str> = v.split(' ').collect();
    let lw: BTreeSet<&str> = l.split(' ').collect();
    let jaccard = vw.intersection(&lw).count() as f64 / vw.union(&lw).count().max(1) as f64;
    Match::Similar(
        similarity(&v.replace(' ', ""), &l.replace(' ', ""))
            .max(jaccard)
            .min(0.94),
    )
}

/// A value is a new tier when its words say so: a documented priority
/// `Critical` above Dataverse's `High` is a real level the target must gain.
pub(super) const TIER_WORDS: &[&str] = &[
    "critical",
    "urgent",
    "emergency",
    "highest",
    "lowest",
    "severe",
    "blocker",
    "major",
    "minor",
    "trivial",
    "platinum",
    "gold",
    "silver",
    "bronze",
    "premium",
    "vip",
];

pub(super) fn is_tier(value: &str) -> bool {
    norm_label(value)
        .split(' ')
        .any(|w| TIER_WORDS.contains(&w))
}

pub(super) type TranslationKey = (String, String, String, String, String);

/// What was chosen for each value's status, per (table, value): a state
/// follows from it.
pub(super) type StatusChoices = HashMap<(String, String), (Option<i32>, f64, Status)>;

/// Proposes option translations, remembering the option values already
/// used per target column so new ones never collide.
pub(super) struct OptionPlanner<'a> {
    pub(super) schema: &'a Schema,
    pub(super) existing: &'a [OptionTranslation],
    pub(super) by_key: HashMap<TranslationKey, &'a OptionTranslation>,
    pub(super) used: HashMap<(String, String), BTreeSet<i32>>,
    pub(super) profile: Profile,
    pub(super) prefix: String,
}

impl<'a> OptionPlanner<'a> {
    pub(super) fn new(
        schema: &'a Schema,
        existing: &'a [OptionTranslation],
        profile: Profile,
        prefix: &str,
    ) -> Self {
        let mut by_key = HashMap::new();
        let mut used: HashMap<(String, String), BTreeSet<i32>> = HashMap::new();
        for t in existing {
            by_key.insert(
                (
                    t.source_object.clone(),
                    t.source_field.clone(),
                    t.source_value.clone(),
                    t.target_table.clone(),
                    t.target_column.clone(),
                ),
                t,
            );
            used.entry((t.target_table.clone(), t.target_column.clone()))
                .or_default()
                .insert(t.target_value);
        }
        OptionPlanner {
            schema,
            existing,
            by_key,
            used,
            profile,
            prefix: prefix.to_string(),
        }
    }

    pub(super) fn used_values(&mut self, table: &str, column: &str) -> &mut BTreeSet<i32> {
        let shipped: Vec<i32> = self
            .schema
            .column(table, column)
            .map(|c| c.options.iter().map(|o| o.value).collect())
            .unwrap_or_default();
        let set = self
            .used
            .entry((table.to_string(), column.to_string()))
            .or_default();
        set.extend(shipped);
        set
    }

    /// The next free value in the publisher's range for a column.
    pub(super) fn next_publisher_value(&mut self, table: &str, column: &str) -> i32 {
        let used = self.used_values(table, column);
        let next = used
            .iter()
            .copied()
            .filter(|v| *v >= PUBLISHER_OPTION_VALUE_BASE)
            .max()
            .map_or(PUBLISHER_OPTION_VALUE_BASE, |v| v.saturating_add(1));
        used.insert(next);
        next
    }

    /// The target columns a field's values are translated into.
    pub(super) fn targets(
        &self,
        field: &InventoryField,
        fp: &FieldProposal,
        plan: &ObjectPlan,
    ) -> Vec<(String, String, bool)> {
        let mut targets: Vec<(String, String, bool)> = Vec::new();
        let mut add = |table: String, column: String, custom: bool| {
            if !targets.iter().any(|(t, c, _)| *t == table && *c == column) {
                targets.push((table, column, custom));
            }
        };
        for m in synonyms::BUILTIN.iter().filter(|m| {
            m.optionset
                && m.only.applies(self.profile)
                && m.object == field.object
                && m.field == field.field
        }) {
            add(
                with_prefix(m.table, &self.prefix),
                with_prefix(m.column, &self.prefix),
                false,
            );
        }
        for t in self
            .existing
            .iter()
            .filter(|t| t.source_object == field.object && t.source_field == field.field)
        {
            if plan.tables.contains(&t.target_table) {
                add(t.target_table.clone(), t.target_column.clone(), false);
            }
        }
        if fp.status == Status::Proposed {
            if let Some(column) = &fp.target_column {
                let choice = self
                    .schema
                    .column(&fp.target_table, column)
                    .is_some_and(|c| {
                        matches!(
                            c.column_type,
                            ColumnType::Picklist | ColumnType::Status | ColumnType::Boolean
                        )
                    });
                if choice {
                    add(fp.target_table.clone(), column.clone(), false);
                    // A status brings its state along.
                    if self
                        .schema
                        .column(&fp.target_table, column)
                        .is_some_and(|c| c.column_type == ColumnType::Status)
                        && self.schema.column(&fp.target_table, "statecode").is_some()
                    {
                        add(fp.target_table.clone(), "statecode".to_string(), false);
                    }
                }
            }
        }
        if let Some(custom) = &fp.custom_column {
            if custom.type_name == "Picklist" {
                for table in &plan.tables {
                    add(table.clone(), custom.name.clone(), true);
                }
            }
        }
        // Statuses first: a state follows from the status chosen.
        targets.sort_by_key(|(_, c, _)| c == "statecode");
        targets
    }

    pub(super) fn propose_field(
        &mut self,
        field: &InventoryField,
        fp: &FieldProposal,
        plan: &ObjectPlan,
        inventory: &Inventory,
        out: &mut Vec<OptionProposal>,
    ) {
        let targets = self.targets(field, fp, plan);
        if targets.is_empty() {
            return;
        }
        let values = field_values(field, inventory, self.existing);
        if values.is_empty() {
            return;
        }
        let object = field.object.as_str();
        let name = field.field.as_str();

        // Existing values of every target column are taken before any new
        // one is numbered, so a re-run never reuses a confirmed value.
        for (table, column, _) in &targets {
            self.used_values(table, column);
        }

        let activity_tables: Vec<String> = targets
            .iter()
            .filter(|(_, c, _)| c == ACTIVITY_TYPE_COLUMN)
            .map(|(t, _, _)| t.clone())
            .collect();

        // Custom choice columns number their values alphabetically, so the
        // numbering does not depend on how often each value occurs.
        let mut alphabetical: Vec<&(String, i64, Option<bool>)> = values.iter().collect();
        alphabetical.sort_by(|a, b| a.0.cmp(&b.0));

        let mut status_choice: StatusChoices = HashMap::new();
        for (table, column, custom) in &targets {
            // The activity type is proposed once, across its tables.
            if column == ACTIVITY_TYPE_COLUMN && Some(table) != activity_tables.first() {
                continue;
            }
            let ordered: Vec<&(String, i64, Option<bool>)> = if *custom {
                alphabetical.clone()
            } else {
                values.iter().collect()
            };
            for (value, count, documented) in ordered {
                let proposal_base = OptionProposal {
                    object: object.to_string(),
                    field: name.to_string(),
                    value: value.clone(),
                    count: *count,
                    documented: *documented,
                    target_table: table.clone(),
                    target_column: column.clone(),
                    target_value: None,
                    target_label: String::new(),
                    confidence: 0.0,
                    status: Status::NeedsDecision,
                    reason: String::new(),
                    new_option: false,
                    line: None,
                };
                if column == ACTIVITY_TYPE_COLUMN {
                    self.propose_activity_type(&proposal_base, &activity_tables, out);
                    continue;
                }
                let key = (
                    object.to_string(),
                    name.to_string(),
                    value.clone(),
                    table.clone(),
                    column.clone(),
                );
                let confirmed = self.by_key.get(&key).copied();
                let p = if let Some(t) = confirmed {
                    OptionProposal {
                        target_value: Some(t.target_value),
                        target_label: t.target_label.clone(),
                        confidence: 1.0,
                        status: Status::Confirmed,
                        reason: format!("confirmed in mapping/optionsets.csv line {}", t.line),
                        line: Some(t.line),
                        ..proposal_base
                    }
                } else if *custom {
                    let v = self.next_publisher_value(table, column);
                    OptionProposal {
                        target_value: Some(v),
                        target_label: value.clone(),
                        confidence: 0.85,
                        status: Status::Proposed,
                        reason: format!("a new option of the proposed choice column {column}"),
                        new_option: true,
                        ..proposal_base
                    }
                } else if column == "statecode" {
                    self.derive_state(proposal_base, &status_choice)
                } else {
                    self.match_option(proposal_base)
                };
                let schema = self.schema;
                if schema
                    .column(table, column)
                    .is_some_and(|c| c.column_type == ColumnType::Status)
                {
                    status_choice.insert(
                        (table.clone(), value.clone()),
                        (p.target_value, p.confidence, p.status),
                    );
                }
                out.push(p);
            }
        }
    }

    /// The statecode a value gets is the state its statuscode belongs to.
    pub(super) fn derive_state(
        &mut self,
        base: OptionProposal,
        status_choice: &StatusChoices,
    ) -> OptionProposal {
        let schema = self.schema;
        let table = base.target_table.clone();
        let chosen = status_choice.get(&(table.clone(), base.value.clone()));
        if let Some((Some(status), confidence, status_status)) = chosen {
            let state = schema
                .column(&table, "statuscode")
                .and_then(|c| c.option(*status))
                .and_then(|o| o.state);
            if let Some(state) = state {
                let label = schema
                    .column(&table, "statecode")
                    .and_then(|c| c.option(state))
                    .map(|o| o.label.clone())
                    .unwrap_or_default();
                return OptionProposal {
                    target_value: Some(state),
                    target_label: label,
                    confidence: if *status_status == Status::Confirmed {
                        0.95
                    } else {
                        *confidence
                    },
                    status: if *status_status == Status::NeedsDecision {
                        Status::NeedsDecision
                    } else {
                        Status::Proposed
                    },
                    reason: if *status_status == Status::NeedsDecision {
                        format!("needs a decision: follows the status, which needs one (state {state} of the suggested status {status})")
                    } else {
                        format!("the state status {status} belongs to")
                    },
                    ..base
                };
            }
        }
        self.match_option(base)
    }

    /// Matches a value against the column's options and the labels already
    /// translated into it.
    pub(super) fn match_option(&mut self, base: OptionProposal) -> OptionProposal {
        let schema = self.schema;
        let table = base.target_table.clone();
        let column = base.target_column.clone();
        let scope = format!("{table}.{column}");
        let schema_column = schema.column(&table, &column);
        let mut candidates: Vec<(i32, String)> = schema_column
            .map(|c| {
                c.options
                    .iter()
                    .map(|o| (o.value, o.label.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for t in self.existing {
            if t.target_table == table
                && t.target_column == column
                && !candidates.iter().any(|(v, _)| *v == t.target_value)
            {
                candidates.push((t.target_value, t.target_label.clone()));
            }
        }
        let best = candidates
            .iter()
            .map(|(v, l)| (compare_label(&base.value, l, &scope), *v, l))
            .max_by(|a, b| a.0.score().total_cmp(&b.0.score()).then(b.1.cmp(&a.1)));
        let undocumented = base.documented == Some(false);
        if let Some((m, v, label)) = best.as_ref().filter(|(m, _, _)| m.score() >= 0.7) {
            // A value ServiceTracker does not document is dirt or a local
            // invention: whatever it resembles, ferry is not sure of it.
            let doubt = if undocumented && *m != Match::Exact {
                0.5
            } else {
                1.0
            };
            let confidence = round2(m.confidence() * doubt);
            let how = match m {
                Match::Exact => "the same label".to_string(),
                Match::ScopedSynonym | Match::Synonym => {
                    format!("“{}” usually means “{label}”", base.value)
                }
                Match::Similar(_) => "a similar label".to_string(),
            };
            let decide = confidence < DECISION_THRESHOLD || (undocumented && *m != Match::Exact);
            let reason = if decide && undocumented {
                format!(
                    "needs a decision: “{}” is not a documented value; nearest option {label} ({v}), {how}",
                    base.value
                )
            } else if decide {
                format!("needs a decision: nearest option {label} ({v}), {how}")
            } else {
                format!("{how}: {label} ({v})")
            };
            return OptionProposal {
                target_value: Some(*v),
                target_label: label.to_string(),
                confidence,
                status: if decide {
                    Status::NeedsDecision
                } else {
                    Status::Proposed
                },
                reason,
                ..base
            };
        }
        let is_picklist = schema_column.is_some_and(|c| c.column_type == ColumnType::Picklist);
        if base.documented == Some(true) && is_picklist && is_tier(&base.value) {
            let v = self.next_publisher_value(&table, &column);
            return OptionProposal {
                target_value: Some(v),
                target_label: base.value.clone(),
                confidence: 0.7,
                status: Status::Proposed,
                reason: format!(
                    "a documented tier {scope} has no option for: a new option {v} in the publisher range, inserted by `ferry plan --apply`"
                ),
                new_option: true,
                ..base
            };
        }
        let nearest = best
            .filter(|(m, _, _)| m.score() >= 0.3)
            .map(|(_, v, l)| format!("; nearest: {l} ({v})"))
            .unwrap_or_default();
        let choice = schema_column.is_none_or(|c| !c.options.is_empty() || is_picklist);
        let reason = if !choice {
            format!(
                "needs a decision: {scope} takes a {}, not an option: write the value “{}” should get into mapping/optionsets.csv",
                schema_column.map_or("value", |c| c.column_type.as_str()),
                base.value
            )
        } else if candidates.is_empty() {
            format!(
                "needs a decision: {scope} has no options to match “{}” against; add a translation to mapping/optionsets.csv",
                base.value
            )
        } else {
            format!(
                "needs a decision: no option of {scope} resembles “{}”{nearest}; map it to an option{}",
                base.value,
                if is_picklist {
                    format!(", or add one in the publisher range (from {PUBLISHER_OPTION_VALUE_BASE})")
                } else {
                    String::new()
                }
            )
        };
        OptionProposal { reason, ..base }
    }

    /// An activity type picks the activity table: one proposal, on the
    /// table whose type it names.
    pub(super) fn propose_activity_type(
        &mut self,
        base: &OptionProposal,
        tables: &[String],
        out: &mut Vec<OptionProposal>,
    ) {
        let confirmed: Vec<&OptionTranslation> = tables
            .iter()
            .filter_map(|t| {
                self.by_key
                    .get(&(
                        base.object.clone(),
                        base.field.clone(),
                        base.value.clone(),
                        t.clone(),
                        ACTIVITY_TYPE_COLUMN.to_string(),
                    ))
                    .copied()
            })
            .collect();
        if !confirmed.is_empty() {
            for t in confirmed {
                out.push(OptionProposal {
                    target_table: t.target_table.clone(),
                    target_value: Some(t.target_value),
                    target_label: t.target_label.clone(),
                    confidence: 1.0,
                    status: Status::Confirmed,
                    reason: format!("confirmed in mapping/optionsets.csv line {}", t.line),
                    line: Some(t.line),
                    ..base.clone()
                });
            }
            return;
        }
        let best = synonyms::ACTIVITY_TYPES
            .iter()
            .filter(|(t, _, _)| tables.iter().any(|x| x.as_str() == *t))
            .map(|(t, code, label)| {
                (
                    compare_label(&base.value, label, &format!("{t}.{ACTIVITY_TYPE_COLUMN}")),
                    *t,
                    *code,
                    *label,
                )
            })
            .max_by(|a, b| a.0.score().total_cmp(&b.0.score()).then(b.2.cmp(&a.2)));
        match best.filter(|b| b.0.score() >= 0.7) {
            Some((m, table, code, label)) => {
                let doubt = if base.documented == Some(false) && m != Match::Exact { 0.5 } else { 1.0 };
                let confidence = round2(m.confidence() * doubt);
                let decide = confidence < DECISION_THRESHOLD
                    || (base.documented == Some(false) && m != Match::Exact);
                out.push(OptionProposal {
                    target_table: table.to_string(),
                    target_value: Some(code),
                    target_label: label.to_string(),
                    confidence,
                    status: if decide { Status::NeedsDecision } else { Status::Proposed },
                    reason: format!("“{}” is a {label}: the activity becomes a {table} row", base.value),
                    ..base.clone()
                });
            }
            None => out.push(OptionProposal {
                reason: format!(
                    "needs a decision: “{}” names none of the activity tables ({}); until it is mapped, such activities are excluded (unmapped_activity_type)",
                    base.value,
                    tables.join(", ")
                ),
                ..base.clone()
            }),
        }
    }
}

/// A field's values, trimmed and merged, with the values already translated
/// in `mapping/optionsets.csv` that no current record holds: documented
/// values in their documented order first, then by frequency.
pub(super) fn field_values(
    field: &InventoryField,
    inventory: &Inventory,
    existing: &[OptionTranslation],
) -> Vec<(String, i64, Option<bool>)> {
    let mut merged: BTreeMap<String, (i64, Option<bool>)> = BTreeMap::new();
    for v in inventory
        .values
        .iter()
        .filter(|v| v.object == field.object && v.field == field.field)
    {
        let value = v.value.trim();
        // Multi-line values cannot be a line of optionsets.csv; the
        // unmapped-values check still reports their records.
        if value.is_empty() || value.contains(['\n', '\r']) {
            continue;
        }
        let entry = merged.entry(value.to_string()).or_insert((0, v.documented));
        entry.0 += v.count;
        if v.documented == Some(true) {
            entry.1 = Some(true);
        }
    }
    for t in existing
        .iter()
        .filter(|t| t.source_object == field.object && t.source_field == field.field)
    {
        let documented = if field.documented_values.is_empty() {
            None
        } else {
            Some(field.documented_values.contains(&t.source_value))
        };
        merged
            .entry(t.source_value.clone())
            .or_insert((0, documented));
    }
    let position = |v: &str| {
        field
            .documented_values
            .iter()
            .position(|d| d == v)
            .unwrap_or(usize::MAX)
    };
    let mut out: Vec<(String, i64, Option<bool>)> = merged
        .into_iter()
        .map(|(v, (count, documented))| (v, count, documented))
        .collect();
    out.sort_by(|a, b| {
        position(&a.0)
            .cmp(&position(&b.0))
            .then(b.1.cmp(&a.1))
            .then(a.0.cmp(&b.0))
    });
    out
}
