//! Fitting a spec: from the values of every feature's column to a [`FittedProfile`].
//!
//! Like a scikit-learn `Pipeline(SimpleImputer, transformer)` inside a
//! ColumnTransformer: NULLs are imputed first, then each transform step is
//! fitted on the output of the previous one. An all-NULL column has nothing to
//! impute from: numeric features then read 0 (so every transform yields 0) and
//! categorical features have an empty vocabulary; both are reported as notes.

use super::encode::{infinite_error, log1p_error};
use super::fitted::{
    Encoding, FittedFeature, FittedProfile, FittedStep, Impute, NumberEncoding, VocabularyEncoding, FORMAT,
};
use super::spec::{FeatureKind, FeatureSpec, FillValue, MinFrequency, Missing, Spec, Step};
use super::stats;
use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};

/// The values of one feature's column, gathered row by row.
#[derive(Debug)]
pub enum Column {
    Numbers { values: Vec<f64>, nulls: u64 },
    Categories { counts: HashMap<String, u64>, nulls: u64 },
    /// `counts`: rows containing each tag.
    Tags { counts: HashMap<String, u64>, nulls: u64 },
}

/// Gathers one feature's values; knows the feature for its error messages.
#[derive(Debug)]
pub struct Collector<'a> {
    pub feature: &'a FeatureSpec,
    pub column: Column,
}

impl<'a> Collector<'a> {
    pub fn new(feature: &'a FeatureSpec) -> Self {
        let column = match feature.kind {
            FeatureKind::Numeric | FeatureKind::Boolean => Column::Numbers { values: Vec::new(), nulls: 0 },
            FeatureKind::Categorical => Column::Categories { counts: HashMap::new(), nulls: 0 },
            FeatureKind::Tags => Column::Tags { counts: HashMap::new(), nulls: 0 },
        };
        Collector { feature, column }
    }

    /// A number (booleans as 0/1); NULL and NaN are missing, ±Infinity is an error.
    pub fn push_number(&mut self, value: Option<f64>) -> Result<()> {
        let Column::Numbers { values, nulls } = &mut self.column else {
            return Err(Error::internal("push_number on a non-numeric feature"));
        };
        match value.filter(|v| !v.is_nan()) {
            None => *nulls += 1,
            Some(v) if v.is_infinite() => return Err(infinite_error(&self.feature.name, &self.feature.column, v)),
            Some(v) => values.push(v),
        }
        Ok(())
    }

    pub fn push_category(&mut self, value: Option<&str>) -> Result<()> {
        let Column::Categories { counts, nulls } = &mut self.column else {
            return Err(Error::internal("push_category on a non-categorical feature"));
        };
        match value {
            None => *nulls += 1,
            Some(v) => count(counts, v, 1),
        }
        Ok(())
    }

    /// One row's tags (`None`: a NULL array); a tag counts once per row.
    pub fn push_tags(&mut self, tags: Option<&mut dyn Iterator<Item = Option<&str>>>) -> Result<()> {
        let Column::Tags { counts, nulls } = &mut self.column else {
            return Err(Error::internal("push_tags on a non-tags feature"));
        };
        match tags {
            None => *nulls += 1,
            Some(tags) => {
                let distinct: HashSet<&str> = tags.flatten().collect();
                for tag in distinct {
                    count(counts, tag, 1);
                }
            }
        }
        Ok(())
    }
}

fn count(counts: &mut HashMap<String, u64>, value: &str, n: u64) {
    if let Some(c) = counts.get_mut(value) {
        *c += n;
    } else {
        counts.insert(value.to_string(), n);
    }
}

/// Limits a fit respects (from GUCs).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most values one categorical or tags feature may keep.
    pub max_categories: usize,
}

/// A fitted profile and notes worth telling the user (all-NULL columns...).
#[derive(Debug)]
pub struct Fit {
    pub profile: FittedProfile,
    pub notes: Vec<String>,
}

