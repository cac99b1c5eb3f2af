//! The profile spec users write: JSON parsed into [`Spec`] with strict validation.
//!
//! ```json
//! {"features": [
//!   {"column": "birth_year", "transform": "zscore", "missing": "median"},
//!   {"column": "spend", "transform": ["log1p", "zscore"], "clip": [-3, 3]},
//!   {"column": "city", "top": 10},
//!   {"column": "gender", "missing": "constant", "fill_value": "unknown"},
//!   {"column": "email_opt_in"},
//!   {"column": "tags", "top": 20}
//! ]}
//! ```
//!
//! `features` is an array because its order is the vector layout (jsonb does
//! not keep object key order). Every key is checked: an unknown key, transform
//! or policy is 22023 with a hint listing the valid ones; a column that does not
//! exist is 42703; a column whose type does not fit the feature type is 42804.

use crate::error::{Error, Result, SqlState};
use serde_json::{Map, Value};

/// How a column's values become vector positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// One position: the number after imputation and the transform steps.
    Numeric,
    /// One position: 1 for true, 0 for false, then the transform steps (default none).
    Boolean,
    /// One-hot over a fitted vocabulary, plus an optional 'other' position.
    Categorical,
    /// Multi-hot over a fitted vocabulary of array elements, plus an optional 'other' position.
    Tags,
}

impl FeatureKind {
    pub const NAMES: &'static str = "numeric, boolean, categorical, tags";

    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::Numeric => "numeric",
            FeatureKind::Boolean => "boolean",
            FeatureKind::Categorical => "categorical",
            FeatureKind::Tags => "tags",
        }
    }

    fn parse(text: &str) -> Option<FeatureKind> {
        Some(match text {
            "numeric" => FeatureKind::Numeric,
            "boolean" => FeatureKind::Boolean,
            "categorical" => FeatureKind::Categorical,
            "tags" => FeatureKind::Tags,
            _ => return None,
        })
    }

    /// What a feature of this kind reads, for messages: "a number", "text"...
    pub fn reads(self) -> &'static str {
        match self {
            FeatureKind::Numeric => "a number",
            FeatureKind::Boolean => "a boolean",
            FeatureKind::Categorical => "a scalar value",
            FeatureKind::Tags => "a text array",
        }
    }

    fn is_scalar_number(self) -> bool {
        matches!(self, FeatureKind::Numeric | FeatureKind::Boolean)
    }

    /// The keys a feature of this kind accepts, for validation and hints.
    fn valid_keys(self) -> &'static [&'static str] {
        match self {
            FeatureKind::Numeric | FeatureKind::Boolean => {
                &["column", "name", "type", "transform", "clip", "quantile_range", "missing", "fill_value"]
            }
            FeatureKind::Categorical | FeatureKind::Tags => {
                &["column", "name", "type", "top", "min_frequency", "other", "unseen", "missing", "fill_value"]
            }
        }
    }

    /// The missing-value policies that make sense for this kind.
    fn valid_missing(self) -> &'static str {
        if self.is_scalar_number() {
            "mean, median, most_frequent, constant, error"
        } else {
            "most_frequent, constant, error"
        }
    }
}

/// One step of a numeric transform, applied in order after imputation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Leaves the value as it is.
    None,
    /// `(x - mean) / std` (population std; 1 when the column is constant), as StandardScaler.
    ZScore,
    /// `(x - min) / (max - min)` (range 1 when constant), as MinMaxScaler.
    MinMax,
    /// `(x - median) / IQR` (IQR 1 when zero), as RobustScaler.
    Robust,
    /// `ln(1 + x)`; values must be greater than -1.
    Log1p,
}

impl Step {
    pub const NAMES: &'static str = "none, zscore, minmax, robust, log1p";

    pub fn name(self) -> &'static str {
        match self {
            Step::None => "none",
            Step::ZScore => "zscore",
            Step::MinMax => "minmax",
            Step::Robust => "robust",
            Step::Log1p => "log1p",
        }
    }

    fn parse(text: &str) -> Option<Step> {
        Some(match text {
            "none" => Step::None,
            "zscore" => Step::ZScore,
            "minmax" => Step::MinMax,
            "robust" => Step::Robust,
            "log1p" => Step::Log1p,
            _ => return None,
        })
    }
}

