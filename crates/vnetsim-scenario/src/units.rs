//! Units of the scenario file: durations (`500ns`, `40us`, `2ms`, `1.5s`, `0`) and rates
//! (`10Gbps`, `200Mbps`, `64kbps`, `50000pps`, `1.5Gbps`).
//!
//! What it is for: exact parsing of these strings into integers (nanoseconds, bits or packets per
//! second) with decimal arithmetic, so `1.5s` is exactly 1 500 000 000 ns. What it is not: it
//! knows nothing of positions; the loader wraps its errors in diagnostics with line and column.

use crate::model::{Nanos, Rate};

/// The longest duration a scenario may state: 365 days. With every duration under it, no sum a
/// run makes (a flow's start plus its length, a packet's hops' latencies and jitter) can reach
/// the 584 years a `u64` of nanoseconds holds.
pub const MAX_DURATION: Nanos = 365 * 24 * 3600 * 1_000_000_000;
/// The time `by` after `at`. Every time sum of a run goes through it: with durations bounded by
/// [`MAX_DURATION`] no sum comes near the limit, and should one ever reach it, it stops at
/// `Nanos::MAX` (a time no run reaches, so what is due then never happens) instead of wrapping
/// to an earlier time.
#[inline]
pub const fn after(at: Nanos, by: Nanos) -> Nanos {
    at.saturating_add(by)
}

/// The fastest bit rate a scenario may state: 100 Tbps.
pub const MAX_BITS_PER_SECOND: u64 = 100_000_000_000_000;
/// The fastest packet rate a scenario may state: 10 G packets per second.
pub const MAX_PACKETS_PER_SECOND: u64 = 10_000_000_000;

/// Refuses what a unit string can get wrong before its digits are read: a sign and an exponent.
fn check_notation(text: &str, what: &str) -> Result<(), String> {
    if text.starts_with('-') {
        return Err(format!("`{text}`: a {what} cannot be negative"));
    }
    if text.starts_with('+') {
        return Err(format!("`{text}`: write the {what} without a sign"));
    }
    let (num, unit) = split_number(text);
    let mut rest = unit.chars();
    if !num.is_empty()
        && matches!(rest.next(), Some('e' | 'E'))
        && matches!(rest.next(), Some('0'..='9' | '+' | '-'))
    {
        return Err(format!(
            "`{text}`: write the number in plain decimal digits, without an exponent"
        ));
    }
    Ok(())
}

/// Splits `s` into its leading decimal number and the unit after it.
fn split_number(s: &str) -> (&str, &str) {
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map_or(s.len(), |(i, _)| i);
    (&s[..end], s[end..].trim_start())
}

/// Multiplies the decimal number `num` (digits with at most one `.`) by `scale`, exactly.
/// Fails when the number is malformed, the result has a fraction or does not fit in `u64`.
fn scaled(num: &str, scale: u64) -> Result<u64, String> {
    if num.is_empty() {
        return Err("a number is missing".into());
    }
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(format!("`{num}` is not a number"));
    }
    let int_val: u128 = if int.is_empty() {
        0
    } else {
        int.parse::<u128>()
            .map_err(|_| format!("`{num}` is too large"))?
    };
    let frac = frac.trim_end_matches('0');
    if frac.len() > 30 {
        return Err(format!("`{num}` has too many decimals"));
    }
    let frac_val: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<u128>()
            .map_err(|_| format!("`{num}` is not a number"))?
    };
    let denom = 10u128.pow(frac.len() as u32);
    let total = int_val
        .checked_mul(u128::from(scale))
        .and_then(|v| frac_val.checked_mul(u128::from(scale)).map(|f| (v, f)))
        .ok_or_else(|| format!("`{num}` is too large"))?;
    if total.1 % denom != 0 {
        return Err(format!("`{num}` is finer than the unit allows"));
    }
    let value = total
        .0
        .checked_add(total.1 / denom)
        .filter(|v| *v <= u128::from(u64::MAX))
        .ok_or_else(|| format!("`{num}` is too large"))?;
    Ok(value as u64)
}

/// Parses a duration into nanoseconds: a number and one of `ns`, `us` (or `µs`), `ms`, `s`;
/// `0` alone is accepted.
pub fn parse_duration(text: &str) -> Result<Nanos, String> {
    let s = text.trim();
    check_notation(s, "duration")?;
    let (num, unit) = split_number(s);
    let scale = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "" if !num.is_empty() && num.chars().all(|c| c == '0' || c == '.') => 1,
        "" => {
            return Err(format!(
                "`{text}` has no unit; write a duration such as `500ns`, `40us`, `2ms` or `1.5s`"
            ));
        }
        other => {
            return Err(format!(
                "`{other}` is not a duration unit (ns, us, ms, s) in `{text}`"
            ));
        }
    };
    let ns = scaled(num, scale).map_err(|e| format!("bad duration `{text}`: {e}"))?;
    if ns > MAX_DURATION {
        return Err(format!(
            "duration `{text}` is longer than the limit of 365 days (31536000s)"
        ));
    }
    Ok(ns)
}

