//! Dates as people type them: `2026-12-03`, `today`, `tomorrow`, `next tue`, `fri`, `+7d`.
//!
//! Hand-written rather than a natural-language crate: Duet accepts only these few forms, and
//! a small parser gives precise error messages and no surprises ("next tue" is always the
//! Tuesday after today, never today).

pub use jiff::civil::Date;
use jiff::civil::Weekday;
use jiff::ToSpan;

/// A date or interval the user typed that Duet could not read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cannot read {input:?} as {what}: try {examples}")]
pub struct DateError {
    /// What the user typed.
    pub input: String,
    /// What was expected ("a date", "an interval").
    pub what: &'static str,
    /// Examples of accepted forms.
    pub examples: &'static str,
}

const DATE_EXAMPLES: &str = "2026-12-03, today, tomorrow, next tue, fri, +7d or +2w";
const INTERVAL_EXAMPLES: &str = "7d, 2w or 14";

/// Today's date in the local time zone.
pub fn today() -> Date {
    jiff::Zoned::now().date()
}

/// Parses a date relative to `today`.
pub fn parse_date(input: &str, today: Date) -> Result<Date, DateError> {
    let err = || DateError {
        input: input.to_owned(),
        what: "a date",
        examples: DATE_EXAMPLES,
    };
    let text = input.trim().to_ascii_lowercase();
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["today"] => Ok(today),
        ["tomorrow"] => today.checked_add(1.day()).map_err(|_| err()),
        ["yesterday"] => today.checked_sub(1.day()).map_err(|_| err()),
        ["next", day] => {
            let wd = weekday(day).ok_or_else(err)?;
            today.nth_weekday(1, wd).map_err(|_| err())
        }
        [day] if weekday(day).is_some() => {
            let wd = weekday(day).ok_or_else(err)?;
            if today.weekday() == wd {
                Ok(today)
            } else {
                today.nth_weekday(1, wd).map_err(|_| err())
            }
        }
        [rel] if rel.starts_with('+') => {
            let days = parse_days(&rel[1..]).ok_or_else(err)?;
            today.checked_add(days.days()).map_err(|_| err())
        }
        [iso] => iso.parse::<Date>().map_err(|_| err()),
        _ => Err(err()),
    }
}

/// Parses an interval in days: `7d`, `2w`, or a bare number of days.
pub fn parse_interval_days(input: &str) -> Result<u32, DateError> {
    let err = || DateError {
        input: input.to_owned(),
        what: "an interval",
        examples: INTERVAL_EXAMPLES,
    };
    let days = parse_days(input.trim()).ok_or_else(err)?;
    u32::try_from(days)
        .ok()
        .filter(|d| (1..=366).contains(d))
        .ok_or_else(err)
}

fn parse_days(text: &str) -> Option<i64> {
    let text = text.to_ascii_lowercase();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text.as_str(), "d"),
    };
    let n: i64 = number.parse().ok()?;
    let factor = match unit {
        "d" | "day" | "days" => 1,
        "w" | "wk" | "week" | "weeks" => 7,
        _ => return None,
    };
    n.checked_mul(factor).filter(|d| *d <= 3660)
}

fn weekday(word: &str) -> Option<Weekday> {
    let days = [
        ("mon", Weekday::Monday),
        ("tue", Weekday::Tuesday),
        ("wed", Weekday::Wednesday),
        ("thu", Weekday::Thursday),
        ("fri", Weekday::Friday),
        ("sat", Weekday::Saturday),
        ("sun", Weekday::Sunday),
    ];
    let full = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    if word.len() < 3 {
        return None;
    }
    days.iter()
        .zip(full)
        .find(|((short, _), long)| long.starts_with(word) && word.starts_with(short))
        .map(|((_, wd), _)| *wd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    // 2026-11-27 is a Friday.
    const TODAY: Date = date(2026, 11, 27);

    #[test]
    fn reads_the_forms_people_type() {
        assert_eq!(parse_date("2026-12-03", TODAY), Ok(date(2026, 12, 3)));
        assert_eq!(parse_date("today", TODAY), Ok(TODAY));
        assert_eq!(parse_date("Tomorrow", TODAY), Ok(date(2026, 11, 28)));
        assert_eq!(parse_date("next tue", TODAY), Ok(date(2026, 12, 1)));
        assert_eq!(parse_date("next fri", TODAY), Ok(date(2026, 12, 4)));
        assert_eq!(parse_date("fri", TODAY), Ok(TODAY));
        assert_eq!(parse_date("wednesday", TODAY), Ok(date(2026, 12, 2)));
        assert_eq!(parse_date("+7d", TODAY), Ok(date(2026, 12, 4)));
        assert_eq!(parse_date("+2w", TODAY), Ok(date(2026, 12, 11)));
    }

    #[test]
    fn rejects_what_it_cannot_read_with_examples() {
        for bad in [
            "",
            "soon",
            "2026-13-01",
            "+7x",
            "next",
            "next blursday",
            "+99999d",
        ] {
            let e = parse_date(bad, TODAY).expect_err(bad);
            assert!(e.to_string().contains("next tue"), "{e}");
        }
    }

    #[test]
    fn intervals_in_days_and_weeks() {
        assert_eq!(parse_interval_days("7d"), Ok(7));
        assert_eq!(parse_interval_days("2w"), Ok(14));
        assert_eq!(parse_interval_days("10"), Ok(10));
        assert!(parse_interval_days("0d").is_err());
        assert!(parse_interval_days("fortnight").is_err());
    }
}
