//! The proposal as a self-contained HTML page rendered with the workspace's
//! templates.

use super::*;

/// The proposal as a self-contained HTML page (inline CSS, no scripts),
/// every value escaped by the template engine; the workspace's own
/// `templates/` override the built-in ones, as for every report.
pub fn render_html(proposal: &Proposal, workspace_root: &std::path::Path) -> String {
    crate::templates::Templates::for_workspace(workspace_root)
        .and_then(|templates| templates.render(TEMPLATE_NAME, context(proposal)))
        .unwrap_or_else(|e| {
            // Should a template ever fail, the page still says so instead of
            // the command crashing.
            format!(
                "<!DOCTYPE html><html><body><p>The mapping proposal could not be rendered: {}</p></body></html>",
                escape_html(&e.to_string())
            )
        })
}

pub(super) fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Serialize)]
pub(super) struct ObjectView<'a> {
    pub(super) object: &'a ObjectProposal,
    pub(super) options: Vec<&'a OptionProposal>,
    pub(super) custom: Vec<&'a FieldProposal>,
    pub(super) counts: BTreeMap<&'static str, usize>,
}

pub(super) fn context(proposal: &Proposal) -> minijinja::Value {
    let objects: Vec<ObjectView> = proposal
        .objects
        .iter()
        .map(|o| {
            let mut counts: BTreeMap<&'static str, usize> = [
                Status::Confirmed,
                Status::Proposed,
                Status::Custom,
                Status::NeedsDecision,
            ]
            .iter()
            .map(|s| (s.as_str(), 0))
            .collect();
            for f in &o.fields {
                *counts.entry(f.status.as_str()).or_insert(0) += 1;
            }
            ObjectView {
                object: o,
                options: proposal
                    .options
                    .iter()
                    .filter(|p| p.object == o.object)
                    .collect(),
                custom: o
                    .fields
                    .iter()
                    .filter(|f| f.custom_column.is_some())
                    .collect(),
                counts,
            }
        })
        .collect();
    let (field_counts, option_counts) = proposal.counts();
    let count = |m: &BTreeMap<Status, usize>, s: Status| m.get(&s).copied().unwrap_or(0);
    let decisions_fields: Vec<&FieldProposal> = proposal
        .fields()
        .filter(|f| f.status == Status::NeedsDecision)
        .collect();
    let decisions_options: Vec<&OptionProposal> = proposal
        .options
        .iter()
        .filter(|o| o.status == Status::NeedsDecision)
        .collect();
    let new_options: Vec<&OptionProposal> = proposal
        .options
        .iter()
        .filter(|o| o.new_option && o.status != Status::Confirmed)
        .collect();
    minijinja::context! {
        header => minijinja::context! {
            report => "Mapping proposal",
            workspace => proposal.workspace.clone(),
            generated_at => chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            ferry_version => env!("CARGO_PKG_VERSION"),
            sql_file => "meta.inventory_* and the target schema",
        },
        proposal => proposal,
        objects => objects,
        totals => minijinja::context! {
            fields => proposal.fields().count(),
            confirmed => count(&field_counts, Status::Confirmed),
            proposed => count(&field_counts, Status::Proposed),
            custom => count(&field_counts, Status::Custom),
            field_decisions => count(&field_counts, Status::NeedsDecision),
            options => proposal.options.len(),
            options_confirmed => count(&option_counts, Status::Confirmed),
            options_proposed => count(&option_counts, Status::Proposed),
            option_decisions => count(&option_counts, Status::NeedsDecision),
        },
        decisions_fields => decisions_fields,
        decisions_options => decisions_options,
        new_options => new_options,
    }
}
