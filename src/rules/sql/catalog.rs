//! `segment_rulesets`: create, replace, drop, and load compiled programs.
//!
//! A program is compiled once per backend and per version of every ruleset
//! it uses: [`program`] asks the catalog for their versions (one read-only
//! query, also allowed in parallel workers) and recompiles only when one changed.

use super::env::PgEnv;
use crate::error::sql::{raise, required, OrRaise};
use crate::error::{Error, Result, SqlState};
use crate::extension_schema::qualify;
use crate::rules::ruleset::{Definition, Program, RuleDef};
use crate::rules::value::Type;
use pgrx::callconv::{Arg, ArgAbi};
use pgrx::prelude::*;
use pgrx::spi::SpiResult;
use pgrx::JsonB;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A `regtype` argument.
#[derive(Debug, Clone, Copy)]
pub struct RegType(pub pg_sys::Oid);

unsafe impl<'fcx> ArgAbi<'fcx> for RegType {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        RegType(unsafe { arg.unbox_arg_using_from_datum::<pg_sys::Oid>() }.unwrap_or(pg_sys::InvalidOid))
    }
}
pgrx::impl_sql_translatable!(RegType, "regtype");

/// A `regclass` argument.
#[derive(Debug, Clone, Copy)]
pub struct RegClass(pub pg_sys::Oid);

unsafe impl<'fcx> ArgAbi<'fcx> for RegClass {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        RegClass(unsafe { arg.unbox_arg_using_from_datum::<pg_sys::Oid>() }.unwrap_or(pg_sys::InvalidOid))
    }
}
pgrx::impl_sql_translatable!(RegClass, "regclass");

pub fn spi<T>(result: SpiResult<T>) -> T {
    result.unwrap_or_else(|e| raise(Error::internal(format!("SPI failed: {e}"))))
}

pub fn not_found(name: &str) -> Error {
    Error::undefined_object("ruleset", name)
        .with_hint("create it with segment_ruleset_create(name, rules, ...); SELECT name FROM segment_rulesets lists them")
}

thread_local! {
    static CACHE: RefCell<HashMap<String, Rc<Program>>> = RefCell::new(HashMap::new());
}

fn parse_rules(text: &str) -> Result<Vec<RuleDef>> {
    serde_json::from_str::<Vec<RuleDef>>(text).map_err(|e| {
        Error::invalid_parameter("rules must be a JSON array of {\"segment\": ..., \"when\": ...} objects")
            .with_detail(e.to_string())
            .with_hint(r#"for example '[{"segment": "VIP", "when": "monetary >= 1000"}, {"segment": "Active", "when": "recency_days <= 90"}]'"#)
    })
}

fn parse_attributes(text: &str) -> Vec<(String, String)> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap_or_default();
    map.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())).collect()
}

/// A stored ruleset's definition (read-only query).
pub fn load_definition(name: &str) -> Option<Definition> {
    let query = format!(
        "SELECT rules::text, default_segment, attributes::text, version FROM {} WHERE name = $1",
        qualify("segment_rulesets")
    );
    let row = Spi::connect(|client| {
        let table = spi(client.select(&query, Some(1), &[name.into()]));
        if table.is_empty() {
            return None;
        }
        let t = table.first();
        Some((
            spi(t.get::<String>(1)).unwrap_or_default(),
            spi(t.get::<String>(2)),
            spi(t.get::<String>(3)).unwrap_or_default(),
            spi(t.get::<i64>(4)).unwrap_or_default(),
        ))
    })?;
    let (rules, default, attributes, version) = row;
    let rules = parse_rules(&rules).unwrap_or_else(|e| {
        raise(
            Error::new(SqlState::DataException, format!("ruleset \"{name}\" has unreadable rules"))
                .with_detail(e.detail.unwrap_or_default())
                .with_hint("segment_rulesets must only be written by segment_ruleset_create(); create it again"),
        )
    });
    Some(Definition { name: name.to_string(), rules, default, attributes: parse_attributes(&attributes), version })
}

fn versions(names: &[String]) -> Vec<(String, i64)> {
    let query = format!("SELECT name, version FROM {} WHERE name = ANY($1)", qualify("segment_rulesets"));
    Spi::connect(|client| {
        let table = spi(client.select(&query, None, &[names.to_vec().into()]));
        table
            .map(|r| (spi(r.get::<String>(1)).unwrap_or_default(), spi(r.get::<i64>(2)).unwrap_or_default()))
            .collect()
    })
}

/// The compiled program of ruleset `name`, from the cache when no ruleset it uses changed.
pub fn program(name: &str) -> Rc<Program> {
    try_program(name).unwrap_or_else(|| raise(not_found(name)))
}