/// Fits every feature of `spec` from its collector; `rows` is the relation's row count.
pub fn fit(spec: &Spec, collectors: Vec<Collector>, rows: u64, limits: Limits) -> Result<Fit> {
    debug_assert_eq!(spec.features.len(), collectors.len());
    let mut notes = Vec::new();
    let features = collectors
        .into_iter()
        .map(|collector| {
            let f = collector.feature;
            let (nulls, encoding) = match collector.column {
                Column::Numbers { values, nulls } => (nulls, fit_number(f, values, nulls, &mut notes)?),
                Column::Categories { counts, nulls } => {
                    let impute = match vocabulary_impute(f, &counts, nulls, &mut notes)? {
                        Impute::Value(FillValue::Text(v)) => Impute::Value(v),
                        Impute::Value(_) => return Err(Error::internal("categorical fill value is not text")),
                        Impute::Error => Impute::Error,
                        Impute::Zeros => Impute::Zeros,
                    };
                    let mut counts = counts;
                    if let Impute::Value(v) = &impute {
                        count(&mut counts, v, nulls);
                    }
                    (nulls, Encoding::Categorical(fit_vocabulary(f, counts, rows, impute, limits)?))
                }
                Column::Tags { counts, nulls } => {
                    let impute = match vocabulary_impute(f, &counts, nulls, &mut notes)? {
                        Impute::Value(FillValue::Tags(v)) => Impute::Value(v),
                        Impute::Value(FillValue::Text(v)) => Impute::Value(vec![v]),
                        Impute::Value(FillValue::Number(_)) => return Err(Error::internal("tags fill value is a number")),
                        Impute::Error => Impute::Error,
                        Impute::Zeros => Impute::Zeros,
                    };
                    let mut counts = counts;
                    if let Impute::Value(list) = &impute {
                        let distinct: HashSet<&String> = list.iter().collect();
                        for tag in distinct {
                            count(&mut counts, tag, nulls);
                        }
                    }
                    (nulls, Encoding::Tags(fit_vocabulary(f, counts, rows, impute, limits)?))
                }
            };
            Ok(FittedFeature { name: f.name.clone(), column: f.column.clone(), nulls, encoding })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Fit { profile: FittedProfile { format: FORMAT, rows, features }, notes })
}

/// `1 row`, `2 rows`: counts in messages read as English.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn nulls_refused(f: &FeatureSpec, nulls: u64) -> Error {
    Error::null_not_allowed(&format!("feature \"{}\"", f.name)).with_detail(format!(
        "column \"{}\" has {} and the feature's missing policy is \"error\"",
        f.column,
        plural(nulls, "NULL value", "NULL values")
    ))
        .with_hint("choose another \"missing\" policy, such as \"median\", \"most_frequent\" or \"constant\"")
}

fn no_values_note(f: &FeatureSpec) -> String {
    format!("feature \"{}\": column \"{}\" has no values; every customer gets 0 for it", f.name, f.column)
}

fn fit_number(f: &FeatureSpec, mut values: Vec<f64>, nulls: u64, notes: &mut Vec<String>) -> Result<Encoding> {
    stats::sort_numbers(&mut values);
    let present = !values.is_empty();
    if !present {
        notes.push(no_values_note(f));
    }
    let impute = match &f.missing {
        Missing::Error if nulls > 0 => return Err(nulls_refused(f, nulls)),
        Missing::Error => Impute::Error,
        Missing::Constant(FillValue::Number(v)) => Impute::Value(*v),
        Missing::Constant(_) => return Err(Error::internal("numeric fill value is not a number")),
        Missing::Mean => Impute::Value(stats::mean_and_variance(&values).0),
        Missing::Median => Impute::Value(stats::median_sorted(&values)),
        Missing::MostFrequent => Impute::Value(stats::mode_sorted(&values).unwrap_or(0.0)),
    };
    if let Impute::Value(v) = impute {
        values.extend(std::iter::repeat_n(v, nulls as usize));
        stats::sort_numbers(&mut values);
    }
    let mut steps = Vec::with_capacity(f.steps.len());
    for (i, step) in f.steps.iter().enumerate() {
        let fitted = fit_step(f, *step, &values)?;
        if i + 1 < f.steps.len() {
            // the next step is fitted on this one's output (monotone, so still sorted)
            for v in values.iter_mut() {
                *v = fitted.apply(*v);
            }
        }
        steps.push(fitted);
    }
    let encoding = NumberEncoding { impute, steps, clip: f.clip };
    Ok(if f.kind == FeatureKind::Boolean { Encoding::Boolean(encoding) } else { Encoding::Numeric(encoding) })
}

