//! Exact amounts: every amount (numeric, integer or float8) becomes an integer
//! count of units of 10^-scale, summed in i128. Sums are then exact and
//! associative, so rfm_agg gives the same result in any plan, serial or parallel.

use crate::error::{Error, Result, SqlState};

/// The largest scale (decimal places) we keep; i128 holds 38 digits.
pub const MAX_SCALE: u8 = 30;
/// float8 amounts are rounded to this many decimal places (micro-units).
pub const FLOAT_SCALE: u8 = 6;

/// `units × 10^-scale`, with the display scale PostgreSQL would print (`dscale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub units: i128,
    pub scale: u8,
    pub display_scale: u16,
}

fn too_large() -> Error {
    Error::new(SqlState::NumericValueOutOfRange, "amount is beyond the exact range of rfm (38 significant digits)")
        .with_hint("round the amounts, e.g. round(amount, 2), or divide them into larger units")
}

/// 10^n as i128.
pub fn pow10(n: u32) -> Result<i128> {
    POW10.get(n as usize).copied().ok_or_else(too_large)
}

/// 10^0 ..= 10^38 (a table: rescaling runs once per order).
const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// `units` at `from` decimal places re-expressed at `to` ≥ `from` places.
pub fn rescale(units: i128, from: u8, to: u8) -> Result<i128> {
    debug_assert!(to >= from);
    units.checked_mul(pow10(u32::from(to - from))?).ok_or_else(too_large)
}

/// Drops trailing zero decimals, so e.g. 12.50 is (125, 1).
fn trim(mut units: i128, mut scale: u8) -> (i128, u8) {
    if let Ok(mut small) = i64::try_from(units) {
        // the common case, without 128-bit division
        while scale > 0 && small % 10 == 0 {
            small /= 10;
            scale -= 1;
        }
        return (i128::from(small), scale);
    }
    while scale > 0 && units % 10 == 0 {
        units /= 10;
        scale -= 1;
    }
    (units, scale)
}

impl Decimal {
    pub fn from_int(n: i64) -> Decimal {
        Decimal { units: i128::from(n), scale: 0, display_scale: 0 }
    }

    /// A float8 amount rounded to [`FLOAT_SCALE`] decimal places; NaN and ±Infinity are 22023.
    pub fn from_f64(x: f64) -> Result<Decimal> {
        if !x.is_finite() {
            return Err(Error::invalid_parameter(format!("amount must be a finite number, not {x}"))
                .with_hint("filter out NaN and infinite amounts, e.g. WHERE amount <> 'NaN'"));
        }
        let scaled = (x * 1e6).round();
        if scaled.abs() >= 1e37 {
            return Err(too_large());
        }
        let (units, scale) = trim(scaled as i128, FLOAT_SCALE);
        Ok(Decimal { units, scale, display_scale: 0 })
    }

    /// Reads PostgreSQL's on-disk `numeric` (the bytes after the varlena header):
    /// base-10000 digits with a weight, a sign and a display scale.
    pub fn from_numeric_bytes(b: &[u8]) -> Result<Decimal> {
        match Decimal::from_short_numeric(b) {
            Some(d) => Ok(d),
            None => Decimal::from_any_numeric(b),
        }
    }

    /// The common case (it runs once per order in `rfm_segments`) in 64-bit
    /// arithmetic: the short format with 1 to 4 digit groups and a scale up to
    /// 18. None for anything else, which [`Decimal::from_any_numeric`] reads.
    #[inline]
    fn from_short_numeric(b: &[u8]) -> Option<Decimal> {
        if !(4..=10).contains(&b.len()) || b.len() % 2 != 0 {
            return None;
        }
        let header = u16::from_ne_bytes([b[0], b[1]]);
        if header & 0xC000 != 0x8000 {
            return None;
        }
        let weight = if header & 0x0040 != 0 { (header & 0x003F) as i32 - 64 } else { (header & 0x003F) as i32 };
        let ndigits = (b.len() - 2) / 2;
        let mut units: i64 = 0; // < 65536 · 10^12 (four groups)
        for i in 0..ndigits {
            units = units * 10_000 + i64::from(u16::from_ne_bytes([b[2 + 2 * i], b[3 + 2 * i]]));
        }
        // value = units × 10^exponent
        let exponent = 4 * (weight - ndigits as i32 + 1);
        let (units, scale) = if exponent >= 0 {
            (units.checked_mul(10i64.checked_pow(exponent as u32)?)?, 0u8)
        } else if exponent >= -18 {
            let mut scale = (-exponent) as u8;
            let mut units = units;
            while scale > 0 && units % 10 == 0 {
                units /= 10;
                scale -= 1;
            }
            (units, scale)
        } else {
            return None;
        };
        let units = if header & 0x2000 != 0 { -units } else { units };
        Some(Decimal { units: i128::from(units), scale, display_scale: (header & 0x1F80) >> 7 })
    }

