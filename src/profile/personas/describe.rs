//! Describing every segment against the whole population.
//!
//! - Numeric attributes: segment mean and median next to the population's; the
//!   standardized difference `(segment mean - population mean) / population std`
//!   (population std, ddof 0; 0 when the attribute is constant). NaN and
//!   ±Infinity are treated as missing, like NULL.
//! - Categorical and tags attributes: each value's share of the segment's
//!   customers, its share of all customers, the lift (ratio of the two) and the
//!   standardized difference of the indicator, `(p_seg - p_all) / sqrt(p_all (1 - p_all))`.
//! - Traits: numeric attributes (either direction) and over-represented values
//!   (lift > 1), ranked by the absolute standardized difference; the top three
//!   with at least [`MIN_TRAIT_SCORE`] make the summary.
//! - Representative: the customer closest (squared Euclidean) to the segment's
//!   mean, in the profile's vector space when a profile is given, else in the
//!   space of z-scored numeric attributes (missing → the population mean)
//!   plus one-hot categories and multi-hot tags. Ties go to the smallest key.

use super::summary::{summary, trait_text};
use super::table::{AttributeColumn, AttributeKind, Key, Table, NO_CODE};
use crate::profile::stats;
use std::collections::HashMap;

/// Traits weaker than this (in standard deviations) are not worth a mention.
pub const MIN_TRAIT_SCORE: f64 = 0.2;
/// How many traits the summary and `distinguishing` list.
pub const TRAITS: usize = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct NumericStat {
    pub attribute: String,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub population_mean: Option<f64>,
    pub population_median: Option<f64>,
    pub std_diff: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CategoryStat {
    pub attribute: String,
    pub kind: AttributeKind,
    pub value: String,
    pub customers: u64,
    pub share: f64,
    pub population_share: f64,
    pub lift: f64,
    pub std_diff: f64,
}

/// One way a segment differs from everyone, with its text for people.
#[derive(Debug, Clone, PartialEq)]
pub struct Trait {
    pub text: String,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Persona {
    /// The label; None for customers without one.
    pub segment: Option<String>,
    pub customers: u64,
    pub share: f64,
    pub representative: Option<Key>,
    pub summary: String,
    /// The strongest traits, strongest first.
    pub traits: Vec<Trait>,
    /// One per numeric attribute, in attribute order.
    pub numeric: Vec<NumericStat>,
    /// Every value present in the segment, by attribute order then share (descending).
    pub categories: Vec<CategoryStat>,
}

/// Segment index per row: label codes first, then one extra for NULL labels.
struct Segments {
    of_row: Vec<usize>,
    count: usize,
    sizes: Vec<u64>,
}

fn segments(table: &Table) -> Segments {
    let labelled = table.segments.values.len();
    let of_row: Vec<usize> =
        table.segment_of.iter().map(|&c| if c == NO_CODE { labelled } else { c as usize }).collect();
    let count = labelled + usize::from(of_row.contains(&labelled));
    let mut sizes = vec![0u64; count];
    for &s in &of_row {
        sizes[s] += 1;
    }
    Segments { of_row, count, sizes }
}

/// Population mean and std of the finite values (ddof 0), and the median.
fn population(values: &[f64]) -> (Option<f64>, f64, Option<f64>) {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if finite.is_empty() {
        return (None, 0.0, None);
    }
    let (mean, variance) = stats::mean_and_variance(&finite);
    stats::sort_numbers(&mut finite);
    (Some(mean), variance.sqrt(), Some(stats::median_sorted(&finite)))
}

pub fn describe(table: &Table) -> Vec<Persona> {
    let segs = segments(table);
    let n = table.rows() as f64;
    let mut numeric: Vec<Vec<NumericStat>> = vec![Vec::new(); segs.count];
    let mut categories: Vec<Vec<CategoryStat>> = vec![Vec::new(); segs.count];
    // per attribute: (population mean, std) for the representative's space
    let mut scales: Vec<(f64, f64)> = Vec::new();
    // per attribute and segment: value code → share, for the representative's space
    let mut shares: Vec<Vec<HashMap<u32, f64>>> = Vec::new();

    for attribute in &table.attributes {
        match &attribute.column {
            AttributeColumn::Numeric(values) => {
                let (pop_mean, pop_std, pop_median) = population(values);
                let mut by_segment: Vec<Vec<f64>> = vec![Vec::new(); segs.count];
                for (row, v) in values.iter().enumerate() {
                    if !v.is_nan() {
                        by_segment[segs.of_row[row]].push(*v);
                    }
                }
                for (s, mut vs) in by_segment.into_iter().enumerate() {
                    let mean = (!vs.is_empty()).then(|| stats::mean_and_variance(&vs).0);
                    stats::sort_numbers(&mut vs);
                    let median = (!vs.is_empty()).then(|| stats::median_sorted(&vs));
                    let std_diff = match (mean, pop_mean) {
                        (Some(m), Some(p)) if pop_std > 0.0 => (m - p) / pop_std,
                        _ => 0.0,
                    };
                    numeric[s].push(NumericStat {
                        attribute: attribute.name.clone(),
                        mean,
                        median,
                        population_mean: pop_mean,
                        population_median: pop_median,
                        std_diff,
                    });
                }
                scales.push((pop_mean.unwrap_or(0.0), if pop_std > 0.0 { pop_std } else { 1.0 }));
                shares.push(Vec::new());
            }
            AttributeColumn::Categorical { codes, dictionary } => {
                let rows_codes = codes.iter().enumerate().map(|(row, c)| (row, std::slice::from_ref(c)));
                let per_segment = value_counts(rows_codes, &segs);
                describe_values(attribute, &dictionary.values, &per_segment, &segs, n, &mut categories);
                shares.push(to_shares(&per_segment, &segs));
                scales.push((0.0, 1.0));
            }
            AttributeColumn::Tags { starts, codes, dictionary } => {
                let rows_codes = (0..table.rows()).map(|row| (row, &codes[starts[row] as usize..starts[row + 1] as usize]));
                let per_segment = value_counts(rows_codes, &segs);
                describe_values(attribute, &dictionary.values, &per_segment, &segs, n, &mut categories);
                shares.push(to_shares(&per_segment, &segs));
                scales.push((0.0, 1.0));
            }
        }
    }

    let representatives = representatives(table, &segs, &scales, &shares);
    let mut personas: Vec<Persona> = (0..segs.count)
        .map(|s| {
            let mut traits: Vec<Trait> = numeric[s]
                .iter()
                .filter(|st| st.mean.is_some())
                .map(|st| Trait { text: trait_text::numeric(st), score: st.std_diff })
                .chain(
                    categories[s]
                        .iter()
                        .filter(|c| c.lift > 1.0 && c.std_diff > 0.0)
                        .map(|c| Trait { text: trait_text::category(c), score: c.std_diff }),
                )
                .filter(|t| t.score.abs() >= MIN_TRAIT_SCORE)
                .collect();
            // strongest first; the sort is stable, so ties keep attribute order
            traits.sort_by(|a, b| b.score.abs().total_cmp(&a.score.abs()));
            traits.truncate(TRAITS);
            let share = if n > 0.0 { segs.sizes[s] as f64 / n } else { 0.0 };
            Persona {
                segment: table.segments.values.get(s).cloned(),
                customers: segs.sizes[s],
                share,
                representative: representatives[s].clone(),
                summary: summary(share, segs.sizes[s], &traits),
                traits,
                numeric: std::mem::take(&mut numeric[s]),
                categories: std::mem::take(&mut categories[s]),
            }
        })
        .collect();
    // biggest segments first; the NULL label last among equals
    personas.sort_by(|a, b| {
        b.customers.cmp(&a.customers).then_with(|| match (&a.segment, &b.segment) {
            (Some(x), Some(y)) => x.cmp(y),
            (x, y) => x.is_none().cmp(&y.is_none()),
        })
    });
    personas
}

/// Customers per (segment, value code).
fn value_counts<'a>(rows: impl Iterator<Item = (usize, &'a [u32])>, segs: &Segments) -> Vec<HashMap<u32, u64>> {
    let mut counts = vec![HashMap::new(); segs.count];
    for (row, codes) in rows {
        for &c in codes {
            if c != NO_CODE {
                *counts[segs.of_row[row]].entry(c).or_insert(0) += 1;
            }
        }
    }
    counts
}

