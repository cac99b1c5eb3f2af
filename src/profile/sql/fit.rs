//! `profile_fit(name, relation, spec)` and `profile_refit(name)`.

use super::catalog::{self, Stored};
use super::scan::{quote, scan, Relation, RegClass};
use super::MAX_CATEGORIES;
use crate::error::sql::{notice, raise, required, OrRaise};
use crate::error::Error;
use crate::profile::fit::{fit, plural, Collector, Limits};
use crate::profile::spec::{parse_spec, Columns, FeatureKind};
use pgrx::prelude::*;
use pgrx::JsonB;

/// Reads the relation once, fits every feature and stores the result under
/// `name`, replacing a previous fit in the same statement. Returns the number
/// of vector dimensions.
fn fit_and_store(name: &str, relation: pgrx::pg_sys::Oid, spec_json: &serde_json::Value) -> i32 {
    if name.is_empty() {
        raise(Error::invalid_parameter("profile name must not be empty").with_hint("name the profile, e.g. 'customers_v1'"));
    }
    let rel = Relation::open(relation);
    let column_types = rel.column_types();
    let spec = parse_spec(spec_json, &Columns { relation: &rel.name, list: &column_types }).or_raise();

    // one SELECT of the distinct columns the features read
    let mut selected: Vec<&str> = Vec::new();
    for f in &spec.features {
        if !selected.contains(&f.column.as_str()) {
            selected.push(&f.column);
        }
    }
    let query = format!(
        "SELECT {} FROM {}",
        selected.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", "),
        rel.name
    );
    let sources: Vec<(usize, super::datum::Reader)> = spec
        .features
        .iter()
        .map(|f| {
            let at = selected.iter().position(|c| *c == f.column).expect("selected above");
            (at, rel.column(&f.column).expect("validated by parse_spec").2)
        })
        .collect();
    let mut collectors: Vec<Collector> = spec.features.iter().map(Collector::new).collect();
    let rows = scan(&query, |row| {
        for (collector, &(at, reader)) in collectors.iter_mut().zip(&sources) {
            let value = row[at];
            unsafe {
                match collector.feature.kind {
                    FeatureKind::Numeric | FeatureKind::Boolean => collector.push_number(value.map(|d| reader.number(d)))?,
                    FeatureKind::Categorical => match value {
                        Some(d) => collector.push_category(Some(&reader.text(d)))?,
                        None => collector.push_category(None)?,
                    },
                    FeatureKind::Tags => match value {
                        Some(d) => {
                            let mut result = Ok(());
                            reader.each_tag(d, &mut |tags| result = collector.push_tags(Some(tags)));
                            result?
                        }
                        None => collector.push_tags(None)?,
                    },
                }
            }
        }
        Ok(())
    })
    .or_raise();
    if rows == 0 {
        raise(
            Error::invalid_parameter(format!("{} has no rows to fit profile \"{name}\" on", rel.name))
                .with_hint("fit on a relation that holds the customers, or load them first"),
        );
    }
    notice(format!("profile \"{name}\": read {} of {}", plural(rows, "row", "rows"), rel.name), None);

    let limits = Limits { max_categories: MAX_CATEGORIES.get().max(1) as usize };
    let fitted = fit(&spec, collectors, rows, limits).or_raise();
    for note in &fitted.notes {
        notice(format!("profile \"{name}\": {note}"), None);
    }
    catalog::store(&Stored { name, relation, spec: spec_json, fitted: &fitted.profile });
    let dimensions = fitted.profile.dimensions();
    notice(
        format!(
            "profile \"{name}\": stored {} as {}",
            plural(fitted.profile.features.len() as u64, "feature", "features"),
            plural(dimensions as u64, "dimension", "dimensions")
        ),
        None,
    );
    dimensions as i32
}

/// Fits a profile spec on a relation and stores it (replacing a previous fit of
/// the same name atomically); returns the number of vector dimensions.
#[pg_extern(volatile, parallel_unsafe)]
fn profile_fit(name: Option<&str>, relation: Option<RegClass>, spec: Option<JsonB>) -> i32 {
    let name = required(name, "name");
    let RegClass(relation) = required(relation, "relation");
    let JsonB(spec) = required(spec, "spec");
    fit_and_store(name, relation, &spec)
}

/// The same with the spec as text: a quoted literal resolves here (PostgreSQL
/// prefers text for unknown literals), so JSON that does not parse is reported
/// by pg_segment as 22023 with the expected shape, not as a jsonb input error.
#[pg_extern(volatile, parallel_unsafe, name = "profile_fit")]
fn profile_fit_text(name: Option<&str>, relation: Option<RegClass>, spec: Option<&str>) -> i32 {
    let name = required(name, "name");
    let RegClass(relation) = required(relation, "relation");
    let text = required(spec, "spec");
    let spec: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| {
        raise(
            Error::invalid_parameter(format!("profile spec is not valid JSON: {e}"))
                .with_hint(r#"a spec is a JSON object: {"features": [{"column": "...", "transform": "zscore"}, ...]}"#),
        )
    });
    fit_and_store(name, relation, &spec)
}

/// Fits a stored profile again, on the same relation with the same spec.
#[pg_extern(volatile, parallel_unsafe)]
fn profile_refit(name: Option<&str>) -> i32 {
    let name = required(name, "name");
    let (relation, spec) = catalog::spec_of(name);
    fit_and_store(name, relation, &spec)
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION profile_fit(text, regclass, jsonb) IS
  'fits a profile spec (features with transforms, imputation, vocabularies) on a relation and stores it under a name, replacing an earlier fit atomically; returns the vector length';
COMMENT ON FUNCTION profile_fit(text, regclass, text) IS
  'profile_fit with the spec as text (what a quoted literal resolves to): JSON that does not parse is 22023';
COMMENT ON FUNCTION profile_refit(text) IS
  'fits a stored profile again on its relation with its spec (e.g. from a scheduled job); returns the vector length';
"#,
    name = "profile_fit_comments",
    requires = [profile_fit, profile_fit_text, profile_refit]
);