    /// Any on-disk `numeric`, in 128-bit arithmetic.
    fn from_any_numeric(b: &[u8]) -> Result<Decimal> {
        let word = |i: usize| -> Result<u16> {
            b.get(i..i + 2)
                .map(|s| u16::from_ne_bytes([s[0], s[1]]))
                .ok_or_else(|| Error::new(SqlState::InvalidTextRepresentation, "corrupt numeric value"))
        };
        let header = word(0)?;
        let (negative, dscale, weight, first_digit) = match header & 0xC000 {
            0xC000 => {
                let what = match header {
                    0xC000 => "NaN",
                    0xD000 => "Infinity",
                    _ => "-Infinity",
                };
                return Err(Error::invalid_parameter(format!("amount must be a finite number, not {what}"))
                    .with_hint("filter out NaN and infinite amounts, e.g. WHERE amount <> 'NaN'"));
            }
            0x8000 => {
                // short format: sign, display scale and weight packed in the header
                let weight = if header & 0x0040 != 0 { (header & 0x003F) as i16 | !0x003F } else { (header & 0x003F) as i16 };
                (header & 0x2000 != 0, (header & 0x1F80) >> 7, i32::from(weight), 2)
            }
            sign => (sign == 0x4000, header & 0x3FFF, i32::from(word(2)? as i16), 4),
        };
        let ndigits = (b.len().saturating_sub(first_digit)) / 2;
        let mut units: i128 = 0;
        let mut trailing = 0; // zeros dropped from the last group, so 38 digits always fit
        for i in 0..ndigits {
            let mut digit = i64::from(word(first_digit + 2 * i)?);
            let mut base = 10_000i64;
            if i + 1 == ndigits && weight - (i as i32) < 0 {
                while digit != 0 && digit % 10 == 0 {
                    digit /= 10;
                    base /= 10;
                    trailing += 1;
                }
            }
            units = units.checked_mul(i128::from(base)).and_then(|u| u.checked_add(i128::from(digit))).ok_or_else(too_large)?;
        }
        // value = units × 10^(4·(weight - ndigits + 1) + trailing)
        let exponent = 4 * (weight - ndigits as i32 + 1) + trailing;
        let (units, scale) = if ndigits == 0 {
            (0, 0)
        } else if exponent >= 0 {
            (units.checked_mul(pow10(exponent as u32)?).ok_or_else(too_large)?, 0)
        } else {
            let places = (-exponent) as u32;
            let (units, scale) = if places > 38 {
                // trailing zero digits may push the exponent past 38: divide them out first
                let mut u = units;
                let mut p = places;
                while p > 38 && u % 10 == 0 {
                    u /= 10;
                    p -= 1;
                }
                if p > 38 {
                    return Err(too_large());
                }
                (u, p as u8)
            } else {
                (units, places as u8)
            };
            trim(units, scale)
        };
        if scale > MAX_SCALE {
            return Err(too_large());
        }
        Ok(Decimal { units: if negative { -units } else { units }, scale, display_scale: dscale })
    }

    /// The decimal text PostgreSQL's `numeric_in` reads, with at least `display_scale` places.
    pub fn to_text(self) -> String {
        let places = usize::from(self.scale).max(usize::from(self.display_scale));
        let digits = self.units.unsigned_abs().to_string();
        let padded_units = format!("{digits}{}", "0".repeat(places - usize::from(self.scale)));
        let padded = if padded_units.len() <= places {
            format!("{}{padded_units}", "0".repeat(places + 1 - padded_units.len()))
        } else {
            padded_units
        };
        let (int_part, frac_part) = padded.split_at(padded.len() - places);
        let sign = if self.units < 0 { "-" } else { "" };
        if places == 0 {
            format!("{sign}{int_part}")
        } else {
            format!("{sign}{int_part}.{frac_part}")
        }
    }