/// What a NULL (or NaN) input becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Missing {
    Mean,
    Median,
    MostFrequent,
    Constant(FillValue),
    Error,
}

/// The `fill_value` of `"missing": "constant"`, typed by the feature kind.
#[derive(Debug, Clone, PartialEq)]
pub enum FillValue {
    Number(f64),
    Text(String),
    Tags(Vec<String>),
}

/// What an unseen category (or tag) becomes when a vector is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unseen {
    /// Counts in the 'other' position (needs `"other": true`).
    Other,
    /// Contributes nothing: all positions of the feature stay 0.
    Ignore,
    /// Raises 22023 naming the value.
    Error,
}

impl Unseen {
    pub const NAMES: &'static str = "other, ignore, error";

    fn parse(text: &str) -> Option<Unseen> {
        Some(match text {
            "other" => Unseen::Other,
            "ignore" => Unseen::Ignore,
            "error" => Unseen::Error,
            _ => return None,
        })
    }
}

/// A category rarer than this goes to 'other' (scikit-learn's `min_frequency`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MinFrequency {
    /// At least this many rows.
    Count(u64),
    /// At least this share of the rows, in (0, 1).
    Share(f64),
}

/// One feature of a spec, validated and with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSpec {
    pub name: String,
    pub column: String,
    pub kind: FeatureKind,
    pub steps: Vec<Step>,
    pub clip: (Option<f64>, Option<f64>),
    pub quantile_range: (f64, f64),
    pub missing: Missing,
    pub top: Option<usize>,
    pub min_frequency: Option<MinFrequency>,
    pub other: bool,
    pub unseen: Unseen,
}

/// A validated spec: the features in vector order.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub features: Vec<FeatureSpec>,
}

/// What a relation's column holds, as far as a profile cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// smallint, integer, bigint, real, double precision, numeric (or a domain over one).
    Number,
    Boolean,
    /// text, varchar, char, name (or a domain over one).
    Text,
    /// text[] or varchar[].
    TextArray,
    /// Anything else, with its SQL name (usable as a category through its text form).
    Other(String),
}

impl ColumnType {
    pub fn describe(&self) -> &str {
        match self {
            ColumnType::Number => "a number",
            ColumnType::Boolean => "boolean",
            ColumnType::Text => "text",
            ColumnType::TextArray => "a text array",
            ColumnType::Other(name) => name,
        }
    }

    /// The feature kind a column gets when the spec does not say.
    fn default_kind(&self) -> Option<FeatureKind> {
        match self {
            ColumnType::Number => Some(FeatureKind::Numeric),
            ColumnType::Boolean => Some(FeatureKind::Boolean),
            ColumnType::Text => Some(FeatureKind::Categorical),
            ColumnType::TextArray => Some(FeatureKind::Tags),
            ColumnType::Other(_) => None,
        }
    }

    /// Whether a feature of `kind` can read this column.
    pub fn fits(&self, kind: FeatureKind) -> bool {
        match kind {
            FeatureKind::Numeric => *self == ColumnType::Number,
            FeatureKind::Boolean => *self == ColumnType::Boolean,
            // any scalar has a text form; arrays belong to tags
            FeatureKind::Categorical => *self != ColumnType::TextArray,
            FeatureKind::Tags => *self == ColumnType::TextArray,
        }
    }
}

/// The columns of the relation a spec is fitted on.
pub struct Columns<'a> {
    /// The relation's name, for messages.
    pub relation: &'a str,
    pub list: &'a [(String, ColumnType)],
}

