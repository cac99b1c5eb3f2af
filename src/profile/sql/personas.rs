//! `segment_personas(...)` and `segment_persona_attributes(...)`: every segment
//! of a labelled customer relation described against all customers.

use super::catalog;
use super::datum::Reader;
use super::rows::RowBinding;
use super::scan::{quote, scan, Relation, RegClass};
use crate::error::sql::{raise, required, OrRaise};
use crate::error::{Error, Result};
use crate::profile::personas::describe::{describe, Persona};
use crate::profile::personas::table::{AttributeKind, Key, Table};
use crate::profile::spec::ColumnType;
use pgrx::prelude::*;
use pgrx::{pg_sys, JsonB, PgMemoryContexts};
use serde_json::{json, Map, Value};

/// The alias of the whole row in the query (for profile vectors).
const ROW_ALIAS: &str = "pg_segment_row";

/// Which attributes to describe: the listed columns, or every usable column
/// except the label and the key.
fn choose_attributes(rel: &Relation, label: &str, key: Option<&str>, listed: Option<Vec<Option<String>>>) -> Vec<(String, AttributeKind)> {
    let kind_of = |t: &ColumnType| match t {
        ColumnType::Number => AttributeKind::Numeric,
        ColumnType::TextArray => AttributeKind::Tags,
        _ => AttributeKind::Categorical,
    };
    match listed {
        None => rel
            .columns
            .iter()
            .filter(|(name, t, _)| name != label && Some(name.as_str()) != key && !matches!(t, ColumnType::Other(_)))
            .map(|(name, t, _)| (name.clone(), kind_of(t)))
            .collect(),
        Some(names) => {
            let mut chosen: Vec<(String, AttributeKind)> = Vec::new();
            for name in names {
                let name = name.unwrap_or_else(|| raise(Error::null_not_allowed("an attribute name")));
                let Some((_, t, _)) = rel.column(&name) else {
                    raise(Error::undefined_column(&name, &rel.name).with_hint("list columns of the relation in attributes"))
                };
                if name == label || Some(name.as_str()) == key {
                    raise(
                        Error::invalid_parameter(format!("column \"{name}\" is the label or the key, not an attribute"))
                            .with_hint("leave it out of attributes"),
                    );
                }
                if chosen.iter().any(|(n, _)| *n == name) {
                    raise(Error::invalid_parameter(format!("attribute \"{name}\" is listed twice")));
                }
                chosen.push((name, kind_of(t)));
            }
            chosen
        }
    }
}

fn column_reader(rel: &Relation, column: &str, role: &str) -> Reader {
    match rel.column(column) {
        Some((_, _, reader)) => *reader,
        None => raise(Error::undefined_column(column, &rel.name).with_hint(format!("name the {role} column of {}", rel.name))),
    }
}

