//! Turning one customer's values into a vector with a fitted profile.
//!
//! [`Encoder`] is built once from a [`FittedProfile`] (hash maps for the
//! vocabularies, offsets for every feature) and then writes row after row into
//! a zeroed `[f32]` buffer. Per feature the caller passes the column's value in
//! the form the feature reads: a number, a category's text, or a tag list.
//!
//! Policies at vector time:
//! - NULL and NaN are missing: replaced by the fitted imputation, 22004 when the
//!   spec said `"missing": "error"`.
//! - ±Infinity is 22023 (scikit-learn refuses it too); so is `log1p` of a value <= -1.
//! - A value that does not fit in `real` after the transform is 22003.
//! - A category outside the vocabulary: infrequent at fit time → 'other' (or
//!   nothing when the feature has no 'other'); never seen → the `unseen` policy.

use super::fitted::{Encoding, FittedProfile, Impute, NumberEncoding, VocabularyEncoding};
use super::spec::Unseen;
use crate::error::{Error, Result, SqlState};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A multiply-rotate hash (as rustc's FxHash) for the vocabulary lookups done
/// per row: keys are short labels we fitted ourselves, so SipHash's DoS
/// resistance buys nothing here and costs most of a lookup.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(tail) ^ rest.len() as u64).wrapping_mul(K);
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

/// The compiled transform of one fitted profile.
#[derive(Debug)]
pub struct Encoder {
    pub features: Vec<FeatureEncoder>,
    pub dimensions: usize,
}

/// How one feature reads its column and where it writes.
#[derive(Debug)]
pub struct FeatureEncoder {
    pub name: String,
    pub column: String,
    pub offset: usize,
    pub input: Input,
    rule: Rule,
}

/// What a feature needs from its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Number,
    Boolean,
    Category,
    Tags,
}

#[derive(Debug)]
enum Rule {
    Number(NumberEncoding),
    Vocabulary(VocabularyRule),
}

#[derive(Debug)]
struct VocabularyRule {
    index: FastMap<Box<str>, usize>,
    other: Option<usize>,
    unseen: Unseen,
    infrequent: FastSet<Box<str>>,
    impute_category: Impute<String>,
    impute_tags: Impute<Vec<String>>,
}

/// Where an out-of-vocabulary value goes.
enum Outside {
    Nowhere,
    Other(usize),
}

impl Encoder {
    pub fn new(profile: &FittedProfile) -> Encoder {
        let mut offset = 0;
        let features = profile
            .features
            .iter()
            .map(|f| {
                let (input, rule) = match &f.encoding {
                    Encoding::Numeric(n) => (Input::Number, Rule::Number(n.clone())),
                    Encoding::Boolean(n) => (Input::Boolean, Rule::Number(n.clone())),
                    Encoding::Categorical(v) => {
                        (Input::Category, Rule::Vocabulary(VocabularyRule::new(v, v.impute.clone(), Impute::Zeros)))
                    }
                    Encoding::Tags(v) => (Input::Tags, Rule::Vocabulary(VocabularyRule::new(v, Impute::Zeros, v.impute.clone()))),
                };
                let encoder = FeatureEncoder { name: f.name.clone(), column: f.column.clone(), offset, input, rule };
                offset += f.width();
                encoder
            })
            .collect();
        Encoder { features, dimensions: offset }
    }
}

impl VocabularyRule {
    fn new<T>(v: &VocabularyEncoding<T>, impute_category: Impute<String>, impute_tags: Impute<Vec<String>>) -> Self {
        VocabularyRule {
            index: v.vocabulary.iter().enumerate().map(|(i, value)| (value.as_str().into(), i)).collect(),
            other: v.other.then_some(v.vocabulary.len()),
            unseen: v.unseen,
            infrequent: v.infrequent.iter().map(|value| value.as_str().into()).collect(),
            impute_category,
            impute_tags,
        }
    }

    /// The position (relative to the feature) of a value, if it has one.
    fn place(&self, feature: &FeatureEncoder, value: &str) -> Result<Option<usize>> {
        if let Some(&i) = self.index.get(value) {
            return Ok(Some(i));
        }
        let outside = if self.unseen == Unseen::Other || self.infrequent.contains(value) {
            // infrequent at fit time (or unseen treated alike): the 'other' position
            self.other.map_or(Outside::Nowhere, Outside::Other)
        } else {
            match self.unseen {
                Unseen::Error => {
                    return Err(Error::invalid_parameter(format!(
                        "feature \"{}\" has no category \"{}\"",
                        feature.name, value
                    ))
                    .with_detail(format!("column \"{}\" held a value not seen when the profile was fitted", feature.column))
                    .with_hint("refit the profile, or set \"unseen\" to \"other\" or \"ignore\" in its spec"))
                }
                _ => Outside::Nowhere,
            }
        };
        Ok(match outside {
            Outside::Nowhere => None,
            Outside::Other(i) => Some(i),
        })
    }
}