fn to_shares(per_segment: &[HashMap<u32, u64>], segs: &Segments) -> Vec<HashMap<u32, f64>> {
    per_segment
        .iter()
        .enumerate()
        .map(|(s, counts)| counts.iter().map(|(c, k)| (*c, *k as f64 / segs.sizes[s].max(1) as f64)).collect())
        .collect()
}

fn describe_values(
    attribute: &super::table::Attribute,
    values: &[String],
    per_segment: &[HashMap<u32, u64>],
    segs: &Segments,
    n: f64,
    out: &mut [Vec<CategoryStat>],
) {
    let mut population = vec![0u64; values.len()];
    for counts in per_segment {
        for (c, k) in counts {
            population[*c as usize] += k;
        }
    }
    for (s, counts) in per_segment.iter().enumerate() {
        let size = segs.sizes[s] as f64;
        let mut stats: Vec<CategoryStat> = counts
            .iter()
            .map(|(&c, &k)| {
                let share = k as f64 / size;
                let p = population[c as usize] as f64 / n;
                let spread = (p * (1.0 - p)).sqrt();
                CategoryStat {
                    attribute: attribute.name.clone(),
                    kind: attribute.kind,
                    value: values[c as usize].clone(),
                    customers: k,
                    share,
                    population_share: p,
                    lift: share / p,
                    std_diff: if spread > 0.0 { (share - p) / spread } else { 0.0 },
                }
            })
            .collect();
        stats.sort_by(|a, b| b.customers.cmp(&a.customers).then_with(|| a.value.cmp(&b.value)));
        out[s].extend(stats);
    }
}

