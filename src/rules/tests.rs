//! Core tests of the rule language: parsing, typing, three-valued logic,
//! rulesets, references and check tallies (no PostgreSQL needed).

use super::env::UtcEnv;
use super::ruleset::{check_cycles, compile, Definition, Program, RuleDef, Slots, Tally};
use super::value::{parse_timestamp, Value};
use crate::error::SqlState;
use std::borrow::Cow;

fn env() -> UtcEnv {
    UtcEnv { now: parse_timestamp("2024-06-15 12:00:00").unwrap() }
}

fn attrs() -> Vec<(String, String)> {
    [
        ("a", "integer"),
        ("b", "integer"),
        ("x", "numeric(10,2)"),
        ("p", "boolean"),
        ("q", "boolean"),
        ("city", "text"),
        ("tags", "text[]"),
        ("signup", "date"),
        ("last_order_at", "timestamptz"),
        ("payload", "jsonb"),
    ]
    .iter()
    .map(|(n, t)| (n.to_string(), t.to_string()))
    .collect()
}

fn def(name: &str, rules: &[(&str, &str)], default: Option<&str>) -> Definition {
    Definition {
        name: name.into(),
        rules: rules.iter().map(|(s, w)| RuleDef { segment: s.to_string(), when: w.to_string() }).collect(),
        default: default.map(str::to_string),
        attributes: attrs(),
        version: 1,
    }
}

/// Builds a one-rule program over `attrs()`.
fn program(when: &str) -> crate::error::Result<Program> {
    Program::build(def("t", &[("T", when)], None), &mut |_| Ok(None), &env())
}