/// [`program`], or None when no ruleset has that name (for callers such as
/// the planner support function that must not raise for an unknown name).
pub fn try_program(name: &str) -> Option<Rc<Program>> {
    if let Some(cached) = CACHE.with(|c| c.borrow().get(name).cloned()) {
        let names: Vec<String> = cached.rulesets.iter().map(|r| r.name.clone()).collect();
        let current = versions(&names);
        let same = current.len() == names.len()
            && cached.rulesets.iter().all(|r| current.iter().any(|(n, v)| *n == r.name && *v == r.version));
        if same {
            return Some(cached);
        }
    }
    let Some(main) = load_definition(name) else {
        CACHE.with(|c| c.borrow_mut().remove(name));
        return None;
    };
    let program = Rc::new(Program::build(main, &mut |n| Ok(load_definition(n)), &PgEnv).or_raise());
    CACHE.with(|c| c.borrow_mut().insert(name.to_string(), program.clone()));
    Some(program)
}

/// The attributes (name, type name) of a row type.
fn row_type_attributes(oid: pg_sys::Oid) -> Vec<(String, String)> {
    let rows = Spi::connect(|client| {
        let t = spi(client.select(
            "SELECT t.typrelid <> 0, format_type(t.oid, NULL) FROM pg_catalog.pg_type t WHERE t.oid = $1",
            Some(1),
            &[oid.into()],
        ));
        if t.is_empty() {
            return None;
        }
        let t = t.first();
        Some((spi(t.get::<bool>(1)).unwrap_or(false), spi(t.get::<String>(2)).unwrap_or_default()))
    });
    match rows {
        Some((true, _)) => {}
        Some((false, name)) => raise(
            Error::new(SqlState::DatatypeMismatch, format!("input type {name} is not a row type"))
                .with_hint("pass the row type of the customer table or view, e.g. input => 'customers'::regtype"),
        ),
        None => raise(Error::new(SqlState::UndefinedObject, format!("type with OID {} does not exist", oid.to_u32()))),
    }
    Spi::connect(|client| {
        // Domains read as their base type.
        let table = spi(client.select(
            "SELECT a.attname::text, \
                    CASE WHEN bt.typtype = 'd' THEN format_type(bt.typbasetype, bt.typtypmod) \
                         ELSE format_type(a.atttypid, a.atttypmod) END \
             FROM pg_catalog.pg_type t \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = t.typrelid \
             JOIN pg_catalog.pg_type bt ON bt.oid = a.atttypid \
             WHERE t.oid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            None,
            &[oid.into()],
        ));
        table
            .map(|r| (spi(r.get::<String>(1)).unwrap_or_default(), spi(r.get::<String>(2)).unwrap_or_default()))
            .collect()
    })
}

fn explicit_attributes(value: &serde_json::Value) -> Result<Vec<(String, String)>> {
    let hint = r#"pass attributes as '{"monetary": "numeric", "recency_days": "integer", "tags": "text[]"}'"#;
    let Some(map) = value.as_object() else {
        return Err(Error::invalid_parameter("attributes must be a JSON object of attribute name → type").with_hint(hint));
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, ty) in map {
        let Some(ty) = ty.as_str() else {
            return Err(Error::invalid_parameter(format!("the type of attribute \"{name}\" must be a string")).with_hint(hint));
        };
        if Type::parse(ty).is_none() {
            return Err(Error::invalid_parameter(format!("attribute \"{name}\" has type \"{ty}\", which rules cannot read"))
                .with_hint("use boolean, smallint, integer, bigint, numeric, real, double precision, text, date, timestamp, timestamptz, interval or text[]"));
        }
        out.push((name.clone(), ty.to_string()));
    }
    Ok(out)
}

