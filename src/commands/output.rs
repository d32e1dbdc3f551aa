//! How a command prints its result: with `--json`, the result itself as
//! JSON on stdout (for scripts and CI); without, a human rendering of the
//! same value (tables, sentences). Every command ends with one of these
//! calls, so `--json` means the same everywhere and a command's JSON is
//! always the value its text was printed from.

use serde::Serialize;

/// Prints `value` as pretty-printed JSON when `json` is set, else calls
/// `human` to print it for a person.
pub fn emit<T: Serialize + ?Sized>(json: bool, value: &T, human: impl FnOnce(&T)) {
    if json {
        println!("{}", to_json(value, true));
    } else {
        human(value);
    }
}

/// [`emit`] with the JSON on a single line, for the short answers of
/// `init`, `generate` and `map confirm`.
pub fn emit_line<T: Serialize + ?Sized>(json: bool, value: &T, human: impl FnOnce(&T)) {
    if json {
        println!("{}", to_json(value, false));
    } else {
        human(value);
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> String {
    let printed = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    printed.expect("command results serialize to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_and_line_json_print_as_serde_json_does() {
        let value = serde_json::json!({"b": 1, "a": [true, null]});
        assert_eq!(
            to_json(&value, true),
            serde_json::to_string_pretty(&value).unwrap()
        );
        assert_eq!(to_json(&value, false), value.to_string());
    }

    #[test]
    fn the_human_rendering_runs_only_without_json() {
        let mut shown = Vec::new();
        emit(false, &3, |v| shown.push(*v));
        emit(true, &4, |v| shown.push(*v));
        emit_line(false, &5, |v| shown.push(*v));
        assert_eq!(shown, [3, 5]);
    }
}
