//! The option translations written back to `mapping/optionsets.csv`: new
//! lines appended under comments that say they are proposals, undecided ones
//! commented out, existing lines never changed.

use crate::atomic_write::write_atomically;

use super::*;

/// One CSV record as text (RFC 4180 quoting), without the line end.
pub(super) fn csv_line(fields: &[&str]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer
        .write_record(fields)
        .expect("writing to memory cannot fail");
    let bytes = writer.into_inner().expect("writing to memory cannot fail");
    String::from_utf8(bytes)
        .expect("the fields were UTF-8")
        .trim_end_matches('\n')
        .to_string()
}

/// Text safe for one comment line: no line breaks or control characters.
pub(super) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Appends the new translations of `proposal` to `mapping/optionsets.csv`
/// and returns how many translations it wrote.
///
/// Confirmed lines are never rewritten. Each proposed translation is
/// preceded by a `# proposed …` comment with its confidence and reason, so
/// an analyst sees what ferry added (the label stays the option's own, as
/// `ferry plan` inserts it). Values that need a decision are written
/// commented out, with ferry's suggestion filled in where it has one: they
/// take effect only when a person removes the `#`. A translation whose line
/// is already in the file (commented or not) is not written again, so
/// re-running adds nothing twice.
pub fn write_optionsets(
    path: &Path,
    proposal: &Proposal,
    existing: &[OptionTranslation],
) -> Result<usize> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let present: BTreeSet<String> = text
        .lines()
        .map(|l| l.trim().trim_start_matches('#').trim().to_string())
        .collect();
    let confirmed: BTreeSet<TranslationKey> = existing
        .iter()
        .map(|t| {
            (
                t.source_object.clone(),
                t.source_field.clone(),
                t.source_value.clone(),
                t.target_table.clone(),
                t.target_column.clone(),
            )
        })
        .collect();
    let mut block = String::new();
    let mut last_note = String::new();
    let mut written = 0;
    let mut proposed = 0;
    let mut undecided = 0;
    for o in &proposal.options {
        if o.status == Status::Confirmed {
            continue;
        }
        let key = (
            o.object.clone(),
            o.field.clone(),
            o.value.clone(),
            o.target_table.clone(),
            o.target_column.clone(),
        );
        if confirmed.contains(&key) {
            continue;
        }
        let value = o.target_value.map(|v| v.to_string()).unwrap_or_default();
        let line = csv_line(&[
            &o.object,
            &o.field,
            &o.value,
            &o.target_table,
            &o.target_column,
            &value,
            &o.target_label,
        ]);
        if present.contains(line.trim()) {
            continue;
        }
        let reason = one_line(o.reason.trim_start_matches("needs a decision: "));
        let (note, data) = if o.status == Status::NeedsDecision {
            undecided += 1;
            (
                format!(
                    "# needs a decision (confidence {:.2}): {reason}",
                    o.confidence
                ),
                format!("#{line}"),
            )
        } else {
            proposed += 1;
            (
                format!("# proposed (confidence {:.2}): {reason}", o.confidence),
                line,
            )
        };
        // One note for a run of lines with the same reason (the values of
        // a new choice column), not one per line.
        if note != last_note {
            block.push_str(&note);
            block.push('\n');
            last_note = note;
        }
        block.push_str(&data);
        block.push('\n');
        written += 1;
    }
    if written == 0 {
        return Ok(0);
    }
    let mut out = text;
    if out.is_empty() {
        out.push_str("source_object,source_field,source_value,target_table,target_column,target_value,target_label\n");
    } else if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "# --- `ferry map propose`: {proposed} proposed translation(s), {undecided} needing a decision (commented out). \
         Review each, remove the `# proposed` notes you accept, fill in and uncomment the decisions, then run `ferry map confirm`. ---\n"
    ));
    out.push_str(&block);
    write_atomically(path, &out)?;
    Ok(written)
}