impl Columns<'_> {
    fn find(&self, column: &str) -> Result<&ColumnType> {
        if let Some((_, ty)) = self.list.iter().find(|(name, _)| name == column) {
            return Ok(ty);
        }
        let mut err = Error::undefined_column(column, self.relation);
        if let Some((near, _)) = self.list.iter().find(|(name, _)| name.eq_ignore_ascii_case(column)) {
            err = err.with_hint(format!("column names are case-sensitive: did you mean \"{near}\"?"));
        } else {
            let names: Vec<&str> = self.list.iter().map(|(n, _)| n.as_str()).collect();
            err = err.with_hint(format!("the columns of {} are: {}", self.relation, names.join(", ")));
        }
        Err(err)
    }

    /// 42804 when a column's type does not fit the declared feature kind.
    pub fn check_fits(&self, column: &str, ty: &ColumnType, kind: FeatureKind) -> Result<()> {
        if ty.fits(kind) {
            return Ok(());
        }
        let advice = match ty.default_kind() {
            Some(natural) => format!("declare it as \"type\": \"{}\", or cast it in a view", natural.name()),
            None => "cast it to a number, boolean, text or text[] in a view".to_string(),
        };
        Err(Error::new(
            SqlState::DatatypeMismatch,
            format!("column \"{column}\" of {} is {}, which a {} feature cannot read", self.relation, ty.describe(), kind.name()),
        )
        .with_hint(advice))
    }
}

const TOP_LEVEL_KEYS: &str = "features";

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_parameter(message)
}

/// Parses and validates a spec against the relation's columns.
pub fn parse_spec(json: &Value, columns: &Columns) -> Result<Spec> {
    let object = json.as_object().ok_or_else(|| {
        invalid(format!("a profile spec must be a JSON object, not {}", json_kind(json)))
            .with_hint(r#"write {"features": [{"column": "..."}, ...]}"#)
    })?;
    if let Some(key) = object.keys().find(|k| k.as_str() != "features") {
        return Err(invalid(format!("unknown key \"{key}\" in profile spec"))
            .with_hint(format!("valid keys: {TOP_LEVEL_KEYS}")));
    }
    let features = object.get("features").ok_or_else(|| {
        invalid("profile spec has no \"features\"").with_hint(r#"write {"features": [{"column": "..."}, ...]}"#)
    })?;
    let list = features.as_array().ok_or_else(|| {
        invalid(format!("\"features\" must be an array, not {}", json_kind(features)))
            .with_hint("list the features in the order their positions should have in the vector")
    })?;
    if list.is_empty() {
        return Err(invalid("\"features\" is empty").with_hint("list at least one feature"));
    }
    let mut parsed: Vec<FeatureSpec> = Vec::with_capacity(list.len());
    for (index, item) in list.iter().enumerate() {
        let feature = parse_feature(index + 1, item, columns)?;
        if parsed.iter().any(|f| f.name == feature.name) {
            return Err(invalid(format!("two features are named \"{}\"", feature.name))
                .with_hint("give one of them a different \"name\""));
        }
        parsed.push(feature);
    }
    Ok(Spec { features: parsed })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads the keys of one feature object; `label` names it in messages.
struct FeatureReader<'a> {
    object: &'a Map<String, Value>,
    label: String,
}

impl FeatureReader<'_> {
    fn string(&self, key: &str) -> Result<Option<&str>> {
        match self.object.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(invalid(format!("\"{key}\" of {} must be a string, not {}", self.label, json_kind(other)))),
        }
    }

    fn number(&self, key: &str, value: &Value) -> Result<f64> {
        match value.as_f64() {
            Some(x) if x.is_finite() => Ok(x),
            _ => Err(invalid(format!("\"{key}\" of {} must be a finite number, not {}", self.label, json_kind(value)))),
        }
    }

    /// `[lo, hi]` where either end may be null (open).
    fn pair(&self, key: &str) -> Result<Option<(Option<f64>, Option<f64>)>> {
        let Some(value) = self.object.get(key) else { return Ok(None) };
        let items = match value.as_array() {
            Some(items) if items.len() == 2 => items,
            _ => {
                return Err(invalid(format!("\"{key}\" of {} must be an array of two numbers", self.label))
                    .with_hint(format!("for example \"{key}\": [-3, 3]; null leaves one end open")))
            }
        };
        let end = |v: &Value| if v.is_null() { Ok(None) } else { self.number(key, v).map(Some) };
        Ok(Some((end(&items[0])?, end(&items[1])?)))
    }
}