/// Reads the relation into a [`Table`].
fn read(relation: pg_sys::Oid, label: &str, key: Option<&str>, attributes: Option<Vec<Option<String>>>, profile: Option<&str>) -> Table {
    let rel = Relation::open(relation);
    let label_reader = column_reader(&rel, label, "label");
    let key_reader = key.map(|k| column_reader(&rel, k, "key"));
    let chosen = choose_attributes(&rel, label, key, attributes);
    let readers: Vec<Reader> = chosen.iter().map(|(name, _)| column_reader(&rel, name, "attribute")).collect();
    let compiled = profile.map(catalog::load);

    let mut select = vec![format!("{ROW_ALIAS}.{}", quote(label))];
    select.push(match key {
        Some(k) => format!("{ROW_ALIAS}.{}", quote(k)),
        None => "NULL".to_string(),
    });
    select.extend(chosen.iter().map(|(name, _)| format!("{ROW_ALIAS}.{}", quote(name))));
    if compiled.is_some() {
        select.push(ROW_ALIAS.to_string());
    }
    let query = format!("SELECT {} FROM {} AS {ROW_ALIAS}", select.join(", "), rel.name);

    let dimensions = compiled.as_ref().map_or(0, |c| c.encoder.dimensions);
    let mut table = Table::new(&chosen, dimensions);
    let mut vector = vec![0f32; dimensions];
    let mut binding: Option<RowBinding> = None;
    let outer = unsafe { pg_sys::CurrentMemoryContext };
    scan(&query, |row| -> Result<()> {
        unsafe {
            let segment = row[0].map(|d| label_reader.text(d));
            let key = match (key_reader, row[1]) {
                (Some(Reader::Int2 | Reader::Int4 | Reader::Int8), Some(d)) => Some(Key::Int(key_reader.unwrap().number(d) as i64)),
                (Some(reader), Some(d)) => Some(Key::Text(reader.text(d).into_owned())),
                _ => None,
            };
            table.push_row(segment.as_deref(), key);
            for (a, ((_, kind), reader)) in chosen.iter().zip(&readers).enumerate() {
                let value = row[2 + a];
                match kind {
                    AttributeKind::Numeric => table.push_number(a, value.map(|d| reader.number(d))),
                    AttributeKind::Categorical => match value {
                        Some(d) => table.push_category(a, Some(&reader.text(d))),
                        None => table.push_category(a, None),
                    },
                    AttributeKind::Tags => match value {
                        Some(d) => reader.each_tag(d, &mut |tags| table.push_tags(a, tags.flatten())),
                        None => table.push_tags(a, std::iter::empty()),
                    },
                }
            }
            if let Some(compiled) = &compiled {
                let whole = row[2 + chosen.len()].ok_or_else(|| Error::invalid_parameter("a NULL row cannot be encoded"))?;
                let header = pg_sys::pg_detoast_datum(whole.cast_mut_ptr()) as pg_sys::HeapTupleHeader;
                if !binding.as_ref().is_some_and(|b| b.fits(header)) {
                    binding = Some(PgMemoryContexts::For(outer).switch_to(|_| RowBinding::new(header, compiled))?);
                }
                binding.as_mut().expect("bound above").encode(header, &compiled.encoder, &mut vector)?;
                table.push_vector(&vector);
            }
        }
        Ok(())
    })
    .or_raise();
    table
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn numbers_json(p: &Persona) -> Value {
    let map: Map<String, Value> = p
        .numeric
        .iter()
        .map(|n| {
            (
                n.attribute.clone(),
                json!({
                    "mean": n.mean.map(round4),
                    "median": n.median.map(round4),
                    "population_mean": n.population_mean.map(round4),
                    "population_median": n.population_median.map(round4),
                    "std_diff": round4(n.std_diff),
                }),
            )
        })
        .collect();
    Value::Object(map)
}

/// The three most common values of each categorical or tags attribute.
fn top_categories_json(p: &Persona) -> Value {
    let mut map: Map<String, Value> = Map::new();
    for c in &p.categories {
        let entry = map.entry(c.attribute.clone()).or_insert_with(|| json!([]));
        let list = entry.as_array_mut().expect("an array");
        if list.len() < 3 {
            list.push(json!({
                "value": c.value,
                "share": round4(c.share),
                "population_share": round4(c.population_share),
                "lift": round4(c.lift),
            }));
        }
    }
    Value::Object(map)
}

/// Describes every segment: size, share, representative customer, one-line
/// summary, strongest traits, numeric statistics and top categories.
#[allow(clippy::type_complexity)] // pgrx reads the column names from name!() in the signature
#[pg_extern(stable, parallel_restricted)]
fn segment_personas(
    relation: Option<RegClass>,
    label: Option<&str>,
    key: default!(Option<&str>, "NULL"),
    attributes: default!(Option<Vec<Option<String>>>, "NULL"),
    profile: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(segment, Option<String>),
        name!(customers, i64),
        name!(share, f64),
        name!(representative, Option<String>),
        name!(summary, String),
        name!(distinguishing, Vec<String>),
        name!(numbers, JsonB),
        name!(top_categories, JsonB),
    ),
> {
    let RegClass(relation) = required(relation, "relation");
    let label = required(label, "label");
    let table = read(relation, label, key, attributes, profile);
    let rows: Vec<_> = describe(&table)
        .into_iter()
        .map(|p| {
            let numbers = JsonB(numbers_json(&p));
            let top = JsonB(top_categories_json(&p));
            (
                p.segment,
                p.customers as i64,
                p.share,
                p.representative.map(|k| k.to_string()),
                p.summary,
                p.traits.into_iter().map(|t| t.text).collect(),
                numbers,
                top,
            )
        })
        .collect();
    TableIterator::new(rows)
}

type AttributeRow = (
    Option<String>,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    f64,
);

/// One row per (segment, numeric attribute) and per (segment, category value):
/// the same statistics as segment_personas in plain columns, for BI tools.
#[allow(clippy::type_complexity)] // pgrx reads the column names from name!() in the signature
#[pg_extern(stable, parallel_restricted)]
fn segment_persona_attributes(
    relation: Option<RegClass>,
    label: Option<&str>,
    key: default!(Option<&str>, "NULL"),
    attributes: default!(Option<Vec<Option<String>>>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(segment, Option<String>),
        name!(attribute, String),
        name!(kind, String),
        name!(value, Option<String>),
        name!(customers, Option<i64>),
        name!(share, Option<f64>),
        name!(population_share, Option<f64>),
        name!(lift, Option<f64>),
        name!(mean, Option<f64>),
        name!(median, Option<f64>),
        name!(population_mean, Option<f64>),
        name!(population_median, Option<f64>),
        name!(std_diff, f64),
    ),
> {
    let RegClass(relation) = required(relation, "relation");
    let label = required(label, "label");
    let table = read(relation, label, key, attributes, None);
    let mut rows: Vec<AttributeRow> = Vec::new();
    for p in describe(&table) {
        for n in &p.numeric {
            rows.push((
                p.segment.clone(),
                n.attribute.clone(),
                "numeric".into(),
                None,
                None,
                None,
                None,
                None,
                n.mean,
                n.median,
                n.population_mean,
                n.population_median,
                n.std_diff,
            ));
        }
        for c in &p.categories {
            rows.push((
                p.segment.clone(),
                c.attribute.clone(),
                c.kind.name().into(),
                Some(c.value.clone()),
                Some(c.customers as i64),
                Some(c.share),
                Some(c.population_share),
                Some(c.lift),
                None,
                None,
                None,
                None,
                c.std_diff,
            ));
        }
    }
    TableIterator::new(rows)
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION segment_personas(regclass, text, text, text[], text) IS
  'describes every segment of a labelled customer relation: size, share, representative customer, one-line summary, distinguishing traits, numeric means and medians, top categories';
COMMENT ON FUNCTION segment_persona_attributes(regclass, text, text, text[]) IS
  'the statistics behind segment_personas in plain columns: one row per segment and numeric attribute (mean, median, standardized difference) or category value (share, lift)';
"#,
    name = "segment_personas_comments",
    requires = [segment_personas, segment_persona_attributes]
);