/// Fits one step on sorted values.
fn fit_step(f: &FeatureSpec, step: Step, sorted: &[f64]) -> Result<FittedStep> {
    let fitted = match step {
        Step::None => FittedStep::None,
        Step::Log1p => {
            if let Some(&lowest) = sorted.first().filter(|v| **v <= -1.0) {
                return Err(log1p_error(&f.name, &f.column, lowest));
            }
            FittedStep::Log1p
        }
        Step::ZScore => {
            let (mean, scale) = stats::standard_scale(sorted);
            FittedStep::Zscore { mean, scale }
        }
        Step::MinMax => {
            let (min, max) = match (sorted.first(), sorted.last()) {
                (Some(lo), Some(hi)) => (*lo, *hi),
                _ => (0.0, 0.0),
            };
            let scale = 1.0 / stats::scale_or_one(max - min);
            FittedStep::Minmax { scale, offset: -min * scale, min, max }
        }
        Step::Robust => {
            let center = stats::median_sorted(sorted);
            let (lo, hi) = f.quantile_range;
            let iqr = stats::percentile_sorted(sorted, hi) - stats::percentile_sorted(sorted, lo);
            FittedStep::Robust { center, scale: stats::scale_or_one(iqr) }
        }
    };
    let finite = match fitted {
        FittedStep::None | FittedStep::Log1p => true,
        FittedStep::Zscore { mean, scale } | FittedStep::Robust { center: mean, scale } => mean.is_finite() && scale.is_finite(),
        FittedStep::Minmax { scale, offset, .. } => scale.is_finite() && offset.is_finite(),
    };
    if !finite {
        return Err(Error::new(
            crate::error::SqlState::NumericValueOutOfRange,
            format!("feature \"{}\": the {} statistics of column \"{}\" overflow", f.name, step.name(), f.column),
        )
        .with_hint("the values are too large for double precision arithmetic; scale them down or add log1p first"));
    }
    Ok(fitted)
}

fn vocabulary_impute(
    f: &FeatureSpec,
    counts: &HashMap<String, u64>,
    nulls: u64,
    notes: &mut Vec<String>,
) -> Result<Impute<FillValue>> {
    Ok(match &f.missing {
        Missing::Error if nulls > 0 => return Err(nulls_refused(f, nulls)),
        Missing::Error => Impute::Error,
        Missing::Constant(v) => Impute::Value(v.clone()),
        Missing::MostFrequent if f.kind == FeatureKind::Tags => {
            // the most frequent tag set is ill-defined; the most frequent tag is not
            match stats::mode_text(counts) {
                Some(v) => Impute::Value(FillValue::Tags(vec![v.to_string()])),
                None => Impute::Value(FillValue::Tags(vec![])),
            }
        }
        Missing::MostFrequent => match stats::mode_text(counts) {
            Some(v) => Impute::Value(FillValue::Text(v.to_string())),
            None => {
                notes.push(no_values_note(f));
                Impute::Zeros
            }
        },
        Missing::Mean | Missing::Median => {
            return Err(Error::internal(format!("feature \"{}\": mean/median on a vocabulary", f.name)))
        }
    })
}