fn parse_feature(index: usize, item: &Value, columns: &Columns) -> Result<FeatureSpec> {
    let object = item.as_object().ok_or_else(|| {
        invalid(format!("feature {index} must be a JSON object, not {}", json_kind(item)))
            .with_hint(r#"write {"column": "..."} with optional "type", "transform", "missing", ..."#)
    })?;
    let reader = FeatureReader { object, label: format!("feature {index}") };
    let column = reader
        .string("column")?
        .ok_or_else(|| invalid(format!("feature {index} has no \"column\"")).with_hint("name the column it reads"))?
        .to_string();
    let name = reader.string("name")?.unwrap_or(&column).to_string();
    let reader = FeatureReader { object, label: format!("feature \"{name}\"") };
    let column_type = columns.find(&column)?;

    let kind = match reader.string("type")? {
        Some(text) => FeatureKind::parse(text).ok_or_else(|| {
            invalid(format!("unknown type \"{text}\" for feature \"{name}\""))
                .with_hint(format!("valid types: {}", FeatureKind::NAMES))
        })?,
        None => column_type.default_kind().ok_or_else(|| {
            Error::new(
                SqlState::DatatypeMismatch,
                format!("column \"{column}\" of {} is {}, which a profile cannot use", columns.relation, column_type.describe()),
            )
            .with_hint("cast it to a number, boolean, text or text[] in a view, or declare \"type\": \"categorical\"")
        })?,
    };
    for key in object.keys() {
        if !kind.valid_keys().contains(&key.as_str()) {
            let message = if FeatureKind::Numeric.valid_keys().contains(&key.as_str())
                || FeatureKind::Categorical.valid_keys().contains(&key.as_str())
            {
                format!("key \"{key}\" does not apply to {} feature \"{name}\"", kind.name())
            } else {
                format!("unknown key \"{key}\" in feature \"{name}\"")
            };
            return Err(invalid(message)
                .with_hint(format!("valid keys for a {} feature: {}", kind.name(), kind.valid_keys().join(", "))));
        }
    }
    columns.check_fits(&column, column_type, kind)?;

    let mut feature = FeatureSpec {
        name,
        column,
        kind,
        steps: Vec::new(),
        clip: (None, None),
        quantile_range: (25.0, 75.0),
        missing: Missing::Error,
        top: None,
        min_frequency: None,
        other: kind == FeatureKind::Categorical,
        unseen: Unseen::Ignore,
    };
    if kind.is_scalar_number() {
        read_number_keys(&reader, &mut feature)?;
    } else {
        read_vocabulary_keys(&reader, &mut feature)?;
    }
    feature.missing = read_missing(&reader, &feature)?;
    Ok(feature)
}

fn read_number_keys(reader: &FeatureReader, feature: &mut FeatureSpec) -> Result<()> {
    let default = if feature.kind == FeatureKind::Boolean { Step::None } else { Step::ZScore };
    let names: Vec<&Value> = match reader.object.get("transform") {
        None => Vec::new(),
        Some(Value::Array(items)) if !items.is_empty() => items.iter().collect(),
        Some(single @ Value::String(_)) => vec![single],
        Some(_) => {
            return Err(invalid(format!("\"transform\" of {} must be a string or a non-empty array of strings", reader.label))
                .with_hint(format!("valid transforms: {}", Step::NAMES)))
        }
    };
    feature.steps = names
        .into_iter()
        .map(|value| {
            let text = value.as_str().unwrap_or("");
            Step::parse(text).ok_or_else(|| {
                let shown = if value.is_string() { text.to_string() } else { value.to_string() };
                invalid(format!("unknown transform \"{shown}\" for {}", reader.label))
                    .with_hint(format!("valid transforms: {}", Step::NAMES))
            })
        })
        .collect::<Result<_>>()?;
    if feature.steps.is_empty() {
        feature.steps.push(default);
    }
    if let Some((lo, hi)) = reader.pair("clip")? {
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if lo > hi {
                return Err(invalid(format!("\"clip\" of {} has its lower end {lo} above its upper end {hi}", reader.label)));
            }
        }
        feature.clip = (lo, hi);
    }
    if let Some(range) = reader.pair("quantile_range")? {
        if !feature.steps.contains(&Step::Robust) {
            return Err(invalid(format!("\"quantile_range\" of {} needs the robust transform", reader.label))
                .with_hint("add \"transform\": \"robust\" or remove \"quantile_range\""));
        }
        match range {
            (Some(lo), Some(hi)) if 0.0 <= lo && lo < hi && hi <= 100.0 => feature.quantile_range = (lo, hi),
            _ => {
                return Err(invalid(format!("\"quantile_range\" of {} must be two percentiles 0 <= low < high <= 100", reader.label))
                    .with_hint("the default is [25, 75], the interquartile range"))
            }
        }
    }
    Ok(())
}

