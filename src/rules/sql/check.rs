//! `segment_ruleset_check(ruleset, relation)`: how the rules behave on real customers.
//!
//! Reads the relation once through an SPI cursor (as the caller: privileges
//! and row-level security apply), evaluates every rule on every row, and
//! reports per rule how many customers it matched, won and lost to an earlier
//! rule (shadowed), how many fell to the default, and every overlapping pair.

use super::catalog::{program, spi, RegClass};
use super::env::PgEnv;
use super::row::Binding;
use crate::error::sql::{raise, required, OrRaise};
use crate::error::{Error, SqlState};
use crate::rules::ruleset::Tally;
use pgrx::prelude::*;
use pgrx::{pg_sys, PgMemoryContexts};

const BATCH: i64 = 10_000;

fn relation_name(oid: pg_sys::Oid) -> String {
    let found = Spi::connect(|client| {
        let t = spi(client.select(
            "SELECT c.oid::regclass::text, c.relkind::text FROM pg_catalog.pg_class c WHERE c.oid = $1",
            Some(1),
            &[oid.into()],
        ));
        if t.is_empty() {
            return None;
        }
        let t = t.first();
        Some((spi(t.get::<String>(1)).unwrap_or_default(), spi(t.get::<String>(2)).unwrap_or_default()))
    });
    match found {
        None => raise(
            Error::new(SqlState::UndefinedTable, format!("relation with OID {} does not exist", oid.to_u32()))
                .with_hint("pass a table or view name, e.g. 'customers'::regclass"),
        ),
        Some((name, kind)) if matches!(kind.as_str(), "r" | "v" | "m" | "f" | "p") => name,
        Some((name, _)) => raise(
            Error::invalid_parameter(format!("\"{name}\" is not a table, view or materialized view"))
                .with_hint("pass the relation that holds one row per customer"),
        ),
    }
}

type CheckRow = (String, Option<i32>, Option<String>, Option<i32>, Option<String>, i64, Option<i64>, Option<i64>, Option<bool>);

/// Per rule: matched (customers), won, shadowed, never matched; the default's
/// count; every overlapping pair of rules with its count; the total.
#[pg_extern(stable, parallel_restricted)]
fn segment_ruleset_check(
    ruleset: Option<&str>,
    relation: Option<RegClass>,
) -> TableIterator<
    'static,
    (
        name!(kind, String),
        name!(rule, Option<i32>),
        name!(segment, Option<String>),
        name!(other_rule, Option<i32>),
        name!(other_segment, Option<String>),
        name!(customers, i64),
        name!(won, Option<i64>),
        name!(shadowed, Option<i64>),
        name!(never_matched, Option<bool>),
    ),
> {
    let name = required(ruleset, "ruleset");
    let RegClass(oid) = required(relation, "relation");
    let relation = relation_name(oid);
    let program = program(name);
    let rules = program.main().rules.len();
    let mut tally = Tally::new(rules);
    let query = format!("SELECT * FROM {relation}");
    Spi::connect(|client| {
        let mut cursor = spi(client.try_open_cursor(&query, &[]));
        let mut scratch = PgMemoryContexts::new("pg_segment ruleset check");
        let mut binding: Option<Binding> = None;
        let mut outcomes = Vec::with_capacity(rules);
        loop {
            let fetched = spi(cursor.fetch(BATCH));
            if fetched.is_empty() {
                break;
            }
            unsafe {
                let table = pg_sys::SPI_tuptable;
                if binding.is_none() {
                    // The descriptor lives as long as this SPI connection's memory.
                    let tupdesc = pg_sys::CreateTupleDescCopy((*table).tupdesc);
                    binding = Some(
                        Binding::new(tupdesc, pg_sys::RECORDOID, -1, &program.slots.attrs, name, &relation).or_raise(),
                    );
                }
                let b = binding.as_mut().expect("bound above");
                let count = (*table).numvals as usize;
                scratch.switch_to(|_| {
                    let mut values = Vec::with_capacity(program.slots.attrs.len());
                    for i in 0..count {
                        b.deform_tuple(*(*table).vals.add(i));
                        b.read(&mut values);
                        program.outcomes(&values, &PgEnv, &mut outcomes).or_raise();
                        tally.add(&outcomes);
                    }
                });
                scratch.reset();
                pg_sys::SPI_freetuptable(table);
            }
            pgrx::check_for_interrupts!();
        }
    });
    let main = program.main();
    let mut out: Vec<CheckRow> = Vec::new();
    for (i, rule) in main.rules.iter().enumerate() {
        out.push((
            "rule".into(),
            Some(i as i32 + 1),
            Some(rule.segment.clone()),
            None,
            None,
            tally.matched[i],
            Some(tally.won[i]),
            Some(tally.matched[i] - tally.won[i]),
            Some(tally.matched[i] == 0),
        ));
    }
    out.push(("default".into(), None, main.default.clone(), None, None, tally.defaulted, None, None, None));
    for i in 0..rules {
        for j in i + 1..rules {
            if tally.overlap[i][j] > 0 {
                out.push((
                    "overlap".into(),
                    Some(i as i32 + 1),
                    Some(main.rules[i].segment.clone()),
                    Some(j as i32 + 1),
                    Some(main.rules[j].segment.clone()),
                    tally.overlap[i][j],
                    None,
                    None,
                    None,
                ));
            }
        }
    }
    out.push(("total".into(), None, None, None, None, tally.customers, None, None, None));
    TableIterator::new(out)
}

pgrx::extension_sql!(
    r#"
COMMENT ON FUNCTION segment_ruleset_check(text, regclass) IS
  'evaluates a ruleset over every row of a relation: kind rule (customers matched, won, shadowed by an earlier rule, never_matched), default (customers no rule matched), overlap (pairs of rules matching the same customers), total';
"#,
    name = "rules_check_comments",
    requires = [segment_ruleset_check]
);
