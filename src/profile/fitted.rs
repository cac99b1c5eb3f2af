//! A fitted profile: every statistic the transform needs, stored as jsonb in
//! `profile_specs.fitted`, and the vector layout derived from it.

use super::spec::Unseen;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The version of the stored format; a library that reads a newer one refuses it.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedProfile {
    pub format: u32,
    /// Rows of the relation the statistics come from.
    pub rows: u64,
    pub features: Vec<FittedFeature>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedFeature {
    pub name: String,
    pub column: String,
    /// NULL (or NaN) values seen at fit time.
    pub nulls: u64,
    pub encoding: Encoding,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Numeric(NumberEncoding),
    Boolean(NumberEncoding),
    Categorical(VocabularyEncoding<String>),
    Tags(VocabularyEncoding<Vec<String>>),
}

/// What a NULL input becomes at vector time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute<T> {
    /// Replaced by this value before the transform.
    Value(T),
    /// 22004: the spec said `"missing": "error"`.
    Error,
    /// All positions 0 (a categorical column that had no values at all).
    Zeros,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumberEncoding {
    pub impute: Impute<f64>,
    pub steps: Vec<FittedStep>,
    pub clip: (Option<f64>, Option<f64>),
}

/// One fitted transform step, applied with the same floating-point operations
/// as its scikit-learn counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FittedStep {
    None,
    /// `(x - mean) / scale` (StandardScaler).
    Zscore { mean: f64, scale: f64 },
    /// `x * scale + offset` (MinMaxScaler's `scale_` and `min_`).
    Minmax { scale: f64, offset: f64, min: f64, max: f64 },
    /// `(x - center) / scale` (RobustScaler).
    Robust { center: f64, scale: f64 },
    Log1p,
}