/// Creates (or with `replace`, replaces) a ruleset after compiling every rule;
/// returns its new version.
#[pg_extern(volatile, parallel_unsafe)]
fn segment_ruleset_create(
    name: Option<&str>,
    rules: Option<JsonB>,
    default_segment: default!(Option<&str>, "NULL"),
    input: default!(Option<RegType>, "NULL"),
    attributes: default!(Option<JsonB>, "NULL"),
    replace: default!(Option<bool>, "false"),
) -> i64 {
    let name = required(name, "name");
    let JsonB(rules) = required(rules, "rules");
    let replace = required(replace, "replace");
    if name.trim().is_empty() {
        raise(Error::invalid_parameter("ruleset name must not be empty").with_hint("name the ruleset, e.g. 'lifecycle'"));
    }
    let rule_defs = parse_rules(&rules.to_string()).or_raise();
    let mut declared: Vec<(String, String)> = Vec::new();
    if let Some(RegType(oid)) = input {
        declared = row_type_attributes(oid);
    }
    if let Some(JsonB(extra)) = &attributes {
        for (n, t) in explicit_attributes(extra).or_raise() {
            match declared.iter_mut().find(|(d, _)| *d == n) {
                Some(existing) => existing.1 = t,
                None => declared.push((n, t)),
            }
        }
    }
    if input.is_none() && attributes.is_none() {
        raise(
            Error::invalid_parameter("a ruleset needs its attributes: pass input or attributes")
                .with_hint("input => 'customers'::regtype takes them from a row type; attributes => '{\"monetary\": \"numeric\"}' lists them"),
        );
    }
    let exists = load_definition(name).is_some();
    if exists && !replace {
        raise(
            Error::new(SqlState::DuplicateObject, format!("ruleset \"{name}\" already exists"))
                .with_hint("pass replace => true to replace it, or drop it first with segment_ruleset_drop()"),
        );
    }
    let definition = Definition {
        name: name.to_string(),
        rules: rule_defs,
        default: default_segment.map(str::to_string),
        attributes: declared.clone(),
        version: 0,
    };
    // Compiling the whole program checks every rule, that referenced rulesets
    // exist, that attribute types agree, and that references form no cycle.
    let program = Program::build(definition, &mut |n| Ok(load_definition(n)), &PgEnv).or_raise();
    let depends_on = program.main().references.clone();
    let attributes_json = serde_json::Value::Object(declared.into_iter().map(|(n, t)| (n, serde_json::Value::String(t))).collect());
    let query = format!(
        "INSERT INTO {table} (name, rules, default_segment, input, attributes, depends_on) \
         VALUES ($1, $2, $3, $4::oid::regtype, $5, $6) \
         ON CONFLICT (name) DO UPDATE SET rules = EXCLUDED.rules, default_segment = EXCLUDED.default_segment, \
           input = EXCLUDED.input, attributes = EXCLUDED.attributes, depends_on = EXCLUDED.depends_on, \
           version = nextval($7::regclass), updated_at = clock_timestamp(), updated_by = current_user \
         RETURNING version",
        table = qualify("segment_rulesets")
    );
    let version = Spi::connect_mut(|client| {
        let table = spi(client.update(
            &query,
            Some(1),
            &[
                name.into(),
                JsonB(rules).into(),
                default_segment.into(),
                input.map(|RegType(o)| o).into(),
                JsonB(attributes_json).into(),
                depends_on.into(),
                qualify("segment_ruleset_versions").into(),
            ],
        ));
        spi(table.first().get::<i64>(1)).unwrap_or_default()
    });
    CACHE.with(|c| c.borrow_mut().clear());
    invalidate_plans();
    version
}

/// Makes every backend re-plan cached queries that depend on rulesets (at
/// commit): plans of `segment_assign` over a table row pass the columns the
/// ruleset read when planned (see `support.rs`).
fn invalidate_plans() {
    let oid = Spi::connect(|client| {
        let t = spi(client.select("SELECT to_regclass($1)::oid", Some(1), &[qualify("segment_rulesets").into()]));
        spi(t.first().get::<pg_sys::Oid>(1))
    });
    if let Some(oid) = oid {
        unsafe { pg_sys::CacheInvalidateRelcacheByRelid(oid) };
    }
}

/// Drops a ruleset; whether it existed. A ruleset other rulesets reference is 55000.
#[pg_extern(volatile, parallel_unsafe)]
fn segment_ruleset_drop(name: Option<&str>, if_exists: default!(Option<bool>, "false")) -> bool {
    let name = required(name, "name");
    let if_exists = required(if_exists, "if_exists");
    let table = qualify("segment_rulesets");
    let users: Vec<String> = Spi::connect(|client| {
        let t = spi(client.select(&format!("SELECT name FROM {table} WHERE $1 = ANY(depends_on) ORDER BY name"), None, &[name.into()]));
        t.map(|r| spi(r.get::<String>(1)).unwrap_or_default()).collect()
    });
    if !users.is_empty() {
        raise(
            Error::new(
                SqlState::ObjectNotInPrerequisiteState,
                format!("ruleset \"{name}\" is referenced by ruleset {}", users.iter().map(|u| format!("\"{u}\"")).collect::<Vec<_>>().join(", ")),
            )
            .with_hint("drop or replace the referencing rulesets first"),
        );
    }
    let deleted = Spi::connect_mut(|client| {
        let t = spi(client.update(&format!("DELETE FROM {table} WHERE name = $1 RETURNING 1"), None, &[name.into()]));
        !t.is_empty()
    });
    CACHE.with(|c| c.borrow_mut().clear());
    invalidate_plans();
    if !deleted && !if_exists {
        raise(not_found(name));
    }
    deleted
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION segment_ruleset_create(text, jsonb, text, regtype, jsonb, boolean) IS
  'creates (replace => true: replaces) a ruleset: ordered rules [{"segment": ..., "when": "<SQL condition>"}], first match wins; attributes from input (a row type) and/or attributes (jsonb name → type); every rule is parsed and type-checked now; returns the new version';
COMMENT ON FUNCTION segment_ruleset_drop(text, boolean) IS
  'drops a ruleset; returns whether it existed (if_exists => true: no error when it does not)';
"#,
    name = "rules_catalog_comments",
    requires = [segment_ruleset_create, segment_ruleset_drop, "rules_catalog"]
);