/// Row values in the slot order of the program.
fn row(p: &Program, values: &[(&str, Value<'static>)]) -> Vec<Value<'static>> {
    p.slots
        .attrs
        .iter()
        .map(|(n, _)| values.iter().find(|(k, _)| k == n).map_or(Value::Null, |(_, v)| v.clone()))
        .collect()
}

/// The condition's truth value for one row: Some(true/false) or None (NULL).
fn truth(when: &str, values: &[(&str, Value<'static>)]) -> Option<bool> {
    let p = program(when).unwrap_or_else(|e| panic!("{when}: {e}"));
    let r = row(&p, values);
    p.main().rules[0].node.test(&super::eval::Row { attrs: &r, segments: &[] }, &env()).unwrap()
}

fn error(when: &str) -> crate::error::Error {
    program(when).expect_err(when)
}

fn b(v: Option<bool>) -> Value<'static> {
    v.map_or(Value::Null, Value::Bool)
}

#[test]
fn three_valued_truth_tables_match_postgresql() {
    // PostgreSQL: SELECT p AND q, p OR q, NOT p over {t, f, NULL}².
    let vals = [Some(true), Some(false), None];
    for p in vals {
        for q in vals {
            let and = match (p, q) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
            let or = match (p, q) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            };
            let row = [("p", b(p)), ("q", b(q))];
            assert_eq!(truth("p AND q", &row), and, "{p:?} AND {q:?}");
            assert_eq!(truth("p OR q", &row), or, "{p:?} OR {q:?}");
            assert_eq!(truth("NOT p", &row), p.map(|x| !x));
            assert_eq!(truth("p IS TRUE", &row), Some(p == Some(true)));
            assert_eq!(truth("p IS NOT FALSE", &row), Some(p != Some(false)));
            assert_eq!(truth("p IS UNKNOWN", &row), Some(p.is_none()));
            assert_eq!(truth("p IS DISTINCT FROM q", &row), Some(p != q));
        }
    }
}

#[test]
fn null_semantics_of_in_between_any() {
    let null = [("a", Value::Null)];
    let one = [("a", Value::Int(1))];
    assert_eq!(truth("a IN (1, 2)", &null), None);
    assert_eq!(truth("a IN (1, NULL)", &one), Some(true));
    assert_eq!(truth("a IN (2, NULL)", &one), None);
    assert_eq!(truth("a NOT IN (2, NULL)", &one), None);
    assert_eq!(truth("a NOT IN (2, 3)", &one), Some(false).map(|_| true));
    assert_eq!(truth("a BETWEEN 0 AND 2", &one), Some(true));
    assert_eq!(truth("a NOT BETWEEN 0 AND 2", &one), Some(false));
    assert_eq!(truth("a BETWEEN NULL AND 0", &one), Some(false)); // 1 >= NULL AND 1 <= 0 → NULL AND false
    assert_eq!(truth("a BETWEEN NULL AND 2", &one), None);
    assert_eq!(truth("a = NULL", &one), None);
    assert_eq!(truth("a IS NULL", &null), Some(true));
    let tags = |t: &[Option<&'static str>]| Value::TextArray(t.iter().map(|s| s.map(Cow::Borrowed)).collect());
    assert_eq!(truth("'vip' = ANY(tags)", &[("tags", tags(&[Some("new"), Some("vip")]))]), Some(true));
    assert_eq!(truth("'vip' = ANY(tags)", &[("tags", tags(&[Some("new")]))]), Some(false));
    assert_eq!(truth("'vip' = ANY(tags)", &[("tags", tags(&[Some("new"), None]))]), None);
    assert_eq!(truth("'vip' = ANY(tags)", &[("tags", tags(&[]))]), Some(false));
    assert_eq!(truth("'vip' = ANY(tags)", &[("tags", Value::Null)]), None);
    assert_eq!(truth("city = ANY(tags)", &[("tags", tags(&[])), ("city", Value::Null)]), Some(false));
    assert_eq!(truth("'vip' <> ALL(tags)", &[("tags", tags(&[Some("new")]))]), Some(true));
    assert_eq!(truth("'vip' <> ALL(tags)", &[("tags", tags(&[]))]), Some(true));
    assert_eq!(truth("cardinality(tags) = 2", &[("tags", tags(&[Some("a"), None]))]), Some(true));
}

#[test]
fn arithmetic_and_types() {
    let r = [("a", Value::Int(7)), ("b", Value::Int(2)), ("x", Value::Float(2.5))];
    assert_eq!(truth("a / b = 3", &r), Some(true)); // integer division truncates
    assert_eq!(truth("-a / b = -3", &r), Some(true));
    assert_eq!(truth("a % b = 1", &r), Some(true));
    assert_eq!(truth("a * x = 17.5", &r), Some(true));
    assert_eq!(truth("a / 2.0 = 3.5", &r), Some(true));
    assert_eq!(truth("abs(b - a) = 5", &r), Some(true));
    assert_eq!(truth("coalesce(NULL, a, 0) = 7", &r), Some(true));
    assert_eq!(truth("x::integer = 3", &r), Some(true)); // numeric rounds half away from zero
    assert_eq!(truth("a + NULL > 0", &r), None);
    assert_eq!(truth("a > '5'", &r), Some(true)); // untyped literal takes the attribute's type
    let p = program("a / b > 0").unwrap();
    let zero = row(&p, &[("a", Value::Int(1)), ("b", Value::Int(0))]);
    let e = p.assign(&zero, &env()).unwrap_err();
    assert_eq!(e.state, SqlState::DivisionByZero);
    let p = program("a * a > 0").unwrap();
    let big = row(&p, &[("a", Value::Int(i64::MAX))]);
    assert_eq!(p.assign(&big, &env()).unwrap_err().state, SqlState::NumericValueOutOfRange);
}

#[test]
fn text_patterns_and_time() {
    let r = [
        ("city", Value::Text(Cow::Borrowed("Boston"))),
        ("signup", Value::Date(super::value::parse_date("2024-06-01").unwrap())),
        ("last_order_at", Value::Ts(parse_timestamp("2024-05-01 08:00").unwrap())),
    ];
    assert_eq!(truth("city LIKE 'Bos%'", &r), Some(true));
    assert_eq!(truth("city ILIKE 'bos%'", &r), Some(true));
    assert_eq!(truth("city NOT LIKE '_oston'", &r), Some(false));
    assert_eq!(truth("lower(city) = 'boston'", &r), Some(true));
    assert_eq!(truth("city || '!' = 'Boston!'", &r), Some(true));
    assert_eq!(truth("signup >= current_date - 30", &r), Some(true));
    assert_eq!(truth("signup = date '2024-06-01'", &r), Some(true));
    assert_eq!(truth("signup = '2024-06-01'", &r), Some(true));
    assert_eq!(truth("signup > '2024-06-01'::date - interval '1 month'", &r), Some(true));
    assert_eq!(truth("last_order_at >= now() - interval '30 days'", &r), Some(false));
    assert_eq!(truth("last_order_at >= now() - interval '50 days'", &r), Some(true));
    assert_eq!(truth("now() - last_order_at > interval '45 days'", &r), Some(true));
    assert_eq!(truth("last_order_at < signup", &r), Some(true)); // date widens to timestamptz
    assert_eq!(truth("current_date - signup = 14", &r), Some(true));
    assert_eq!(truth("last_order_at >= '2024-05-01'", &r), Some(true));
}

#[test]
fn errors_name_the_problem_and_position() {
    let e = error("monetry >= 1000");
    assert_eq!(e.state, SqlState::UndefinedColumn);
    assert_eq!(e.message, "attribute \"monetry\" does not exist at position 1 of rule 1 (\"T\")");
    let e = error("a >= 1 AND city > 5");
    assert_eq!(e.state, SqlState::DatatypeMismatch);
    assert!(e.message.contains("cannot compare text with bigint"), "{}", e.message);
    assert!(e.message.ends_with("at position 12 of rule 1 (\"T\")"), "{}", e.message);
    assert_eq!(e.detail.as_deref(), Some("a >= 1 AND city > 5\n           ^"));
    let e = error("a >= pg_sleep(10)");
    assert_eq!(e.state, SqlState::SyntaxError);
    assert!(e.message.starts_with("function pg_sleep() is not allowed in a rule at position 6"), "{}", e.message);
    assert_eq!(error("a IN (SELECT 1)").state, SqlState::SyntaxError);
    assert_eq!(error("a = (SELECT max(b) FROM t)").state, SqlState::SyntaxError);
    assert_eq!(error("EXISTS (SELECT 1)").state, SqlState::SyntaxError);
    assert_eq!(error("a::regclass IS NULL").state, SqlState::SyntaxError);
    assert_eq!(error("a + 1").state, SqlState::DatatypeMismatch); // not boolean
    assert_eq!(error("payload IS NULL").state, SqlState::DatatypeMismatch);
    assert_eq!(error("t.a = 1").state, SqlState::SyntaxError);
    assert_eq!(error("signup = 'yesterday-ish'").state, SqlState::InvalidTextRepresentation);
}

#[test]
fn injection_corpus_is_rejected() {
    let corpus = [
        "a = 1; DROP TABLE customers",
        "a = 1; SELECT pg_sleep(10)",
        "pg_sleep(10) IS NULL",
        "city = '' OR 1=1; DELETE FROM customers; --'",
        "a = 1 UNION SELECT 1",
        "city = 'x'' OR ''1''=''1'",
        "a = (SELECT count(*) FROM pg_authid)",
        "EXISTS (SELECT 1 FROM customers)",
        "current_setting('is_superuser') = 'on'",
        "city = lo_import('/etc/passwd')::text",
        "a = 1 /* comment */ ; DROP TABLE t",
        "dblink_exec('drop table t') = 'x'",
        "a IN (SELECT a FROM t)",
        "set_config('search_path', 'evil', false) = 'x'",
    ];
    for text in corpus {
        match program(text) {
            Err(e) => assert!(
                matches!(e.state, SqlState::SyntaxError | SqlState::DatatypeMismatch),
                "{text}: {e}"
            ),
            // A quote-doubling payload is just a text literal compared with city.
            Ok(p) => assert_eq!(text, "city = 'x'' OR ''1''=''1'", "{text} was accepted ({:?})", p.main().rules[0].node),
        }
    }
}

#[test]
fn nesting_limits() {
    let deep = format!("{}a = 1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert_eq!(error(&deep).state, SqlState::ProgramLimitExceeded);
    let chain = vec!["a = 1"; 40].join(" OR ");
    assert_eq!(truth(&chain, &[("a", Value::Int(1))]), Some(true));
    let chain = vec!["a = 1"; 1_000].join(" OR ");
    assert_eq!(error(&chain).state, SqlState::ProgramLimitExceeded);
    let sums = format!("{} > 0", vec!["a"; 1_000].join(" + "));
    assert_eq!(error(&sums).state, SqlState::ProgramLimitExceeded);
}

#[test]
fn first_match_wins_and_matches_lists_all() {
    let d = def("tiers", &[("VIP", "x >= 1000"), ("Regular", "x >= 100"), ("Any", "x >= 0")], Some("Unknown"));
    let p = Program::build(d, &mut |_| Ok(None), &env()).unwrap();
    let at = |x: Value<'static>| row(&p, &[("x", x)]);
    assert_eq!(p.assign(&at(Value::Float(1500.0)), &env()).unwrap(), Some("VIP"));
    assert_eq!(p.assign(&at(Value::Float(150.0)), &env()).unwrap(), Some("Regular"));
    assert_eq!(p.assign(&at(Value::Null), &env()).unwrap(), Some("Unknown"));
    assert_eq!(p.matches(&at(Value::Float(1500.0)), &env()).unwrap(), vec!["VIP", "Regular", "Any"]);
    assert!(p.matches(&at(Value::Null), &env()).unwrap().is_empty());
    let e = p.explain(&at(Value::Float(150.0)), &env()).unwrap();
    assert_eq!(e["segment"], "Regular");
    assert_eq!(e["rule"], 2);
    assert_eq!(e["rules"][0]["matched"], false);
    assert_eq!(e["rules"][0]["failed"][0]["condition"], "x >= 1000");
    let d = def("t2", &[("A", "a >= 1 AND (p OR q)  AND  last_order_at >= now() - interval '30 days'")], None);
    let p2 = Program::build(d, &mut |_| Ok(None), &env()).unwrap();
    let texts: Vec<&str> = p2.main().rules[0].conjuncts.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(texts, vec!["a >= 1", "p OR q", "last_order_at >= now() - interval '30 days'"]);
    assert_eq!(e["rules"][0]["values"]["x"], 150.0);
    assert_eq!(e["rules"].as_array().unwrap().len(), 2);
    let e = p.explain(&at(Value::Null), &env()).unwrap();
    assert_eq!(e["default"], true);
    assert_eq!(e["segment"], "Unknown");
    assert_eq!(e["rules"][2]["failed"][0]["result"], serde_json::Value::Null);
}

#[test]
fn references_and_cycles() {
    let base = def("base", &[("Big", "a > 10")], Some("Small"));
    let top = def("top", &[("BigVIP", "segment('base') = 'Big' AND p")], None);
    let mut load = |name: &str| Ok(if name == "base" { Some(base.clone()) } else { None });
    let p = Program::build(top, &mut load, &env()).unwrap();
    assert_eq!(p.rulesets.len(), 2);
    let r = row(&p, &[("a", Value::Int(11)), ("p", Value::Bool(true))]);
    assert_eq!(p.assign(&r, &env()).unwrap(), Some("BigVIP"));
    let r = row(&p, &[("a", Value::Int(1)), ("p", Value::Bool(true))]);
    assert_eq!(p.assign(&r, &env()).unwrap(), None);
    let missing = def("m", &[("X", "segment('nope') = 'Y'")], None);
    let e = Program::build(missing, &mut |_| Ok(None), &env()).unwrap_err();
    assert_eq!(e.state, SqlState::UndefinedObject);
    // a → b → c → a
    let stored = |n: &str| match n {
        "b" => vec!["c".to_string()],
        "c" => vec!["a".to_string()],
        _ => vec![],
    };
    let e = check_cycles("a", &["b".to_string()], &stored).unwrap_err();
    assert_eq!(e.state, SqlState::InvalidRecursion);
    assert_eq!(e.message, "rulesets reference each other in a cycle: a → b → c → a");
    assert!(check_cycles("x", &["b".to_string()], &|_| vec![]).is_ok());
    let e = check_cycles("a", &["a".to_string()], &|_| vec![]).unwrap_err();
    assert_eq!(e.message, "rulesets reference each other in a cycle: a → a");
}

#[test]
fn tally_counts_won_shadowed_overlap() {
    let mut t = Tally::new(3);
    t.add(&[true, true, false]);
    t.add(&[false, true, true]);
    t.add(&[false, false, false]);
    t.add(&[true, false, true]);
    assert_eq!(t.customers, 4);
    assert_eq!(t.matched, vec![2, 2, 2]);
    assert_eq!(t.won, vec![2, 1, 0]);
    assert_eq!(t.defaulted, 1);
    assert_eq!(t.overlap[0][1], 1);
    assert_eq!(t.overlap[0][2], 1);
    assert_eq!(t.overlap[1][2], 1);
}

#[test]
fn definition_checks() {
    let mut slots = Slots::default();
    let empty = def("e", &[], None);
    assert_eq!(compile(&empty, &mut slots, &|_| true, &env()).unwrap_err().state, SqlState::InvalidParameterValue);
    let blank = def("e", &[(" ", "a > 1")], None);
    assert_eq!(compile(&blank, &mut slots, &|_| true, &env()).unwrap_err().state, SqlState::InvalidParameterValue);
}

/// A small property test: random byte soup never panics the parser or compiler.
#[test]
fn random_input_never_panics() {
    let pieces = [
        "a", "b", "x", "city", "tags", "(", ")", "'", "''", "AND", "OR", "NOT", "=", "<>", ">=", "+", "-", "*", "/", "%",
        "IN", "BETWEEN", "LIKE", "ILIKE", "IS", "NULL", "TRUE", "::", "date", "interval", "'30 days'", "now()", ",",
        "ANY", "ALL", "1", "2.5", "-", ";", "--", "/*", "*/", "$$", "\\", "\"", "segment", "e'\\x'", "ARRAY[", "]", "é",
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let n = (next() % 12) as usize + 1;
        let text: Vec<&str> = (0..n).map(|_| pieces[(next() % pieces.len() as u64) as usize]).collect();
        let text = text.join(" ");
        if let Ok(p) = program(&text) {
            let r = row(&p, &[("a", Value::Int(3)), ("b", Value::Int(0)), ("x", Value::Float(1.0))]);
            let _ = p.assign(&r, &env());
        }
    }
}

/// Evaluator speed on the benchmark's 14 rules (bench/suites/rules.py):
/// `cargo test --release --lib rules::tests::eval_speed -- --ignored --nocapture`.
/// Prints nanoseconds per row; asserts nothing about time.
#[test]
#[ignore]
fn eval_speed() {
    let rules = [
        ("VIP", "'vip' = ANY(tags) AND m >= 4"),
        ("Local newsletter", "city = 'Boston' AND email_opt_in"),
        ("Young app users", "birth_year >= 2000 AND signup_channel = 'app'"),
        ("Champions", "r >= 4 AND f >= 4"),
        ("Loyal", "r >= 3 AND f >= 4"),
        ("Potential loyalist", "r >= 4 AND f BETWEEN 2 AND 3"),
        ("New customers", "r = 5 AND f = 1"),
        ("Promising", "r = 4 AND f = 1"),
        ("Need attention", "r = 3 AND f = 3"),
        ("About to sleep", "r = 3 AND f <= 2"),
        ("Cannot lose them", "r <= 2 AND f = 5"),
        ("At risk", "r <= 2 AND f BETWEEN 3 AND 4"),
        ("Hibernating", "r = 2 AND f <= 2"),
        ("Lost", "r = 1 AND f <= 2"),
    ];
    let attributes = [
        ("r", "integer"),
        ("f", "integer"),
        ("m", "integer"),
        ("city", "text"),
        ("birth_year", "integer"),
        ("signup_channel", "text"),
        ("email_opt_in", "boolean"),
        ("tags", "text[]"),
    ];
    let definition = Definition {
        name: "bench".into(),
        rules: rules.iter().map(|(s, w)| RuleDef { segment: s.to_string(), when: w.to_string() }).collect(),
        default: Some("Other".into()),
        attributes: attributes.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
        version: 1,
    };
    let p = Program::build(definition, &mut |_| Ok(None), &env()).unwrap();
    let cities = ["Boston", "Austin", "Denver", "Seattle"];
    let rows: Vec<Vec<Value<'static>>> = (0..100_000i64)
        .map(|i| {
            let h = if std::env::var("SAME").is_ok() { 12345 } else { (i.wrapping_mul(2_654_435_761) >> 7) as usize };
            p.slots
                .attrs
                .iter()
                .map(|(n, _)| match n.as_str() {
                    "r" => Value::Int(1 + (h % 5) as i64),
                    "f" => Value::Int(1 + (h / 5 % 5) as i64),
                    "m" => Value::Int(1 + (h / 25 % 5) as i64),
                    "city" => Value::Text(Cow::Borrowed(cities[h / 125 % 4])),
                    "birth_year" => Value::Int(1950 + (h / 500 % 60) as i64),
                    "signup_channel" => Value::Text(Cow::Borrowed(if h % 3 == 0 { "app" } else { "web" })),
                    "email_opt_in" => Value::Bool(h % 2 == 0),
                    "tags" => Value::TextArray(vec![Some(Cow::Borrowed("news")), Some(Cow::Borrowed(if h % 7 == 0 { "vip" } else { "sale" }))]),
                    _ => Value::Null,
                })
                .collect()
        })
        .collect();
    let env = env();
    let mut counts = std::collections::HashMap::new();
    // The fastest of 20 passes: the machine is shared, the minimum is the signal.
    let mut best = f64::INFINITY;
    for _ in 0..20 {
        let start = std::time::Instant::now();
        for r in &rows {
            *counts.entry(p.assign(r, &env).unwrap()).or_insert(0usize) += 1;
        }
        best = best.min(start.elapsed().as_nanos() as f64 / rows.len() as f64);
    }
    let ns = best;
    println!("assign: {ns:.1} ns per row over {} segments", counts.len());
}