impl FittedStep {
    pub fn apply(self, x: f64) -> f64 {
        match self {
            FittedStep::None => x,
            FittedStep::Zscore { mean, scale } => (x - mean) / scale,
            FittedStep::Minmax { scale, offset, .. } => x * scale + offset,
            FittedStep::Robust { center, scale } => (x - center) / scale,
            FittedStep::Log1p => x.ln_1p(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FittedStep::None => "none",
            FittedStep::Zscore { .. } => "zscore",
            FittedStep::Minmax { .. } => "minmax",
            FittedStep::Robust { .. } => "robust",
            FittedStep::Log1p => "log1p",
        }
    }

    fn statistics(self) -> Value {
        match self {
            FittedStep::None => json!({"step": "none"}),
            FittedStep::Log1p => json!({"step": "log1p"}),
            FittedStep::Zscore { mean, scale } => json!({"step": "zscore", "mean": mean, "std": scale}),
            FittedStep::Minmax { min, max, .. } => json!({"step": "minmax", "min": min, "max": max}),
            FittedStep::Robust { center, scale } => json!({"step": "robust", "median": center, "iqr": scale}),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VocabularyEncoding<T> {
    pub impute: Impute<T>,
    /// Values with their own position, ascending (the layout order).
    pub vocabulary: Vec<String>,
    /// Rows (for tags: rows containing the tag) per vocabulary value at fit time.
    pub counts: Vec<u64>,
    /// Whether the feature has an 'other' position after the vocabulary.
    pub other: bool,
    /// Rows whose value (tags: any tag) was left out of the vocabulary at fit time.
    pub other_count: u64,
    pub unseen: Unseen,
    /// Values seen at fit time but left out of the vocabulary; stored only when
    /// they must be told apart from never-seen ones (see [`Self::needs_infrequent`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub infrequent: Vec<String>,
}

impl<T> VocabularyEncoding<T> {
    /// Infrequent values go to 'other' (or nowhere when there is none); unseen
    /// values follow `unseen`. Only when those differ must the two be told apart.
    pub fn needs_infrequent(other: bool, unseen: Unseen) -> bool {
        match unseen {
            Unseen::Other => false,
            Unseen::Ignore => other,
            Unseen::Error => true,
        }
    }

    pub fn width(&self) -> usize {
        self.vocabulary.len() + usize::from(self.other)
    }
}

impl FittedFeature {
    /// How many vector positions this feature takes.
    pub fn width(&self) -> usize {
        match &self.encoding {
            Encoding::Numeric(_) | Encoding::Boolean(_) => 1,
            Encoding::Categorical(v) => v.width(),
            Encoding::Tags(v) => v.width(),
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match &self.encoding {
            Encoding::Numeric(_) => "numeric",
            Encoding::Boolean(_) => "boolean",
            Encoding::Categorical(_) => "categorical",
            Encoding::Tags(_) => "tags",
        }
    }
}

impl FittedProfile {
    pub fn dimensions(&self) -> usize {
        self.features.iter().map(FittedFeature::width).sum()
    }
}

/// One vector position, as `profile_layout()` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutRow {
    /// 1-based, like the subscripts of the real[] vector.
    pub position: i32,
    /// `spend`, `city=Boston`, `city=(other)`, `tags=vip`.
    pub feature: String,
    pub source: String,
    /// numeric, boolean, category, other, tag.
    pub kind: &'static str,
    /// The category or tag of a one-hot / multi-hot position.
    pub value: Option<String>,
    /// e.g. `log1p, zscore` or `one-hot`.
    pub transform: String,
    /// Fitted statistics of the position (mean and std, min and max, count and share...).
    pub statistics: Value,
}

/// The layout of a fitted profile: one row per vector position.
pub fn layout(profile: &FittedProfile) -> Vec<LayoutRow> {
    let mut rows = Vec::with_capacity(profile.dimensions());
    let share = |count: u64| if profile.rows == 0 { 0.0 } else { count as f64 / profile.rows as f64 };
    for feature in &profile.features {
        let mut push = |feature_name: String, kind, value, transform: String, statistics| {
            rows.push(LayoutRow {
                position: rows.len() as i32 + 1,
                feature: feature_name,
                source: feature.column.clone(),
                kind,
                value,
                transform,
                statistics,
            })
        };
        match &feature.encoding {
            Encoding::Numeric(n) | Encoding::Boolean(n) => {
                let kind = if matches!(feature.encoding, Encoding::Boolean(_)) { "boolean" } else { "numeric" };
                let transform = n.steps.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ");
                let impute = match &n.impute {
                    Impute::Value(v) => json!(v),
                    _ => Value::Null,
                };
                let stats = json!({
                    "steps": n.steps.iter().map(|s| s.statistics()).collect::<Vec<_>>(),
                    "clip": [n.clip.0, n.clip.1],
                    "impute": impute,
                    "nulls": feature.nulls,
                });
                push(feature.name.clone(), kind, None, transform, stats);
            }
            Encoding::Categorical(v) => push_vocabulary(&mut push, feature, v, "category", "one-hot", &share),
            Encoding::Tags(v) => push_vocabulary(&mut push, feature, v, "tag", "multi-hot", &share),
        }
    }
    rows
}

fn push_vocabulary<T>(
    push: &mut impl FnMut(String, &'static str, Option<String>, String, Value),
    feature: &FittedFeature,
    v: &VocabularyEncoding<T>,
    kind: &'static str,
    transform: &str,
    share: &dyn Fn(u64) -> f64,
) {
    for (value, count) in v.vocabulary.iter().zip(&v.counts) {
        let stats = json!({"count": count, "share": share(*count)});
        push(format!("{}={}", feature.name, value), kind, Some(value.clone()), transform.to_string(), stats);
    }
    if v.other {
        let stats = json!({"count": v.other_count, "share": share(v.other_count), "unseen": v.unseen});
        push(format!("{}=(other)", feature.name), "other", None, transform.to_string(), stats);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> FittedProfile {
        FittedProfile {
            format: FORMAT,
            rows: 10,
            features: vec![
                FittedFeature {
                    name: "spend".into(),
                    column: "spend".into(),
                    nulls: 1,
                    encoding: Encoding::Numeric(NumberEncoding {
                        impute: Impute::Value(5.0),
                        steps: vec![FittedStep::Log1p, FittedStep::Zscore { mean: 1.0, scale: 2.0 }],
                        clip: (None, Some(3.0)),
                    }),
                },
                FittedFeature {
                    name: "city".into(),
                    column: "city".into(),
                    nulls: 0,
                    encoding: Encoding::Categorical(VocabularyEncoding {
                        impute: Impute::Value("Austin".into()),
                        vocabulary: vec!["Austin".into(), "Boston".into()],
                        counts: vec![6, 3],
                        other: true,
                        other_count: 1,
                        unseen: Unseen::Other,
                        infrequent: vec![],
                    }),
                },
            ],
        }
    }

    #[test]
    fn round_trips_through_json() {
        let p = sample();
        let text = serde_json::to_string(&p).unwrap();
        let back: FittedProfile = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
        assert_eq!(p.dimensions(), 4);
    }

    #[test]
    fn layout_names_every_position() {
        let rows = layout(&sample());
        let names: Vec<_> = rows.iter().map(|r| (r.position, r.feature.as_str(), r.kind, r.transform.as_str())).collect();
        assert_eq!(
            names,
            [
                (1, "spend", "numeric", "log1p, zscore"),
                (2, "city=Austin", "category", "one-hot"),
                (3, "city=Boston", "category", "one-hot"),
                (4, "city=(other)", "other", "one-hot"),
            ]
        );
        assert_eq!(rows[1].value.as_deref(), Some("Austin"));
        assert_eq!(rows[1].statistics, json!({"count": 6, "share": 0.6}));
        assert_eq!(rows[0].statistics["steps"][1], json!({"step": "zscore", "mean": 1.0, "std": 2.0}));
        assert_eq!(rows[3].statistics["unseen"], json!("other"));
    }

    #[test]
    fn steps_apply_like_scikit_learn() {
        assert_eq!(FittedStep::Zscore { mean: 2.0, scale: 4.0 }.apply(10.0), 2.0);
        assert_eq!(FittedStep::Minmax { scale: 0.5, offset: -1.0, min: 2.0, max: 4.0 }.apply(3.0), 0.5);
        assert_eq!(FittedStep::Robust { center: 1.0, scale: 2.0 }.apply(0.0), -0.5);
        assert_eq!(FittedStep::Log1p.apply(0.0), 0.0);
        assert!((FittedStep::Log1p.apply(std::f64::consts::E - 1.0) - 1.0).abs() < 1e-15);
    }
}