    /// PostgreSQL's on-disk `numeric` (the bytes after the varlena header), in
    /// the short form whenever it fits, exactly as `numeric_in` builds it.
    pub fn to_numeric_bytes(self) -> Vec<u8> {
        let (bytes, len) = self.numeric_bytes();
        bytes[..len].to_vec()
    }

    /// [`Decimal::to_numeric_bytes`] without allocating (it runs twice per
    /// customer in `rfm_segments`): the bytes and how many are used.
    pub fn numeric_bytes(self) -> ([u8; NUMERIC_MAX_BYTES], usize) {
        let dscale = u16::from(self.scale).max(self.display_scale).min(0x3FFF);
        // base-10000 groups aligned on the decimal point, least significant first
        let scale = usize::from(self.scale);
        let frac_groups = scale.div_ceil(4);
        let pad = (4 * frac_groups - scale) as u32; // zeros that fill the last fractional group
        let mut abs = self.units.unsigned_abs();
        let mut groups = [0u16; 24];
        let mut n = 0;
        let take = |abs: &mut u128, modulus: u32| -> u16 {
            // 64-bit division when it fits (the common case), 128-bit otherwise
            let r = if let Ok(small) = u64::try_from(*abs) {
                *abs = u128::from(small / u64::from(modulus));
                small % u64::from(modulus)
            } else {
                let r = *abs % u128::from(modulus);
                *abs /= u128::from(modulus);
                r as u64
            };
            r as u16
        };
        for g in 0..frac_groups {
            groups[n] = if g == 0 && pad > 0 { take(&mut abs, 10u32.pow(4 - pad)) * 10u16.pow(pad) } else { take(&mut abs, 10_000) };
            n += 1;
        }
        loop {
            groups[n] = take(&mut abs, 10_000);
            n += 1;
            if abs == 0 {
                break;
            }
        }
        let (lo, hi) = match (groups[..n].iter().position(|&g| g != 0), groups[..n].iter().rposition(|&g| g != 0)) {
            (Some(lo), Some(hi)) => (lo, hi),
            _ => (0, usize::MAX), // zero: no digits
        };
        let (negative, weight, digits) = if hi == usize::MAX {
            (false, 0i32, &groups[0..0])
        } else {
            (self.units < 0, hi as i32 - frac_groups as i32, &groups[lo..=hi])
        };
        let mut out = [0u8; NUMERIC_MAX_BYTES];
        let mut len = 0;
        let mut put = |bytes: [u8; 2]| {
            out[len..len + 2].copy_from_slice(&bytes);
            len += 2;
        };
        if dscale <= 0x3F && (-64..=63).contains(&weight) {
            put((0x8000 | if negative { 0x2000 } else { 0 } | (dscale << 7) | ((weight as i16 as u16) & 0x7F)).to_ne_bytes());
        } else {
            put(((if negative { 0x4000 } else { 0 }) | dscale).to_ne_bytes());
            put((weight as i16).to_ne_bytes());
        }
        for &g in digits.iter().rev() {
            put(g.to_ne_bytes());
        }
        (out, len)
    }

    pub fn to_f64(self) -> f64 {
        self.units as f64 / 10f64.powi(i32::from(self.scale))
    }
}

/// Room for any [`Decimal`] as numeric: a header of 4 bytes and at most 24 digit groups.
pub const NUMERIC_MAX_BYTES: usize = 52;

/// `a + b`, at the larger scale of the two.
pub fn add(a: Decimal, b: Decimal) -> Result<Decimal> {
    if a.scale == b.scale {
        let units = a.units.checked_add(b.units).ok_or_else(too_large)?;
        return Ok(Decimal { units, scale: a.scale, display_scale: a.display_scale.max(b.display_scale) });
    }
    let scale = a.scale.max(b.scale);
    let units = rescale(a.units, a.scale, scale)?.checked_add(rescale(b.units, b.scale, scale)?).ok_or_else(too_large)?;
    Ok(Decimal { units, scale, display_scale: a.display_scale.max(b.display_scale) })
}