/// Parses a rate: a number and one of `bps`, `kbps`, `Mbps`, `Gbps`, `Tbps` (bits per second,
/// decimal prefixes) or `pps`, `kpps`, `Mpps` (packets per second).
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let s = text.trim();
    check_notation(s, "rate")?;
    let (num, unit) = split_number(s);
    let (scale, bits) = match unit {
        "bps" => (1, true),
        "kbps" | "Kbps" => (1_000, true),
        "Mbps" => (1_000_000, true),
        "Gbps" => (1_000_000_000, true),
        "Tbps" => (1_000_000_000_000, true),
        "pps" => (1, false),
        "kpps" | "Kpps" => (1_000, false),
        "Mpps" => (1_000_000, false),
        "" => {
            return Err(format!(
                "`{text}` has no unit; write a rate such as `200Mbps`, `10Gbps` or `50000pps`"
            ));
        }
        other => {
            return Err(format!(
                "`{other}` is not a rate unit (bps, kbps, Mbps, Gbps, Tbps, pps, kpps, Mpps) in `{text}`"
            ));
        }
    };
    let v = scaled(num, scale).map_err(|e| format!("bad rate `{text}`: {e}"))?;
    let limit = if bits {
        (MAX_BITS_PER_SECOND, "100Tbps")
    } else {
        (MAX_PACKETS_PER_SECOND, "10000Mpps")
    };
    if v > limit.0 {
        return Err(format!("rate `{text}` is above the limit of {}", limit.1));
    }
    Ok(if bits {
        Rate::BitsPerSecond(v)
    } else {
        Rate::PacketsPerSecond(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_sums_stop_at_the_end_of_time_instead_of_wrapping() {
        assert_eq!(after(5, 7), 12);
        assert_eq!(after(Nanos::MAX - 1, 2), Nanos::MAX);
        assert_eq!(after(Nanos::MAX, Nanos::MAX), Nanos::MAX);
        // A path of 500 hops, each a year long, still fits; 600 would not, and saturates.
        assert!(after(MAX_DURATION, 500 * MAX_DURATION) < Nanos::MAX);
        let mut t: Nanos = 0;
        for _ in 0..600 {
            t = after(t, MAX_DURATION);
        }
        assert_eq!(t, Nanos::MAX);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ns"), Ok(500));
        assert_eq!(parse_duration("40us"), Ok(40_000));
        assert_eq!(parse_duration("40µs"), Ok(40_000));
        assert_eq!(parse_duration("2ms"), Ok(2_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("0.25ms"), Ok(250_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration(" 3 s "), Ok(3_000_000_000));
    }

    #[test]
    fn bad_durations() {
        for bad in [
            "",
            "s",
            "5",
            "5m",
            "1.5ns",
            "1..5s",
            ".s",
            "-1s",
            "1e3s",
            "99999999999999999999s",
            "5 sec",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
        assert!(
            parse_duration("5m")
                .unwrap_err()
                .contains("not a duration unit")
        );
    }

    #[test]
    fn signs_exponents_and_limits_get_their_own_message() {
        assert_eq!(
            parse_duration("-5s").unwrap_err(),
            "`-5s`: a duration cannot be negative"
        );
        assert!(
            parse_duration("1e400ms")
                .unwrap_err()
                .contains("without an exponent")
        );
        assert!(
            parse_rate("1E9bps")
                .unwrap_err()
                .contains("without an exponent")
        );
        assert!(
            parse_rate("-1Gbps")
                .unwrap_err()
                .contains("cannot be negative")
        );
        assert!(
            parse_duration("18446744073709551615ns")
                .unwrap_err()
                .contains("365 days")
        );
        assert_eq!(parse_duration("365s"), Ok(365_000_000_000));
        assert_eq!(parse_duration("31536000s"), Ok(MAX_DURATION));
        assert!(parse_duration("31536000.000000001s").is_err());
        assert!(parse_rate("101Tbps").unwrap_err().contains("100Tbps"));
        assert_eq!(
            parse_rate("100Tbps"),
            Ok(Rate::BitsPerSecond(MAX_BITS_PER_SECOND))
        );
        assert!(parse_rate("10001Mpps").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(
            parse_rate("10Gbps"),
            Ok(Rate::BitsPerSecond(10_000_000_000))
        );
        assert_eq!(parse_rate("200Mbps"), Ok(Rate::BitsPerSecond(200_000_000)));
        assert_eq!(parse_rate("64kbps"), Ok(Rate::BitsPerSecond(64_000)));
        assert_eq!(
            parse_rate("1.5Gbps"),
            Ok(Rate::BitsPerSecond(1_500_000_000))
        );
        assert_eq!(parse_rate("50000pps"), Ok(Rate::PacketsPerSecond(50_000)));
        assert_eq!(parse_rate("2.5kpps"), Ok(Rate::PacketsPerSecond(2_500)));
    }

    #[test]
    fn bad_rates() {
        for bad in [
            "",
            "10",
            "10gbps",
            "1.5bps",
            "Gbps",
            "10 GB/s",
            "99999999999999999999Tbps",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
