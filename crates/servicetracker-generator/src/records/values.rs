//! Small value builders shared by the record writers: weighted picks,
//! addresses and phones, instants, money and text padding. Pure functions of
//! the RNG they are given, so they are tested on their own.

use rand::Rng;

use super::{EMPTY_CUSTOM_VALUE, LATEST, LATEST_FUTURE_DATE};
use crate::clock::{Moment, DAY, HOUR};
use crate::names::{self, City, Trade};

/// Lower-case letters and digits only: safe in e-mail local parts and
/// domain names.
pub(super) fn slug(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

pub(super) fn pick<'a, T: ?Sized>(rng: &mut impl Rng, list: &[&'a T]) -> &'a T {
    list[rng.gen_range(0..list.len())]
}

/// `N` different words of `list` (which has more than `N`).
pub(super) fn pick_distinct<const N: usize>(
    rng: &mut impl Rng,
    list: &[&'static str],
) -> [&'static str; N] {
    let picked = rand::seq::index::sample(rng, list.len(), N);
    std::array::from_fn(|i| list[picked.index(i)])
}

/// A value from `(value, weight)` pairs.
pub(super) fn weighted<T: Copy>(rng: &mut impl Rng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen_range(0..total);
    for (value, weight) in choices {
        if roll < *weight {
            return *value;
        }
        roll -= weight;
    }
    choices[choices.len() - 1].0
}

pub(super) fn pick_trade(rng: &mut impl Rng) -> Trade {
    weighted(
        rng,
        &[
            (Trade::Hvac, 50),
            (Trade::Plumbing, 30),
            (Trade::Electrical, 20),
        ],
    )
}

pub(super) fn trade_label(trade: Trade) -> &'static str {
    match trade {
        Trade::Hvac => "HVAC",
        Trade::Plumbing => "Plumbing",
        Trade::Electrical => "Electrical",
    }
}

/// Half the customers are in the Chicago area.
pub(super) fn pick_city(rng: &mut impl Rng) -> City {
    if rng.gen_bool(0.5) {
        names::CITIES[rng.gen_range(0..names::HOME_CITIES)]
    } else {
        names::CITIES[rng.gen_range(0..names::CITIES.len())]
    }
}

pub(super) fn street(rng: &mut impl Rng) -> String {
    format!(
        "{} {}{} {}",
        rng.gen_range(100..10_000),
        pick(rng, names::STREET_DIRECTIONS),
        pick(rng, names::STREET_NAMES),
        pick(rng, names::STREET_SUFFIXES)
    )
}

/// `(312) 555-0142`: the fictional 555 exchange in a real area code.
pub(super) fn phone(rng: &mut impl Rng, area_code: &str) -> String {
    format!("({area_code}) 555-{:04}", rng.gen_range(0..10_000))
}

/// A moment drawn uniformly in `[from, until]` (just `from` if empty).
pub(super) fn between(rng: &mut impl Rng, from: i64, until: i64) -> Moment {
    Moment::at(if until > from {
        rng.gen_range(from..=until)
    } else {
        from
    })
}

/// When a record was last modified: often right after creation, otherwise
/// any time up to the export.
pub(super) fn modified_after(rng: &mut impl Rng, created: Moment) -> Moment {
    if rng.gen_bool(0.4) {
        created.plus(rng.gen_range(0..HOUR))
    } else {
        between(rng, created.unix(), LATEST.min(created.unix() + 400 * DAY))
    }
}

/// A custom-field value, left empty 30% of the time.
pub(super) fn custom<R: Rng>(rng: &mut R, value: impl FnOnce(&mut R) -> String) -> String {
    if rng.gen_bool(EMPTY_CUSTOM_VALUE) {
        String::new()
    } else {
        value(rng)
    }
}

pub(super) fn bool_text(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// Cents as `1234.56`.
pub(super) fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Cents as `1,234.56` (the untypeable form, with a thousands separator).
pub(super) fn thousands(cents: i64) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{:02}", cents % 100)
}

pub(super) fn add_years(date: chrono::NaiveDate, years: u32) -> chrono::NaiveDate {
    date.checked_add_months(chrono::Months::new(12 * years))
        .unwrap_or(date)
}

pub(super) fn cap_future(date: chrono::NaiveDate) -> chrono::NaiveDate {
    let (y, m, d) = LATEST_FUTURE_DATE;
    date.min(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or(date))
}

/// `base` padded with phrases to a length drawn from `range`, cut at that
/// length and trimmed (ASCII only, so bytes are characters).
pub(super) fn long_text(
    rng: &mut impl Rng,
    base: &str,
    phrases: &[&str],
    range: std::ops::RangeInclusive<usize>,
    separator: &str,
) -> String {
    let range_start = range.start();
    let target = rng.gen_range(range.clone());
    let mut text = base.to_string();
    let mut next = rng.gen_range(0..phrases.len());
    while text.len() < target {
        text.push_str(separator);
        text.push_str(phrases[next % phrases.len()]);
        next += 1;
    }
    // Cut at the last word boundary before the target when that stays in
    // range, else mid-word (the range's lower end is 5 below its start).
    let min = *range_start - 5;
    let cut = if text.len() <= target {
        text.len()
    } else {
        text[..=target]
            .rfind(' ')
            .filter(|&at| at > min)
            .unwrap_or(target)
    };
    text.truncate(cut);
    text.trim_end_matches([' ', ',']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{rng_for, Stream};

    #[test]
    fn money_and_thousands() {
        assert_eq!(money(120_000), "1200.00");
        assert_eq!(money(5), "0.05");
        assert_eq!(thousands(120_000), "1,200.00");
        assert_eq!(thousands(123_456_789), "1,234,567.89");
        assert_eq!(thousands(99_950), "999.50");
    }

    #[test]
    fn long_text_lands_in_its_range() {
        let mut rng = rng_for(1, Stream::Plan, 0);
        for _ in 0..200 {
            let t = long_text(
                &mut rng,
                "Harlow Dental LLC",
                names::LONG_NAME_PHRASES,
                175..=250,
                " ",
            );
            assert!((170..=250).contains(&t.len()), "{}", t.len());
            let s = long_text(
                &mut rng,
                "Boiler not heating",
                names::LONG_TITLE_PHRASES,
                215..=300,
                ", ",
            );
            assert!((210..=300).contains(&s.len()), "{}", s.len());
        }
    }

    #[test]
    fn instants_stay_in_order() {
        let mut rng = rng_for(1, Stream::Plan, 1);
        for _ in 0..1000 {
            let created = between(&mut rng, 1_420_070_400, LATEST);
            assert!(modified_after(&mut rng, created) >= created);
        }
    }

    #[test]
    fn phones_and_picks() {
        let mut rng = rng_for(1, Stream::Plan, 2);
        let p = phone(&mut rng, "312");
        assert!(p.starts_with("(312) 555-") && p.len() == 14, "{p}");
        let [a, b, c] = pick_distinct(&mut rng, &["x", "y", "z"]);
        assert!(a != b && b != c && a != c);
        assert_eq!(weighted(&mut rng, &[("only", 1)]), "only");
    }
}