/// The customer nearest each segment's centre (None without keys or rows).
fn representatives(
    table: &Table,
    segs: &Segments,
    scales: &[(f64, f64)],
    shares: &[Vec<HashMap<u32, f64>>],
) -> Vec<Option<Key>> {
    let distance: Vec<f64> = if table.dimensions > 0 {
        let d = table.dimensions;
        let mut centres = vec![0f64; segs.count * d];
        for (vector, &s) in table.vectors.chunks_exact(d).zip(&segs.of_row) {
            for (c, x) in centres[s * d..(s + 1) * d].iter_mut().zip(vector) {
                *c += f64::from(*x);
            }
        }
        for (centre, size) in centres.chunks_exact_mut(d).zip(&segs.sizes) {
            for c in centre {
                *c /= (*size).max(1) as f64;
            }
        }
        table
            .vectors
            .chunks_exact(d)
            .zip(&segs.of_row)
            .map(|(vector, &s)| {
                let centre = &centres[s * d..(s + 1) * d];
                vector.iter().zip(centre).map(|(x, c)| (f64::from(*x) - c).powi(2)).sum()
            })
            .collect()
    } else {
        attribute_distances(table, segs, scales, shares)
    };
    let mut best: Vec<Option<(f64, &Key)>> = vec![None; segs.count];
    for ((key, &s), &d) in table.keys.iter().zip(&segs.of_row).zip(&distance) {
        let Some(key) = key else { continue };
        let better = match best[s] {
            None => true,
            Some((bd, bk)) => d < bd || (d == bd && key < bk),
        };
        if better {
            best[s] = Some((d, key));
        }
    }
    best.into_iter().map(|b| b.map(|(_, k)| k.clone())).collect()
}

/// Squared distance of every row to its segment's centre in attribute space.
fn attribute_distances(
    table: &Table,
    segs: &Segments,
    scales: &[(f64, f64)],
    shares: &[Vec<HashMap<u32, f64>>],
) -> Vec<f64> {
    let rows = table.rows();
    let mut distance = vec![0f64; rows];
    for (a, attribute) in table.attributes.iter().enumerate() {
        match &attribute.column {
            AttributeColumn::Numeric(values) => {
                let (mean, std) = scales[a];
                let z = |v: f64| if v.is_nan() { 0.0 } else { (v - mean) / std };
                let mut centre = vec![0f64; segs.count];
                for (&v, &s) in values.iter().zip(&segs.of_row) {
                    centre[s] += z(v);
                }
                for (c, size) in centre.iter_mut().zip(&segs.sizes) {
                    *c /= (*size).max(1) as f64;
                }
                for ((d, &v), &s) in distance.iter_mut().zip(values).zip(&segs.of_row) {
                    *d += (z(v) - centre[s]).powi(2);
                }
            }
            AttributeColumn::Categorical { codes, .. } => {
                let squares: Vec<f64> = shares[a].iter().map(|m| m.values().map(|p| p * p).sum()).collect();
                for ((d, code), &s) in distance.iter_mut().zip(codes).zip(&segs.of_row) {
                    // |onehot(v) - p|² = Σp² - 2 p_v + 1 (just Σp² for NULL)
                    *d += squares[s];
                    if *code != NO_CODE {
                        *d += 1.0 - 2.0 * shares[a][s].get(code).copied().unwrap_or(0.0);
                    }
                }
            }
            AttributeColumn::Tags { starts, codes, .. } => {
                let squares: Vec<f64> = shares[a].iter().map(|m| m.values().map(|p| p * p).sum()).collect();
                for ((d, bounds), &s) in distance.iter_mut().zip(starts.windows(2)).zip(&segs.of_row) {
                    *d += squares[s];
                    for c in &codes[bounds[0] as usize..bounds[1] as usize] {
                        *d += 1.0 - 2.0 * shares[a][s].get(c).copied().unwrap_or(0.0);
                    }
                }
            }
        }
    }
    distance
}
