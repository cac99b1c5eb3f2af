//! The one-line summary of a persona, e.g.
//! `12.0% of customers (2,829); 3.4× average spend; mostly cohort: 1997-01 (62%)`.

use super::describe::{CategoryStat, NumericStat, Trait};

/// `12.3%`, `<0.1%`.
pub fn percent(share: f64) -> String {
    if share > 0.0 && share < 0.0005 {
        "<0.1%".to_string()
    } else {
        format!("{:.1}%", share * 100.0)
    }
}

/// A share as a whole percentage for traits: `62%`.
fn whole_percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// `2,829`
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Two significant digits for ratios: `12×`, `3.4×`, `0.52×`.
fn ratio(r: f64) -> String {
    if r >= 9.95 {
        format!("{r:.0}×")
    } else if r >= 0.995 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

/// A value as people read it: `1985`, `42.7`, `0.35`.
fn value(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

pub mod trait_text {
    use super::*;

    /// `3.4× average spend`, or for values where a ratio says little
    /// (negative, or within 5% of 1): `birth_year +0.8 sd (1991 vs 1985)`.
    pub fn numeric(s: &NumericStat) -> String {
        let (Some(mean), Some(population)) = (s.mean, s.population_mean) else {
            return format!("{} unknown", s.attribute);
        };
        let r = if population > 0.0 && mean >= 0.0 { Some(mean / population) } else { None };
        match r {
            Some(r) if (r - 1.0).abs() >= 0.05 => format!("{} average {}", ratio(r), s.attribute),
            _ => format!("{} {:+.1} sd ({} vs {})", s.attribute, s.std_diff, value(mean), value(population)),
        }
    }

    /// `mostly city: Boston (62%)` (over half the segment) or `city: Boston 3.1× as common (25%)`.
    pub fn category(c: &CategoryStat) -> String {
        if c.share > 0.5 {
            format!("mostly {}: {} ({})", c.attribute, c.value, whole_percent(c.share))
        } else {
            format!("{}: {} {} as common ({})", c.attribute, c.value, ratio(c.lift), whole_percent(c.share))
        }
    }
}

pub fn summary(share: f64, customers: u64, traits: &[Trait]) -> String {
    let mut parts = vec![format!("{} of customers ({})", percent(share), thousands(customers))];
    if traits.is_empty() {
        parts.push("close to the average customer".to_string());
    }
    parts.extend(traits.iter().map(|t| t.text.clone()));
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::personas::table::AttributeKind;

    #[test]
    fn numbers_read_well() {
        assert_eq!((percent(0.12), percent(0.0001), percent(0.0), percent(1.0)), ("12.0%".into(), "<0.1%".into(), "0.0%".into(), "100.0%".into()));
        assert_eq!((thousands(0), thousands(999), thousands(2829), thousands(1234567)), ("0".into(), "999".into(), "2,829".into(), "1,234,567".into()));
        assert_eq!((ratio(12.3), ratio(3.44), ratio(0.523), ratio(1.0)), ("12×".into(), "3.4×".into(), "0.52×".into(), "1.0×".into()));
    }

    fn numeric(attribute: &str, mean: f64, population: f64, std_diff: f64) -> NumericStat {
        NumericStat {
            attribute: attribute.into(),
            mean: Some(mean),
            median: None,
            population_mean: Some(population),
            population_median: None,
            std_diff,
        }
    }

    #[test]
    fn trait_phrases() {
        assert_eq!(trait_text::numeric(&numeric("spend", 340.0, 100.0, 1.9)), "3.4× average spend");
        assert_eq!(trait_text::numeric(&numeric("orders", 0.5, 2.0, -0.7)), "0.25× average orders");
        assert_eq!(trait_text::numeric(&numeric("birth_year", 1991.0, 1985.0, 0.8)), "birth_year +0.8 sd (1991 vs 1985)");
        assert_eq!(trait_text::numeric(&numeric("delta", -2.0, 1.5, -1.2)), "delta -1.2 sd (-2.00 vs 1.50)");
        let mut c = CategoryStat {
            attribute: "city".into(),
            kind: AttributeKind::Categorical,
            value: "Boston".into(),
            customers: 62,
            share: 0.62,
            population_share: 0.2,
            lift: 3.1,
            std_diff: 1.05,
        };
        assert_eq!(trait_text::category(&c), "mostly city: Boston (62%)");
        c.share = 0.25;
        assert_eq!(trait_text::category(&c), "city: Boston 3.1× as common (25%)");
        c.share = 0.5;
        assert_eq!(trait_text::category(&c), "city: Boston 3.1× as common (50%)");
    }

    #[test]
    fn summary_line() {
        let traits = vec![
            Trait { text: "3.4× average spend".into(), score: 1.9 },
            Trait { text: "mostly city: Boston (62%)".into(), score: 1.05 },
        ];
        assert_eq!(summary(0.12, 2829, &traits), "12.0% of customers (2,829); 3.4× average spend; mostly city: Boston (62%)");
        assert_eq!(summary(1.0, 5, &[]), "100.0% of customers (5); close to the average customer");
    }
}