fn read_vocabulary_keys(reader: &FeatureReader, feature: &mut FeatureSpec) -> Result<()> {
    if let Some(value) = reader.object.get("top") {
        match value.as_u64() {
            Some(n) if n >= 1 => feature.top = Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Err(invalid(format!("\"top\" of {} must be a whole number of at least 1", reader.label))
                    .with_hint("it is how many of the most frequent values get their own position"))
            }
        }
    }
    if let Some(value) = reader.object.get("min_frequency") {
        feature.min_frequency = Some(match (value.as_u64(), value.as_f64()) {
            (Some(n), _) if n >= 1 => MinFrequency::Count(n),
            (None, Some(x)) if x > 0.0 && x < 1.0 => MinFrequency::Share(x),
            _ => {
                return Err(invalid(format!("\"min_frequency\" of {} must be a row count of at least 1 or a share between 0 and 1", reader.label))
                    .with_hint("rarer values go to the 'other' position"))
            }
        });
    }
    if let Some(value) = reader.object.get("other") {
        feature.other = value.as_bool().ok_or_else(|| {
            invalid(format!("\"other\" of {} must be true or false, not {}", reader.label, json_kind(value)))
        })?;
    }
    feature.unseen = if feature.other { Unseen::Other } else { Unseen::Ignore };
    if let Some(text) = reader.string("unseen")? {
        feature.unseen = Unseen::parse(text).ok_or_else(|| {
            invalid(format!("unknown unseen policy \"{text}\" for {}", reader.label))
                .with_hint(format!("valid policies: {}", Unseen::NAMES))
        })?;
    }
    if feature.unseen == Unseen::Other && !feature.other {
        return Err(invalid(format!("{} has \"unseen\": \"other\" but no 'other' position", reader.label))
            .with_hint("set \"other\": true, or \"unseen\": \"ignore\" or \"error\""));
    }
    Ok(())
}

fn read_missing(reader: &FeatureReader, feature: &FeatureSpec) -> Result<Missing> {
    let kind = feature.kind;
    let fill = reader.object.get("fill_value");
    let policy = reader.string("missing")?;
    let missing = match policy {
        None => match kind {
            FeatureKind::Numeric => Missing::Mean,
            FeatureKind::Boolean | FeatureKind::Categorical => Missing::MostFrequent,
            FeatureKind::Tags => Missing::Constant(FillValue::Tags(Vec::new())),
        },
        Some("mean") if kind.is_scalar_number() => Missing::Mean,
        Some("median") if kind.is_scalar_number() => Missing::Median,
        Some("most_frequent") => Missing::MostFrequent,
        Some("error") => Missing::Error,
        Some("constant") => {
            let value = fill.ok_or_else(|| {
                invalid(format!("{} has \"missing\": \"constant\" but no \"fill_value\"", reader.label))
                    .with_hint(fill_hint(kind))
            })?;
            Missing::Constant(read_fill(reader, kind, value)?)
        }
        Some(other) => {
            return Err(invalid(format!("unknown missing policy \"{other}\" for {} feature \"{}\"", kind.name(), feature.name))
                .with_hint(format!("valid policies for a {} feature: {}", kind.name(), kind.valid_missing())))
        }
    };
    if fill.is_some() && !matches!(missing, Missing::Constant(_)) {
        return Err(invalid(format!("{} has a \"fill_value\" but \"missing\" is not \"constant\"", reader.label))
            .with_hint("add \"missing\": \"constant\" or remove \"fill_value\""));
    }
    Ok(missing)
}