fn missing_error(feature: &FeatureEncoder) -> Error {
    Error::null_not_allowed(&format!("feature \"{}\"", feature.name))
        .with_detail(format!("column \"{}\" is NULL and the profile's missing policy is \"error\"", feature.column))
        .with_hint("pass a value, or refit with another \"missing\" policy such as \"median\" or \"most_frequent\"")
}

/// 22023 for an infinite input, shared by fit and vector time.
pub fn infinite_error(name: &str, column: &str, value: f64) -> Error {
    Error::invalid_parameter(format!("feature \"{name}\" cannot use {value}"))
        .with_detail(format!("column \"{column}\" holds an infinite value"))
        .with_hint("filter or cap infinite values in a view; NULL and NaN count as missing")
}

/// 22023 for log1p of a value at or below -1, shared by fit and vector time.
pub fn log1p_error(name: &str, column: &str, value: f64) -> Error {
    Error::invalid_parameter(format!("feature \"{name}\" cannot take log1p of {value}"))
        .with_detail(format!("log1p needs values greater than -1; column \"{column}\" held {value}"))
        .with_hint("shift the column in a view, or use another transform")
}

impl FeatureEncoder {
    /// A numeric or boolean feature (booleans as 0 or 1); `None` is NULL.
    pub fn write_number(&self, value: Option<f64>, out: &mut [f32]) -> Result<()> {
        let Rule::Number(n) = &self.rule else {
            return Err(Error::internal(format!("feature \"{}\" does not read numbers", self.name)));
        };
        let mut x = match value.filter(|v| !v.is_nan()) {
            Some(v) => v,
            None => match n.impute {
                Impute::Value(v) => v,
                Impute::Error => return Err(missing_error(self)),
                Impute::Zeros => return Ok(()),
            },
        };
        if x.is_infinite() {
            return Err(infinite_error(&self.name, &self.column, x));
        }
        for step in &n.steps {
            if matches!(step, super::fitted::FittedStep::Log1p) && x <= -1.0 {
                return Err(log1p_error(&self.name, &self.column, x));
            }
            x = step.apply(x);
        }
        if let Some(lo) = n.clip.0 {
            x = x.max(lo);
        }
        if let Some(hi) = n.clip.1 {
            x = x.min(hi);
        }
        let narrow = x as f32;
        if !narrow.is_finite() {
            return Err(Error::new(
                SqlState::NumericValueOutOfRange,
                format!("feature \"{}\" is out of range for type real", self.name),
            )
            .with_detail(format!("the transformed value is {x:e}"))
            .with_hint("use a log1p or scaling transform, or clip the feature"));
        }
        out[self.offset] = narrow;
        Ok(())
    }

    /// A categorical feature; `None` is NULL.
    pub fn write_category(&self, value: Option<&str>, out: &mut [f32]) -> Result<()> {
        let Rule::Vocabulary(rule) = &self.rule else {
            return Err(Error::internal(format!("feature \"{}\" does not read categories", self.name)));
        };
        let value = match value {
            Some(v) => v,
            None => match &rule.impute_category {
                Impute::Value(v) => v.as_str(),
                Impute::Error => return Err(missing_error(self)),
                Impute::Zeros => return Ok(()),
            },
        };
        if let Some(i) = rule.place(self, value)? {
            out[self.offset + i] = 1.0;
        }
        Ok(())
    }