fn fit_vocabulary<T>(
    f: &FeatureSpec,
    counts: HashMap<String, u64>,
    rows: u64,
    impute: Impute<T>,
    limits: Limits,
) -> Result<VocabularyEncoding<T>> {
    let min_count = f.min_frequency.map(|m| match m {
        MinFrequency::Count(n) => n as f64,
        MinFrequency::Share(share) => share * rows as f64,
    });
    let vocabulary = stats::choose_vocabulary(&counts, min_count, f.top);
    if vocabulary.kept.len() > limits.max_categories {
        return Err(Error::limit_exceeded(format!(
            "feature \"{}\" would keep {} values, more than pg_segment.profile_max_categories ({})",
            f.name,
            vocabulary.kept.len(),
            limits.max_categories
        ))
        .with_hint("set \"top\" (for example 20) or \"min_frequency\" in the spec, or raise pg_segment.profile_max_categories"));
    }
    let infrequent = if VocabularyEncoding::<T>::needs_infrequent(f.other, f.unseen) {
        let kept: HashSet<&str> = vocabulary.kept.iter().map(|(v, _)| v.as_str()).collect();
        let mut rest: Vec<String> = counts.keys().filter(|k| !kept.contains(k.as_str())).cloned().collect();
        rest.sort_unstable();
        rest
    } else {
        Vec::new()
    };
    // for tags this counts (row, tag) pairs left out, not rows with any left out
    let other_count = vocabulary.other_count;
    let (values, value_counts) = vocabulary.kept.into_iter().unzip();
    Ok(VocabularyEncoding {
        impute,
        vocabulary: values,
        counts: value_counts,
        other: f.other,
        other_count,
        unseen: f.unseen,
        infrequent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;
    use crate::profile::encode::Encoder;
    use crate::profile::spec::{parse_spec, ColumnType, Columns};
    use serde_json::json;

    const LIMITS: Limits = Limits { max_categories: 1000 };

    fn spec(features: serde_json::Value) -> Spec {
        let list = vec![
            ("x".to_string(), ColumnType::Number),
            ("flag".to_string(), ColumnType::Boolean),
            ("city".to_string(), ColumnType::Text),
            ("tags".to_string(), ColumnType::TextArray),
        ];
        parse_spec(&json!({ "features": features }), &Columns { relation: "t", list: &list }).unwrap()
    }

    fn fit_numbers(features: serde_json::Value, xs: &[Option<f64>]) -> Result<Fit> {
        let s = spec(features);
        let mut c = Collector::new(&s.features[0]);
        for x in xs {
            c.push_number(*x)?;
        }
        fit(&s, vec![c], xs.len() as u64, LIMITS)
    }

    fn steps(fit: &Fit) -> (Impute<f64>, Vec<FittedStep>) {
        match &fit.profile.features[0].encoding {
            Encoding::Numeric(n) | Encoding::Boolean(n) => (n.impute.clone(), n.steps.clone()),
            other => panic!("not numeric: {other:?}"),
        }
    }

    #[test]
    fn zscore_after_mean_imputation() {
        // values 1, 2, 3, NULL → impute 2 → [1, 2, 3, 2]: mean 2, population std sqrt(0.5)
        let f = fit_numbers(json!([{"column": "x"}]), &[Some(1.0), Some(2.0), None, Some(3.0)]).unwrap();
        let (impute, s) = steps(&f);
        assert_eq!(impute, Impute::Value(2.0));
        assert_eq!(s, vec![FittedStep::Zscore { mean: 2.0, scale: 0.5f64.sqrt() }]);
        assert_eq!(f.profile.features[0].nulls, 1);
    }

    #[test]
    fn minmax_robust_and_chains() {
        let xs = [Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(10.0)];
        let f = fit_numbers(json!([{"column": "x", "transform": "minmax"}]), &xs).unwrap();
        assert_eq!(steps(&f).1, vec![FittedStep::Minmax { scale: 1.0 / 9.0, offset: -1.0 / 9.0, min: 1.0, max: 10.0 }]);
        // median 3, q25 = 2, q75 = 4 → IQR 2
        let f = fit_numbers(json!([{"column": "x", "transform": "robust"}]), &xs).unwrap();
        assert_eq!(steps(&f).1, vec![FittedStep::Robust { center: 3.0, scale: 2.0 }]);
        // log1p then zscore: the scaler sees log1p values
        let f = fit_numbers(json!([{"column": "x", "transform": ["log1p", "zscore"]}]), &[Some(0.0), Some(std::f64::consts::E - 1.0)]).unwrap();
        let s = steps(&f).1;
        assert_eq!(s[0], FittedStep::Log1p);
        let FittedStep::Zscore { mean, scale } = s[1] else { panic!() };
        assert!((mean - 0.5).abs() < 1e-15 && (scale - 0.5).abs() < 1e-15);
    }

    #[test]
    fn zero_variance_and_all_null_never_give_nan() {
        let f = fit_numbers(json!([{"column": "x"}]), &[Some(7.0), Some(7.0), Some(7.0)]).unwrap();
        assert_eq!(steps(&f).1, vec![FittedStep::Zscore { mean: 7.0, scale: 1.0 }]);
        let f = fit_numbers(json!([{"column": "x", "transform": "minmax"}]), &[Some(7.0), Some(7.0)]).unwrap();
        assert_eq!(steps(&f).1, vec![FittedStep::Minmax { scale: 1.0, offset: -7.0, min: 7.0, max: 7.0 }]);
        for transform in ["zscore", "minmax", "robust", "log1p", "none"] {
            let f = fit_numbers(json!([{"column": "x", "transform": transform}]), &[None, None]).unwrap();
            assert_eq!(f.notes, vec!["feature \"x\": column \"x\" has no values; every customer gets 0 for it"]);
            let e = Encoder::new(&f.profile);
            let mut out = [9.0f32];
            e.features[0].write_number(None, &mut out).unwrap();
            assert_eq!(out[0], 0.0, "{transform}");
            e.features[0].write_number(Some(5.0), &mut out).unwrap();
            assert!(out[0].is_finite(), "{transform}");
        }
    }

    #[test]
    fn fit_time_errors() {
        let e = fit_numbers(json!([{"column": "x", "missing": "error"}]), &[Some(1.0), None, None]).unwrap_err();
        assert_eq!((e.state, e.message.as_str()), (SqlState::NullValueNotAllowed, "feature \"x\" must not be null"));
        assert_eq!(e.detail.as_deref(), Some("column \"x\" has 2 NULL values and the feature's missing policy is \"error\""));
        let e = fit_numbers(json!([{"column": "x"}]), &[Some(1.0), Some(f64::NEG_INFINITY)]).unwrap_err();
        assert_eq!((e.state, e.message.as_str()), (SqlState::InvalidParameterValue, "feature \"x\" cannot use -inf"));
        let e = fit_numbers(json!([{"column": "x", "transform": "log1p"}]), &[Some(1.0), Some(-2.0)]).unwrap_err();
        assert_eq!(e.message, "feature \"x\" cannot take log1p of -2");
        let e = fit_numbers(json!([{"column": "x"}]), &[Some(1e308), Some(-1e308), Some(1e308)]).unwrap_err();
        assert_eq!(e.state, SqlState::NumericValueOutOfRange);
    }

    #[test]
    fn numeric_imputation_policies() {
        let xs = [Some(1.0), Some(5.0), Some(5.0), Some(9.0), Some(100.0), None];
        let get = |policy: serde_json::Value| {
            let mut feature = json!({"column": "x", "transform": "none"});
            for (k, v) in policy.as_object().unwrap() {
                feature[k] = v.clone();
            }
            steps(&fit_numbers(json!([feature]), &xs).unwrap()).0
        };
        assert_eq!(get(json!({"missing": "mean"})), Impute::Value(24.0));
        assert_eq!(get(json!({"missing": "median"})), Impute::Value(5.0));
        assert_eq!(get(json!({"missing": "most_frequent"})), Impute::Value(5.0));
        assert_eq!(get(json!({"missing": "constant", "fill_value": -1})), Impute::Value(-1.0));
    }

    fn fit_categories(features: serde_json::Value, values: &[Option<&str>]) -> Result<Fit> {
        let s = spec(features);
        let mut c = Collector::new(&s.features[0]);
        for v in values {
            c.push_category(*v)?;
        }
        fit(&s, vec![c], values.len() as u64, LIMITS)
    }

    fn vocabulary(fit: &Fit) -> &VocabularyEncoding<String> {
        match &fit.profile.features[0].encoding {
            Encoding::Categorical(v) => v,
            other => panic!("not categorical: {other:?}"),
        }
    }

    #[test]
    fn categorical_vocabulary_imputation_and_other() {
        let values = [Some("b"), Some("a"), Some("b"), None, Some("c"), Some("d"), Some("b"), Some("a")];
        let f = fit_categories(json!([{"column": "city", "top": 2}]), &values).unwrap();
        let v = vocabulary(&f);
        // NULL imputed with the mode "b" (4 rows); top 2: b and a; c, d → other
        assert_eq!(v.impute, Impute::Value("b".to_string()));
        assert_eq!((v.vocabulary.clone(), v.counts.clone(), v.other_count), (vec!["a".into(), "b".into()], vec![2, 4], 2));
        assert!(v.infrequent.is_empty());
        let f = fit_categories(
            json!([{"column": "city", "top": 2, "unseen": "ignore", "missing": "constant", "fill_value": "zz"}]),
            &values,
        )
        .unwrap();
        let v = vocabulary(&f);
        assert_eq!(v.vocabulary, vec!["a".to_string(), "b".into()]);
        assert_eq!(v.infrequent, vec!["c".to_string(), "d".into(), "zz".into()]);
        // all NULL: empty vocabulary and a note
        let f = fit_categories(json!([{"column": "city"}]), &[None, None]).unwrap();
        assert_eq!(vocabulary(&f).impute, Impute::Zeros);
        assert_eq!(f.notes.len(), 1);
        let e = fit_categories(json!([{"column": "city"}]), &[Some("a"), Some("b"), Some("c")]);
        assert!(e.is_ok());
        let s = spec(json!([{"column": "city"}]));
        let mut c = Collector::new(&s.features[0]);
        for v in ["a", "b", "c"] {
            c.push_category(Some(v)).unwrap();
        }
        let e = fit(&s, vec![c], 3, Limits { max_categories: 2 }).unwrap_err();
        assert_eq!(e.state, SqlState::ProgramLimitExceeded);
        assert_eq!(e.message, "feature \"city\" would keep 3 values, more than pg_segment.profile_max_categories (2)");
    }

    #[test]
    fn tags_count_rows_not_occurrences() {
        let s = spec(json!([{"column": "tags", "min_frequency": 2}]));
        let mut c = Collector::new(&s.features[0]);
        let rows: [Option<Vec<Option<&str>>>; 4] = [
            Some(vec![Some("vip"), Some("vip"), Some("eco")]),
            Some(vec![Some("vip"), None]),
            None,
            Some(vec![]),
        ];
        for r in &rows {
            let mut it = r.as_ref().map(|v| v.clone().into_iter());
            c.push_tags(it.as_mut().map(|i| i as &mut dyn Iterator<Item = Option<&str>>)).unwrap();
        }
        let f = fit(&s, vec![c], 4, LIMITS).unwrap();
        let Encoding::Tags(v) = &f.profile.features[0].encoding else { panic!() };
        assert_eq!((v.vocabulary.clone(), v.counts.clone()), (vec!["vip".to_string()], vec![2]));
        assert_eq!(v.impute, Impute::Value(vec![]));
        assert_eq!(f.profile.features[0].nulls, 1);
    }
}
