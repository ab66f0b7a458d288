//! Typed condition values: dates (ISO 8601 or epoch seconds) and IP addresses / CIDR blocks.

use std::net::IpAddr;

/// Parses an AWS date condition value into milliseconds since the Unix epoch.
///
/// "Condition operators: Date": values are ISO 8601 dates/times (`2020-01-01`,
/// `2020-01-01T12:00:00Z`, with optional fractional seconds and `Z` or `±hh:mm` offset) or
/// epoch (UNIX) time in seconds.
pub fn parse_date(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<i64>() {
        return secs.checked_mul(1000);
    }
    if let Ok(f) = t.parse::<f64>() {
        if f.is_finite() {
            #[expect(
                clippy::cast_possible_truncation,
                reason = "epoch seconds fit in i64 millis"
            )]
            return Some((f * 1000.0).round() as i64);
        }
    }
    let (date, time) = match t.split_once(['T', 't']) {
        Some((d, rest)) => (d, Some(rest)),
        None => (t, None),
    };
    let mut dp = date.split('-');
    let year: i64 = num(dp.next()?, 4)?;
    let month: i64 = num(dp.next()?, 2)?;
    let day: i64 = num(dp.next()?, 2)?;
    if dp.next().is_some() {
        return None;
    }
    let date =
        latch_time::Date::from_ymd(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)?;
    let mut millis = date.0.checked_mul(86_400_000)?;
    if let Some(time) = time {
        // Split off the zone: `Z`, `+hh:mm`, `-hh:mm`, `+hhmm`; none means UTC.
        let (clock, offset_ms) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else if let Some(pos) = time.rfind(['+', '-']) {
            let (c, zone) = time.split_at(pos);
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let z = zone.get(1..)?.replace(':', "");
            if z.len() != 4 && z.len() != 2 {
                return None;
            }
            let hh: i64 = num(z.get(0..2)?, 2)?;
            let mm: i64 = if z.len() == 4 {
                num(z.get(2..4)?, 2)?
            } else {
                0
            };
            (c, sign * (hh * 3_600_000 + mm * 60_000))
        } else {
            (time, 0)
        };
        let mut cp = clock.split(':');
        let h: i64 = num(cp.next()?, 2)?;
        let m: i64 = match cp.next() {
            Some(m) => num(m, 2)?,
            None => 0,
        };
        let (s, frac_ms) = match cp.next() {
            Some(sec) => {
                let (whole, frac) = sec.split_once(['.', ',']).unwrap_or((sec, ""));
                let s: i64 = num(whole, 2)?;
                let frac_ms = if frac.is_empty() {
                    0
                } else {
                    if !frac.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    let mut digits: String = frac.chars().take(3).collect();
                    while digits.len() < 3 {
                        digits.push('0');
                    }
                    digits.parse::<i64>().ok()?
                };
                (s, frac_ms)
            }
            None => (0, 0),
        };
        if cp.next().is_some() || h > 24 || m > 59 || s > 60 {
            return None;
        }
        millis += h * 3_600_000 + m * 60_000 + s * 1000 + frac_ms - offset_ms;
    }
    Some(millis)
}

fn num(text: &str, width: usize) -> Option<i64> {
    (text.len() == width && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Parses a numeric condition value: a decimal number with an optional sign, fraction and
/// exponent (`10`, `-2.5`, `.5`, `1e3`), finite. Rust's own float parser also takes `nan`,
/// `inf` and `infinity`, which AWS does not ("Condition operators: Numeric": integer or decimal
/// values).
pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    let b = t.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    v6: bool,
    bits: u128,
    prefix: u8,
}

impl Cidr {
    /// Parses `203.0.113.0/24`, `2001:db8::/32` or a bare address (a /32 or /128).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (text.trim(), None),
        };
        let ip: IpAddr = addr.parse().ok()?;
        let (v6, bits, max) = to_bits(ip);
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        Some(Cidr {
            v6,
            bits: mask(bits, prefix, max),
            prefix,
        })
    }

    /// Whether an address lies in this network (addresses of the other family never do).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v6, bits, max) = to_bits(ip);
        v6 == self.v6 && mask(bits, self.prefix, max) == self.bits
    }
}

fn to_bits(ip: IpAddr) -> (bool, u128, u8) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (true, u128::from(a), 128),
    }
}

fn mask(bits: u128, prefix: u8, max: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let shift = u32::from(max - prefix);
    (bits >> shift) << shift
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("1970-01-02T00:00:00Z"), Some(86_400_000));
        assert_eq!(parse_date("2020-01-01T00:00:00Z"), Some(1_577_836_800_000));
        assert_eq!(parse_date("1577836800"), Some(1_577_836_800_000));
        assert_eq!(
            parse_date("2020-01-01T01:00:00+01:00"),
            Some(1_577_836_800_000)
        );
        assert_eq!(
            parse_date("2020-01-01T00:00:00.5Z"),
            Some(1_577_836_800_500)
        );
        assert_eq!(
            parse_date("2019-12-31T19:00-05:00"),
            Some(1_577_836_800_000)
        );
        assert_eq!(parse_date("2020-02-30"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("2024-02-29"), Some(1_709_164_800_000));
    }

    #[test]
    fn numbers() {
        for (text, want) in [
            ("10", Some(10.0)),
            (" -2.5 ", Some(-2.5)),
            ("+3", Some(3.0)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("1e3", Some(1000.0)),
            ("1000.0", Some(1000.0)),
        ] {
            assert_eq!(parse_number(text), want, "{text}");
        }
        for bad in [
            "nan", "NaN", "inf", "-inf", "infinity", "abc", "", "-", ".", "1e", "1e400", "0x10",
            "1,5", "5 5",
        ] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains("203.0.113.77".parse().unwrap()));
        assert!(!c.contains("203.0.114.1".parse().unwrap()));
        let c6 = Cidr::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(c6.contains("2001:db8:1234:5678::1".parse().unwrap()));
        assert!(!c6.contains("203.0.113.77".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.1")
            .unwrap()
            .contains("10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
    }
}