fn fill_hint(kind: FeatureKind) -> &'static str {
    match kind {
        FeatureKind::Numeric => "add a number, e.g. \"fill_value\": 0",
        FeatureKind::Boolean => "add \"fill_value\": true or false",
        FeatureKind::Categorical => "add a category, e.g. \"fill_value\": \"unknown\"",
        FeatureKind::Tags => "add an array of tags, e.g. \"fill_value\": []",
    }
}

fn read_fill(reader: &FeatureReader, kind: FeatureKind, value: &Value) -> Result<FillValue> {
    let wrong = || {
        invalid(format!("\"fill_value\" of {} does not fit a {} feature", reader.label, kind.name())).with_hint(fill_hint(kind))
    };
    match (kind, value) {
        (FeatureKind::Numeric, v) => reader.number("fill_value", v).map(FillValue::Number).map_err(|_| wrong()),
        (FeatureKind::Boolean, Value::Bool(b)) => Ok(FillValue::Number(if *b { 1.0 } else { 0.0 })),
        (FeatureKind::Categorical, Value::String(s)) => Ok(FillValue::Text(s.clone())),
        (FeatureKind::Tags, Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(wrong))
            .collect::<Result<_>>()
            .map(FillValue::Tags),
        _ => Err(wrong()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn columns() -> Vec<(String, ColumnType)> {
        vec![
            ("age".into(), ColumnType::Number),
            ("spend".into(), ColumnType::Number),
            ("city".into(), ColumnType::Text),
            ("opt_in".into(), ColumnType::Boolean),
            ("tags".into(), ColumnType::TextArray),
            ("signup".into(), ColumnType::Other("date".into())),
        ]
    }

    fn parse(json: Value) -> Result<Spec> {
        let list = columns();
        parse_spec(&json, &Columns { relation: "public.customers", list: &list })
    }

    fn err(json: Value) -> Error {
        parse(json).expect_err("the spec should be rejected")
    }

    #[test]
    fn defaults_follow_the_column_types() {
        let spec = parse(json!({"features": [
            {"column": "age"}, {"column": "city"}, {"column": "opt_in"}, {"column": "tags"}
        ]}))
        .unwrap();
        let f = &spec.features;
        assert_eq!((f[0].kind, f[0].steps.clone(), f[0].missing.clone()), (FeatureKind::Numeric, vec![Step::ZScore], Missing::Mean));
        assert_eq!((f[1].kind, f[1].other, f[1].unseen, f[1].missing.clone()), (FeatureKind::Categorical, true, Unseen::Other, Missing::MostFrequent));
        assert_eq!((f[2].kind, f[2].steps.clone()), (FeatureKind::Boolean, vec![Step::None]));
        assert_eq!((f[3].kind, f[3].other, f[3].unseen), (FeatureKind::Tags, false, Unseen::Ignore));
        assert_eq!(f[3].missing, Missing::Constant(FillValue::Tags(vec![])));
        assert_eq!(f[0].quantile_range, (25.0, 75.0));
    }

    #[test]
    fn every_option_is_read() {
        let spec = parse(json!({"features": [
            {"column": "spend", "name": "log_spend", "transform": ["log1p", "robust"], "clip": [null, 3],
             "quantile_range": [10, 90], "missing": "constant", "fill_value": 0},
            {"column": "city", "type": "categorical", "top": 5, "min_frequency": 0.01, "unseen": "error"},
            {"column": "age", "type": "categorical", "other": false, "min_frequency": 3, "missing": "error"},
            {"column": "opt_in", "missing": "constant", "fill_value": false},
            {"column": "tags", "missing": "constant", "fill_value": ["none"], "other": true}
        ]}))
        .unwrap();
        let f = &spec.features;
        assert_eq!(f[0].name, "log_spend");
        assert_eq!(f[0].steps, vec![Step::Log1p, Step::Robust]);
        assert_eq!(f[0].clip, (None, Some(3.0)));
        assert_eq!(f[0].quantile_range, (10.0, 90.0));
        assert_eq!(f[0].missing, Missing::Constant(FillValue::Number(0.0)));
        assert_eq!((f[1].top, f[1].min_frequency, f[1].unseen), (Some(5), Some(MinFrequency::Share(0.01)), Unseen::Error));
        assert_eq!((f[2].kind, f[2].other, f[2].unseen), (FeatureKind::Categorical, false, Unseen::Ignore));
        assert_eq!((f[2].min_frequency, f[2].missing.clone()), (Some(MinFrequency::Count(3)), Missing::Error));
        assert_eq!(f[3].missing, Missing::Constant(FillValue::Number(0.0)));
        assert_eq!((f[4].other, f[4].unseen), (true, Unseen::Other));
    }

    #[test]
    fn unknown_transform_lists_the_valid_ones() {
        let e = err(json!({"features": [{"column": "age", "transform": "sqrt"}]}));
        assert_eq!(e.state, SqlState::InvalidParameterValue);
        assert_eq!(e.message, "unknown transform \"sqrt\" for feature \"age\"");
        assert_eq!(e.hint.as_deref(), Some("valid transforms: none, zscore, minmax, robust, log1p"));
        let e = err(json!({"features": [{"column": "age", "transform": ["log1p", 3]}]}));
        assert_eq!(e.message, "unknown transform \"3\" for feature \"age\"");
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_valid_list() {
        let e = err(json!({"features": [{"column": "age"}], "version": 2}));
        assert_eq!((e.state, e.message.as_str()), (SqlState::InvalidParameterValue, "unknown key \"version\" in profile spec"));
        assert_eq!(e.hint.as_deref(), Some("valid keys: features"));
        let e = err(json!({"features": [{"column": "age", "scale": 2}]}));
        assert_eq!(e.message, "unknown key \"scale\" in feature \"age\"");
        assert_eq!(
            e.hint.as_deref(),
            Some("valid keys for a numeric feature: column, name, type, transform, clip, quantile_range, missing, fill_value")
        );
        let e = err(json!({"features": [{"column": "age", "top": 2}]}));
        assert_eq!(e.message, "key \"top\" does not apply to numeric feature \"age\"");
        let e = err(json!({"features": [{"column": "city", "transform": "zscore"}]}));
        assert_eq!(e.message, "key \"transform\" does not apply to categorical feature \"city\"");
    }

    #[test]
    fn unknown_column_is_42703_with_a_hint() {
        let e = err(json!({"features": [{"column": "income"}]}));
        assert_eq!(e.state, SqlState::UndefinedColumn);
        assert_eq!(e.message, "column \"income\" does not exist in public.customers");
        assert_eq!(e.hint.as_deref(), Some("the columns of public.customers are: age, spend, city, opt_in, tags, signup"));
        let e = err(json!({"features": [{"column": "City"}]}));
        assert_eq!(e.hint.as_deref(), Some("column names are case-sensitive: did you mean \"city\"?"));
    }

    #[test]
    fn wrong_column_types_are_42804() {
        let e = err(json!({"features": [{"column": "city", "type": "numeric"}]}));
        assert_eq!(e.state, SqlState::DatatypeMismatch);
        assert_eq!(e.message, "column \"city\" of public.customers is text, which a numeric feature cannot read");
        assert_eq!(e.hint.as_deref(), Some("declare it as \"type\": \"categorical\", or cast it in a view"));
        let e = err(json!({"features": [{"column": "tags", "type": "categorical"}]}));
        assert_eq!(e.state, SqlState::DatatypeMismatch);
        let e = err(json!({"features": [{"column": "opt_in", "type": "numeric"}]}));
        assert_eq!(e.hint.as_deref(), Some("declare it as \"type\": \"boolean\", or cast it in a view"));
        let e = err(json!({"features": [{"column": "signup"}]}));
        assert_eq!((e.state, e.message.as_str()), (SqlState::DatatypeMismatch, "column \"signup\" of public.customers is date, which a profile cannot use"));
        // any scalar works as a category through its text form
        assert!(parse(json!({"features": [{"column": "signup", "type": "categorical"}]})).is_ok());
    }

    #[test]
    fn structure_errors_are_22023() {
        for (json, message) in [
            (json!([1, 2]), "a profile spec must be a JSON object, not an array"),
            (json!({}), "profile spec has no \"features\""),
            (json!({"features": {}}), "\"features\" must be an array, not an object"),
            (json!({"features": []}), "\"features\" is empty"),
            (json!({"features": ["age"]}), "feature 1 must be a JSON object, not a string"),
            (json!({"features": [{"name": "x"}]}), "feature 1 has no \"column\""),
            (json!({"features": [{"column": 3}]}), "\"column\" of feature 1 must be a string, not a number"),
            (json!({"features": [{"column": "age"}, {"column": "age"}]}), "two features are named \"age\""),
            (json!({"features": [{"column": "age", "type": "ordinal"}]}), "unknown type \"ordinal\" for feature \"age\""),
            (json!({"features": [{"column": "age", "clip": [3, -3]}]}), "\"clip\" of feature \"age\" has its lower end 3 above its upper end -3"),
            (json!({"features": [{"column": "age", "clip": 3}]}), "\"clip\" of feature \"age\" must be an array of two numbers"),
            (json!({"features": [{"column": "age", "quantile_range": [25, 75]}]}), "\"quantile_range\" of feature \"age\" needs the robust transform"),
            (json!({"features": [{"column": "age", "transform": "robust", "quantile_range": [75, 25]}]}),
             "\"quantile_range\" of feature \"age\" must be two percentiles 0 <= low < high <= 100"),
            (json!({"features": [{"column": "city", "top": 0}]}), "\"top\" of feature \"city\" must be a whole number of at least 1"),
            (json!({"features": [{"column": "city", "min_frequency": 1.5}]}),
             "\"min_frequency\" of feature \"city\" must be a row count of at least 1 or a share between 0 and 1"),
            (json!({"features": [{"column": "city", "other": "yes"}]}), "\"other\" of feature \"city\" must be true or false, not a string"),
            (json!({"features": [{"column": "city", "unseen": "drop"}]}), "unknown unseen policy \"drop\" for feature \"city\""),
            (json!({"features": [{"column": "city", "other": false, "unseen": "other"}]}),
             "feature \"city\" has \"unseen\": \"other\" but no 'other' position"),
            (json!({"features": [{"column": "city", "missing": "mean"}]}), "unknown missing policy \"mean\" for categorical feature \"city\""),
            (json!({"features": [{"column": "age", "missing": "constant"}]}), "feature \"age\" has \"missing\": \"constant\" but no \"fill_value\""),
            (json!({"features": [{"column": "age", "fill_value": 1}]}), "feature \"age\" has a \"fill_value\" but \"missing\" is not \"constant\""),
            (json!({"features": [{"column": "age", "missing": "constant", "fill_value": "x"}]}),
             "\"fill_value\" of feature \"age\" does not fit a numeric feature"),
            (json!({"features": [{"column": "tags", "missing": "constant", "fill_value": [1]}]}),
             "\"fill_value\" of feature \"tags\" does not fit a tags feature"),
        ] {
            let e = err(json);
            assert_eq!((e.state, e.message.as_str()), (SqlState::InvalidParameterValue, message));
        }
        let e = err(json!({"features": [{"column": "city", "missing": "mean"}]}));
        assert_eq!(e.hint.as_deref(), Some("valid policies for a categorical feature: most_frequent, constant, error"));
    }
}