    /// A tags feature; `None` is a NULL array, NULL elements are skipped.
    pub fn write_tags(&self, tags: Option<&mut dyn Iterator<Item = Option<&str>>>, out: &mut [f32]) -> Result<()> {
        let Rule::Vocabulary(rule) = &self.rule else {
            return Err(Error::internal(format!("feature \"{}\" does not read tags", self.name)));
        };
        match tags {
            Some(tags) => {
                for tag in tags.flatten() {
                    if let Some(i) = rule.place(self, tag)? {
                        out[self.offset + i] = 1.0;
                    }
                }
            }
            None => match &rule.impute_tags {
                Impute::Value(list) => {
                    for tag in list {
                        if let Some(i) = rule.place(self, tag)? {
                            out[self.offset + i] = 1.0;
                        }
                    }
                }
                Impute::Error => return Err(missing_error(self)),
                Impute::Zeros => {}
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::fitted::{FittedFeature, FittedStep, FORMAT};

    fn vocab(other: bool, unseen: Unseen, infrequent: &[&str]) -> VocabularyEncoding<String> {
        VocabularyEncoding {
            impute: Impute::Value("b".into()),
            vocabulary: vec!["a".into(), "b".into()],
            counts: vec![5, 3],
            other,
            other_count: 2,
            unseen,
            infrequent: infrequent.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn profile(features: Vec<(&str, Encoding)>) -> FittedProfile {
        FittedProfile {
            format: FORMAT,
            rows: 10,
            features: features
                .into_iter()
                .map(|(name, encoding)| FittedFeature { name: name.into(), column: name.into(), nulls: 0, encoding })
                .collect(),
        }
    }

    fn number(impute: Impute<f64>, steps: Vec<FittedStep>, clip: (Option<f64>, Option<f64>)) -> Encoding {
        Encoding::Numeric(NumberEncoding { impute, steps, clip })
    }

    #[test]
    fn numbers_are_imputed_transformed_and_clipped() {
        let p = profile(vec![(
            "x",
            number(Impute::Value(3.0), vec![FittedStep::Zscore { mean: 1.0, scale: 2.0 }], (Some(-1.0), Some(1.5))),
        )]);
        let e = Encoder::new(&p);
        let mut out = [0.0f32];
        let f = &e.features[0];
        for (input, expected) in [(Some(2.0), 0.5), (None, 1.0), (Some(f64::NAN), 1.0), (Some(100.0), 1.5), (Some(-100.0), -1.0)] {
            f.write_number(input, &mut out).unwrap();
            assert_eq!(out[0], expected, "input {input:?}");
        }
        let err = f.write_number(Some(f64::INFINITY), &mut out).unwrap_err();
        assert_eq!((err.state, err.message.as_str()), (SqlState::InvalidParameterValue, "feature \"x\" cannot use inf"));
    }

    #[test]
    fn missing_error_and_range_errors() {
        let p = profile(vec![("x", number(Impute::Error, vec![FittedStep::Log1p], (None, None)))]);
        let e = Encoder::new(&p);
        let mut out = [0.0f32];
        let err = e.features[0].write_number(None, &mut out).unwrap_err();
        assert_eq!((err.state, err.message.as_str()), (SqlState::NullValueNotAllowed, "feature \"x\" must not be null"));
        let err = e.features[0].write_number(Some(-1.0), &mut out).unwrap_err();
        assert_eq!(err.message, "feature \"x\" cannot take log1p of -1");
        let p = profile(vec![("x", number(Impute::Error, vec![FittedStep::None], (None, None)))]);
        let err = Encoder::new(&p).features[0].write_number(Some(1e300), &mut out).unwrap_err();
        assert_eq!(err.state, SqlState::NumericValueOutOfRange);
    }

    #[test]
    fn categories_one_hot_with_other_and_unseen() {
        let p = profile(vec![
            ("c", Encoding::Categorical(vocab(true, Unseen::Other, &[]))),
            ("d", Encoding::Categorical(vocab(true, Unseen::Ignore, &["rare"]))),
            ("e", Encoding::Categorical(vocab(false, Unseen::Error, &["rare"]))),
        ]);
        let e = Encoder::new(&p);
        assert_eq!(e.dimensions, 8);
        let row = |c: Option<&str>, d: Option<&str>, g: Option<&str>| {
            let mut out = vec![0.0f32; 8];
            e.features[0].write_category(c, &mut out)?;
            e.features[1].write_category(d, &mut out)?;
            e.features[2].write_category(g, &mut out)?;
            Ok::<_, Error>(out)
        };
        assert_eq!(row(Some("a"), Some("b"), Some("a")).unwrap(), [1., 0., 0., 0., 1., 0., 1., 0.]);
        // NULL imputes "b"; unseen goes to other (c) or nowhere (d); infrequent "rare" goes to other (d)
        assert_eq!(row(None, Some("new"), Some("b")).unwrap(), [0., 1., 0., 0., 0., 0., 0., 1.]);
        assert_eq!(row(Some("new"), Some("rare"), Some("rare")).unwrap(), [0., 0., 1., 0., 0., 1., 0., 0.]);
        let err = row(Some("a"), Some("a"), Some("new")).unwrap_err();
        assert_eq!((err.state, err.message.as_str()), (SqlState::InvalidParameterValue, "feature \"e\" has no category \"new\""));
    }

    #[test]
    fn tags_multi_hot() {
        let mut v: VocabularyEncoding<Vec<String>> = VocabularyEncoding {
            impute: Impute::Value(vec!["a".into()]),
            vocabulary: vec!["a".into(), "b".into(), "c".into()],
            counts: vec![1, 1, 1],
            other: true,
            other_count: 0,
            unseen: Unseen::Other,
            infrequent: vec![],
        };
        let e = Encoder::new(&profile(vec![("t", Encoding::Tags(v.clone()))]));
        let mut out = vec![0.0f32; 4];
        let mut tags = [Some("c"), None, Some("a"), Some("c"), Some("zzz")].into_iter();
        e.features[0].write_tags(Some(&mut tags), &mut out).unwrap();
        assert_eq!(out, [1., 0., 1., 1.]);
        let mut out = vec![0.0f32; 4];
        e.features[0].write_tags(None, &mut out).unwrap();
        assert_eq!(out, [1., 0., 0., 0.]);
        v.impute = Impute::Error;
        let e = Encoder::new(&profile(vec![("t", Encoding::Tags(v))]));
        assert_eq!(e.features[0].write_tags(None, &mut out).unwrap_err().state, SqlState::NullValueNotAllowed);
    }
}
