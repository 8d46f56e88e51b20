//! Timestamps: one output format, several accepted input formats (DESIGN §2).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// `2025-07-29T12:32:45.000000Z`: UTC, microseconds, as Laravel serialises dates.
/// Fixed width, so the text sorts in time order (SQLite stores it as text).
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A timestamp as Kring writes it (`2019-08-24T14:15:22.123456Z`) with `digits` fractional
/// digits instead of six (`0` drops the fraction); `None` for any other text. Cutting digits
/// never changes the second, so the order of timestamps is kept.
pub fn with_precision(text: &str, digits: usize) -> Option<String> {
    let bytes = text.as_bytes();
    let shape = bytes.len() == 27
        && bytes.get(10) == Some(&b'T')
        && bytes.get(19) == Some(&b'.')
        && bytes.get(26) == Some(&b'Z')
        && text
            .get(20..26)
            .is_some_and(|f| f.bytes().all(|b| b.is_ascii_digit()));
    if !shape || digits >= 6 || parse_timestamp(text).is_none() {
        return None;
    }
    let seconds = text.get(..19)?;
    let fraction = text.get(20..20 + digits)?;
    Some(match digits {
        0 => format!("{seconds}Z"),
        _ => format!("{seconds}.{fraction}Z"),
    })
}

pub fn format_date(d: &NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Reads ISO-8601 with or without fraction and offset, `YYYY-MM-DD HH:MM:SS`, and a bare date
/// (midnight UTC). Returns `None` for anything else, never panics.
pub fn parse_timestamp(input: &str) -> Option<DateTime<Utc>> {
    read_timestamp(input).filter(|t| has_four_digit_year(t.year()))
}

/// chrono also reads signed and five-digit years (`+10000-01-01`, `-0001-01-01`, or a year 0
/// moved back by its offset). Kring's formats cannot write those in four digits: the text
/// would no longer sort in time order, and SQLite would hand back a timestamp that does not
/// parse again, so the value would read as null.
fn has_four_digit_year(year: i32) -> bool {
    (0..=9999).contains(&year)
}

fn read_timestamp(input: &str) -> Option<DateTime<Utc>> {
    let s = input.trim();
    if s.len() > 64 {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(truncate_to_micros(t.with_timezone(&Utc)));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, format) {
            return Some(truncate_to_micros(naive.and_utc()));
        }
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z") {
        return Some(truncate_to_micros(t.with_timezone(&Utc)));
    }
    parse_date(s)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc())
}

pub fn parse_date(input: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| has_four_digit_year(d.year()))
}

/// Both databases keep microseconds; dropping finer digits up front keeps what a client sent,
/// what the response echoes and what a later read returns identical.
fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike;
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1000).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_input_forms() {
        let expect = "2019-08-24T14:15:22.123000Z";
        for input in [
            "2019-08-24T14:15:22.123Z",
            "2019-08-24T16:15:22.123+02:00",
            "2019-08-24 14:15:22.123",
            "2019-08-24T14:15:22.123",
        ] {
            let parsed = parse_timestamp(input).map(|t| format_timestamp(&t));
            assert_eq!(parsed.as_deref(), Some(expect), "{input}");
        }
        let date_only = parse_timestamp("2019-08-24").map(|t| format_timestamp(&t));
        assert_eq!(date_only.as_deref(), Some("2019-08-24T00:00:00.000000Z"));
        let no_fraction = parse_timestamp("2019-08-24 14:15:22").map(|t| format_timestamp(&t));
        assert_eq!(no_fraction.as_deref(), Some("2019-08-24T14:15:22.000000Z"));
    }

    #[test]
    fn rejects_garbage() {
        for input in [
            "",
            "tomorrow",
            "2019-13-01",
            "2019-02-30",
            "2019-08-24T25:00:00Z",
            "١٢",
        ] {
            assert!(parse_timestamp(input).is_none(), "{input}");
        }
    }

    /// Found by `proptests::parsed_timestamps_print_fixed_width_and_read_back`.
    #[test]
    fn refuses_years_that_four_digits_cannot_hold() {
        for input in [
            "+10000-01-01",
            "-0001-01-01",
            "-0001-01-01 00:00:00",
            "0000-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
        ] {
            assert_eq!(parse_timestamp(input), None, "{input}");
            assert_eq!(parse_date(input), None, "{input}");
        }
        let first = parse_timestamp("0000-01-01T00:00:00Z").map(|t| format_timestamp(&t));
        assert_eq!(first.as_deref(), Some("0000-01-01T00:00:00.000000Z"));
        let last = parse_date("9999-12-31").map(|d| format_date(&d));
        assert_eq!(last.as_deref(), Some("9999-12-31"));
    }

    #[test]
    fn drops_sub_microsecond_digits() {
        let t = parse_timestamp("2019-08-24T14:15:22.123456789Z").map(|t| format_timestamp(&t));
        assert_eq!(t.as_deref(), Some("2019-08-24T14:15:22.123456Z"));
    }
}

#[cfg(test)]
mod precision_tests {
    use super::*;

    #[test]
    fn timestamps_are_cut_to_the_precision_asked() {
        let t = "2019-08-24T14:15:22.123456Z";
        assert_eq!(
            with_precision(t, 3).as_deref(),
            Some("2019-08-24T14:15:22.123Z")
        );
        assert_eq!(
            with_precision(t, 0).as_deref(),
            Some("2019-08-24T14:15:22Z")
        );
        assert_eq!(with_precision(t, 6), None, "already so");
        assert_eq!(with_precision("2019-08-24T14:15:22.12345Z", 3), None);
        assert_eq!(with_precision("2019-08-24", 3), None);
        assert_eq!(
            with_precision("2019-13-24T14:15:22.123456Z", 3),
            None,
            "not a date"
        );
        assert_eq!(with_precision("hello world, this is 27 chr", 3), None);
    }
}