/// `total / count` rounded half away from zero to 4 more places than the amounts
/// show (their display scale; fewer if that would overflow), as
/// `round(sum(amount) / count(amount), scale(sum(amount)) + 4)`. None when count is 0.
pub fn mean(total: Decimal, count: i64) -> Option<Decimal> {
    if count <= 0 {
        return None;
    }
    // the places the amounts show (at least those they have), plus 4
    let shown = u16::from(total.scale).max(total.display_scale).min(38) as u8;
    if let (Ok(units), Some(factor)) = (i64::try_from(total.units), POW10.get(usize::from(shown + 4 - total.scale))) {
        // the common case in 64 bits (128-bit division is a library call), same result
        if let Some(scaled) = i64::try_from(*factor).ok().and_then(|f| units.checked_mul(f)) {
            let (q, r) = (scaled / count, scaled % count);
            let round_away = 2 * r.unsigned_abs() >= count.unsigned_abs();
            let units = if round_away { q + scaled.signum() } else { q };
            return Some(Decimal { units: i128::from(units), scale: shown + 4, display_scale: u16::from(shown + 4) });
        }
    }
    for extra in (0..=4u8).rev() {
        let scale = shown + extra;
        if scale > 38 {
            continue;
        }
        let Ok(scaled) = rescale(total.units, total.scale, scale) else { continue };
        let n = i128::from(count);
        let (q, r) = (scaled / n, scaled % n);
        let round_away = 2 * r.unsigned_abs() >= n.unsigned_abs();
        let units = if round_away { q + scaled.signum() } else { q };
        return Some(Decimal { units, scale, display_scale: u16::from(scale) });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numerics_read_as_the_general_path() {
        let mut checked = 0;
        let groups = [0u16, 1, 5, 10, 50, 100, 1000, 1234, 5000, 9999, 65535];
        for weight in [-64i16, -20, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 10, 63] {
            for dscale in [0u16, 2, 4, 63] {
                for neg in [false, true] {
                    for n in 0..=4usize {
                        for a in groups {
                            for b in [0u16, 7, 10, 9999] {
                                let digits: Vec<u16> = (0..n).map(|i| if i == 0 { a } else if i + 1 == n { b } else { 4321 }).collect();
                                let bytes = short(neg, dscale, weight, &digits);
                                let fast = Decimal::from_short_numeric(&bytes);
                                let any = Decimal::from_any_numeric(&bytes);
                                if let Some(fast) = fast {
                                    assert_eq!(Ok(fast), any.map_err(|e| e.message), "{weight} {dscale} {neg} {digits:?}");
                                    checked += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 5000, "{checked}");
        // and what it does not read goes to the general path
        assert_eq!(Decimal::from_numeric_bytes(&short(false, 2, -64, &[5])).map_err(|e| e.state), Err(SqlState::NumericValueOutOfRange));
        assert_eq!(Decimal::from_numeric_bytes(&long(false, 2, 0, &[1234, 5600])).unwrap().units, 123456);
    }

    /// The first, string-based `to_numeric_bytes`, kept as the reference of the arithmetic one.
    fn reference_numeric_bytes(d: Decimal) -> Vec<u8> {
        let dscale = usize::from(d.scale).max(usize::from(d.display_scale)).min(0x3FFF) as u16;
        let digits = d.units.unsigned_abs().to_string();
        let places = usize::from(d.scale);
        let digits = if digits.len() <= places { format!("{}{digits}", "0".repeat(places + 1 - digits.len())) } else { digits };
        let (int_part, frac_part) = digits.split_at(digits.len() - places);
        // base-10000 groups aligned on the decimal point
        let int_padded = format!("{}{int_part}", "0".repeat((4 - int_part.len() % 4) % 4));
        let frac_padded = format!("{frac_part}{}", "0".repeat((4 - frac_part.len() % 4) % 4));
        let mut groups: Vec<u16> = int_padded
            .as_bytes()
            .chunks(4)
            .chain(frac_padded.as_bytes().chunks(4))
            .map(|c| c.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')))
            .collect();
        let mut weight = (int_padded.len() / 4) as i32 - 1;
        let leading = groups.iter().take_while(|&&g| g == 0).count();
        groups.drain(..leading);
        weight -= leading as i32;
        while groups.last() == Some(&0) {
            groups.pop();
        }
        let negative = d.units < 0 && !groups.is_empty();
        if groups.is_empty() {
            weight = 0;
        }
        let mut out = Vec::with_capacity(4 + 2 * groups.len());
        if dscale <= 0x3F && (-64..=63).contains(&weight) {
            let header = 0x8000 | if negative { 0x2000 } else { 0 } | (dscale << 7) | ((weight as i16 as u16) & 0x7F);
            out.extend_from_slice(&header.to_ne_bytes());
        } else {
            out.extend_from_slice(&((if negative { 0x4000 } else { 0 }) | dscale).to_ne_bytes());
            out.extend_from_slice(&(weight as i16).to_ne_bytes());
        }
        for g in groups {
            out.extend_from_slice(&g.to_ne_bytes());
        }
        out
    }

    #[test]
    fn numeric_bytes_equal_the_string_version() {
        let mut units: Vec<i128> = vec![0, 1, -1, 9, 10, 99, 100, 9999, 10_000, 10_001, 123_456, -5, i128::MAX, i128::MIN + 1, i128::MAX / 10];
        let mut x: i128 = 1;
        for _ in 0..38 {
            x *= 10;
            units.extend([x, x - 1, -x, x + 7, x / 3, -(x / 7) * 3]);
        }
        units.push(u64::MAX as i128);
        units.push(u64::MAX as i128 + 1);
        for &u in &units {
            for scale in [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 20, 30, 34, 38] {
                for display_scale in [0u16, 2, 4, 63, 64, 200] {
                    let d = Decimal { units: u, scale, display_scale };
                    assert_eq!(d.to_numeric_bytes(), reference_numeric_bytes(d), "{d:?}");
                }
            }
        }
    }

    fn long(neg: bool, dscale: u16, weight: i16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&((if neg { 0x4000 } else { 0 }) | dscale).to_ne_bytes());
        b.extend_from_slice(&weight.to_ne_bytes());
        for d in digits {
            b.extend_from_slice(&d.to_ne_bytes());
        }
        b
    }

    fn short(neg: bool, dscale: u16, weight: i16, digits: &[u16]) -> Vec<u8> {
        let w = (weight as u16) & 0x7F; // 7-bit two's complement: sign 0x40, magnitude 0x3F
        let header = 0x8000 | if neg { 0x2000 } else { 0 } | (dscale << 7) | w;
        let mut b = header.to_ne_bytes().to_vec();
        for d in digits {
            b.extend_from_slice(&d.to_ne_bytes());
        }
        b
    }

    #[test]
    fn numeric_bytes_decode_exactly() {
        // 1234.56 (dscale 2) = digits [1234, 5600], weight 0
        let d = Decimal::from_numeric_bytes(&short(false, 2, 0, &[1234, 5600])).unwrap();
        assert_eq!((d.units, d.scale, d.display_scale), (123456, 2, 2));
        assert_eq!(d.to_text(), "1234.56");
        // -0.05 = digits [500], weight -1
        let d = Decimal::from_numeric_bytes(&short(true, 2, -1, &[500])).unwrap();
        assert_eq!((d.units, d.scale), (-5, 2));
        assert_eq!(d.to_text(), "-0.05");
        // 5.00 stored as [5], weight 0: trimmed scale 0, printed with 2 places
        let d = Decimal::from_numeric_bytes(&long(false, 2, 0, &[5])).unwrap();
        assert_eq!((d.units, d.scale), (5, 0));
        assert_eq!(d.to_text(), "5.00");
        // 120000 = [12], weight 1
        let d = Decimal::from_numeric_bytes(&long(false, 0, 1, &[12])).unwrap();
        assert_eq!(d.units, 120000);
        // zero
        let d = Decimal::from_numeric_bytes(&short(false, 2, 0, &[])).unwrap();
        assert_eq!(d.to_text(), "0.00");
    }

    #[test]
    fn numeric_bytes_round_trip() {
        // the bytes numeric_in makes: 1234.56 short form, weight 0, dscale 2
        let d = Decimal { units: 123456, scale: 2, display_scale: 2 };
        assert_eq!(d.to_numeric_bytes(), short(false, 2, 0, &[1234, 5600]));
        assert_eq!(Decimal { units: -5, scale: 2, display_scale: 2 }.to_numeric_bytes(), short(true, 2, -1, &[500]));
        assert_eq!(Decimal { units: 0, scale: 0, display_scale: 2 }.to_numeric_bytes(), short(false, 2, 0, &[]));
        assert_eq!(Decimal { units: 120000, scale: 0, display_scale: 0 }.to_numeric_bytes(), short(false, 0, 1, &[12]));
        for (units, scale, display_scale) in [
            (1i128, 0u8, 0u16),
            (-987654321987654321, 9, 12),
            (i128::MAX / 10, 30, 30),
            (5, 0, 70),
            (10_000_000_000_000_000, 0, 0),
            (7, 30, 30),
        ] {
            let d = Decimal { units, scale, display_scale };
            let back = Decimal::from_numeric_bytes(&d.to_numeric_bytes()).unwrap();
            assert_eq!((back.units, back.display_scale), {
                let (u, s) = trim(units, scale);
                assert_eq!(back.scale, s);
                (u, display_scale.max(u16::from(scale)))
            });
        }
    }

    #[test]
    fn numeric_specials_and_overflow_are_errors() {
        for special in [0xC000u16, 0xD000, 0xF000] {
            let e = Decimal::from_numeric_bytes(&special.to_ne_bytes()).unwrap_err();
            assert_eq!(e.state, SqlState::InvalidParameterValue);
        }
        // 10^48 does not fit
        let e = Decimal::from_numeric_bytes(&long(false, 0, 12, &[1])).unwrap_err();
        assert_eq!(e.state, SqlState::NumericValueOutOfRange);
    }

    #[test]
    fn floats_round_to_micro_units() {
        let d = Decimal::from_f64(0.1).unwrap();
        assert_eq!((d.units, d.scale), (1, 1));
        assert_eq!(Decimal::from_f64(12.3456789).unwrap().to_text(), "12.345679");
        assert_eq!(Decimal::from_f64(-3.0).unwrap().to_text(), "-3");
        assert!(Decimal::from_f64(f64::NAN).is_err());
        assert!(Decimal::from_f64(f64::INFINITY).is_err());
        // 0.1 + 0.2 is exactly 0.3 here
        let s = add(Decimal::from_f64(0.1).unwrap(), Decimal::from_f64(0.2).unwrap()).unwrap();
        assert_eq!(s.to_text(), "0.3");
    }

    #[test]
    fn mean_in_64_bits_equals_128_bits() {
        // the 128-bit loop of mean, without the 64-bit shortcut
        fn slow(total: Decimal, count: i64) -> Decimal {
            let shown = u16::from(total.scale).max(total.display_scale).min(38) as u8;
            for extra in (0..=4u8).rev() {
                let scale = shown + extra;
                let Ok(scaled) = rescale(total.units, total.scale, scale) else { continue };
                let n = i128::from(count);
                let (q, r) = (scaled / n, scaled % n);
                let units = if 2 * r.unsigned_abs() >= n.unsigned_abs() { q + scaled.signum() } else { q };
                return Decimal { units, scale, display_scale: u16::from(scale) };
            }
            unreachable!()
        }
        for units in [0i128, 1, -1, 5, -5, 7, 123_456, -987_654_321, 999_999_999_999, i64::MAX as i128 / 1000, i64::MAX as i128, 1 << 70] {
            for (scale, display_scale) in [(0u8, 0u16), (2, 2), (1, 2), (6, 0), (0, 4), (14, 14)] {
                for count in [1i64, 2, 3, 7, 10, 1000, 123_457] {
                    let total = Decimal { units, scale, display_scale };
                    assert_eq!(mean(total, count).unwrap(), slow(total, count), "{total:?} / {count}");
                }
            }
        }
    }

    #[test]
    fn mean_rounds_half_away_from_zero() {
        let total = Decimal { units: 1000, scale: 2, display_scale: 2 }; // 10.00
        assert_eq!(mean(total, 3).unwrap().to_text(), "3.333333");
        let total = Decimal { units: -200, scale: 2, display_scale: 2 }; // -2.00 / 3
        assert_eq!(mean(total, 3).unwrap().to_text(), "-0.666667");
        assert_eq!(mean(Decimal::from_int(7), 2).unwrap().to_text(), "3.5000");
        assert_eq!(mean(Decimal::from_int(7), 0), None);
    }
}
