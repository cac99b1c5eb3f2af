//! Rulesets: ordered rules compiled into one program, first match wins.
//!
//! A [`Program`] is a ruleset plus every ruleset it references with
//! `segment('name')`, compiled against one shared table of attribute slots,
//! referenced rulesets first, so one row is read once and each referenced
//! segment is computed once per row.

use super::compile::{Compiler, Names};
use super::env::Env;
use super::eval::{Node, Row};
use super::parse::{self, Located};
use super::value::{Type, Value};
use crate::error::{Error, Result, SqlState};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;

/// One rule as the user writes it: `{"segment": "VIP", "when": "monetary >= 1000"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub segment: String,
    pub when: String,
}

/// A ruleset as stored in the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub rules: Vec<RuleDef>,
    pub default: Option<String>,
    /// Declared attributes: (name, PostgreSQL type name), in order.
    pub attributes: Vec<(String, String)>,
    pub version: i64,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub segment: String,
    pub when: String,
    pub node: Node,
    /// The top-level AND operands as text and program, for segment_explain.
    pub conjuncts: Vec<(String, Node)>,
    /// Attribute names the rule reads.
    pub reads: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Ruleset {
    pub name: String,
    pub version: i64,
    pub rules: Vec<Rule>,
    pub default: Option<String>,
    /// Rulesets referenced with segment('name').
    pub references: Vec<String>,
}

/// Attribute and segment slots shared by the rulesets of one program.
#[derive(Debug, Default, Clone)]
pub struct Slots {
    pub attrs: Vec<(String, Type)>,
    pub segments: Vec<String>,
}

struct Scope<'a> {
    declared: &'a [(String, String)],
    slots: &'a mut Slots,
    references: Vec<String>,
    exists: &'a dyn Fn(&str) -> bool,
}

impl Names for Scope<'_> {
    fn attribute(&mut self, name: &str) -> Option<std::result::Result<(usize, Type), String>> {
        let (_, declared) = self.declared.iter().find(|(n, _)| n == name)?;
        let Some(ty) = Type::parse(declared) else {
            return Some(Err(declared.clone()));
        };
        if let Some(slot) = self.slots.attrs.iter().position(|(n, _)| n == name) {
            if self.slots.attrs[slot].1 != ty {
                return Some(Err(format!("{declared} here and {} in a referenced ruleset", self.slots.attrs[slot].1)));
            }
            return Some(Ok((slot, ty)));
        }
        self.slots.attrs.push((name.to_string(), ty));
        Some(Ok((self.slots.attrs.len() - 1, ty)))
    }

    fn segment(&mut self, ruleset: &str) -> std::result::Result<usize, Error> {
        if !(self.exists)(ruleset) {
            return Err(Error::undefined_object("ruleset", ruleset)
                .with_hint("create the referenced ruleset first with segment_ruleset_create()"));
        }
        if !self.references.iter().any(|r| r == ruleset) {
            self.references.push(ruleset.to_string());
        }
        if let Some(slot) = self.slots.segments.iter().position(|s| s == ruleset) {
            return Ok(slot);
        }
        self.slots.segments.push(ruleset.to_string());
        Ok(self.slots.segments.len() - 1)
    }
}

/// The rule's text with a caret under `position` (1-based characters).
fn pointer(text: &str, position: usize) -> String {
    let line_start = text.chars().take(position - 1).filter(|&c| c == '\n').count();
    let line = text.split('\n').nth(line_start).unwrap_or(text);
    let before: usize = text.split('\n').take(line_start).map(|l| l.chars().count() + 1).sum();
    format!("{line}\n{}^", " ".repeat(position.saturating_sub(before + 1)))
}

/// Places a rule's compile error: which rule, where in its text.
fn in_rule(index: usize, rule: &RuleDef, located: Located) -> Error {
    let mut error = located.error;
    let which = format!("rule {} (\"{}\")", index + 1, rule.segment);
    match located.position {
        Some(p) => {
            error.message = format!("{} at position {p} of {which}", error.message);
            error.detail = Some(pointer(&rule.when, p));
        }
        None => error.message = format!("{} in {which}", error.message),
    }
    error
}

/// The rule text an expression was parsed from (sqlparser's rendering if its span is unknown).
fn source_text(text: &str, e: &sqlparser::ast::Expr) -> String {
    use sqlparser::ast::Spanned;
    let span = e.span();
    let start = parse::offset(text, span.start.line, span.start.column);
    let end = parse::offset(text, span.end.line, span.end.column);
    if let (Some(start), Some(end)) = (start, end) {
        if start <= end {
            let slice: String = text.chars().skip(start - 1).take(end - start).collect();
            if !slice.trim().is_empty() {
                return slice.trim().to_string();
            }
        }
    }
    e.to_string()
}

/// Validates the shape of a definition (names, at least one rule).
pub fn check_definition(def: &Definition) -> Result<()> {
    if def.rules.is_empty() {
        return Err(Error::invalid_parameter("a ruleset needs at least one rule")
            .with_hint(r#"pass rules as '[{"segment": "VIP", "when": "monetary >= 1000"}]'"#));
    }
    for (i, rule) in def.rules.iter().enumerate() {
        if rule.segment.trim().is_empty() {
            return Err(Error::invalid_parameter(format!("rule {} has an empty segment name", i + 1))
                .with_hint("give every rule a segment name"));
        }
    }
    if def.default.as_deref().is_some_and(|d| d.trim().is_empty()) {
        return Err(Error::invalid_parameter("default_segment must not be empty").with_hint("pass NULL for no default"));
    }
    Ok(())
}

/// Compiles one definition into `slots`.
pub fn compile(def: &Definition, slots: &mut Slots, exists: &dyn Fn(&str) -> bool, env: &dyn Env) -> Result<Ruleset> {
    check_definition(def)?;
    let mut scope = Scope { declared: &def.attributes, slots, references: Vec::new(), exists };
    let mut rules = Vec::with_capacity(def.rules.len());
    for (i, rule) in def.rules.iter().enumerate() {
        let expr = parse::parse(&rule.when).map_err(|l| in_rule(i, rule, l))?;
        let mut compiler = Compiler::new(&rule.when, &mut scope, env);
        let node = compiler.condition(&expr).map_err(|l| in_rule(i, rule, l))?.lowered();
        let reads = std::mem::take(&mut compiler.used);
        let mut conjuncts = Vec::new();
        for part in Compiler::conjuncts(&expr) {
            let mut c = Compiler::new(&rule.when, &mut scope, env);
            let n = c.condition(part).map_err(|l| in_rule(i, rule, l))?.lowered();
            conjuncts.push((source_text(&rule.when, part), n));
        }
        rules.push(Rule { segment: rule.segment.clone(), when: rule.when.clone(), node, conjuncts, reads });
    }
    let references = std::mem::take(&mut scope.references);
    Ok(Ruleset { name: def.name.clone(), version: def.version, rules, default: def.default.clone(), references })
}

/// A ruleset and everything it references, ready to evaluate rows.
#[derive(Debug, Clone)]
pub struct Program {
    /// Referenced rulesets first (each after its own references), the main one last.
    pub rulesets: Vec<Ruleset>,
    pub slots: Slots,
    /// For each ruleset but the main one: its slot in `slots.segments`.
    segment_slot: Vec<usize>,
}

impl Program {
    /// Compiles `main` and, through `load`, every ruleset it references.
    /// A reference cycle is 42P19.
    pub fn build(main: Definition, load: &mut dyn FnMut(&str) -> Result<Option<Definition>>, env: &dyn Env) -> Result<Program> {
        let mut slots = Slots::default();
        let mut defs: HashMap<String, Definition> = HashMap::new();
        let mut compiled: HashMap<String, Ruleset> = HashMap::new();
        let main_name = main.name.clone();
        let mut pending = vec![main];
        while let Some(def) = pending.pop() {
            let mut missing = Vec::new();
            let mut found: Vec<Definition> = Vec::new();
            let mut lookup_error = None;
            // Existence of referenced rulesets is checked by `load` below.
            let exists = |_: &str| true;
            let ruleset = compile(&def, &mut slots, &exists, env)?;
            for r in &ruleset.references {
                if r != &def.name && !defs.contains_key(r) && !compiled.contains_key(r) && !pending.iter().any(|p| &p.name == r) {
                    missing.push(r.clone());
                }
            }
            for name in missing {
                match load(&name) {
                    Ok(Some(d)) => found.push(d),
                    Ok(None) => {
                        lookup_error = Some(Error::undefined_object("ruleset", &name).with_hint(format!(
                            "ruleset \"{}\" references it with segment('{name}'); create it again or replace the referencing ruleset",
                            def.name
                        )))
                    }
                    Err(e) => lookup_error = Some(e),
                }
                if lookup_error.is_some() {
                    break;
                }
            }
            if let Some(e) = lookup_error {
                return Err(e);
            }
            pending.extend(found);
            defs.insert(def.name.clone(), def);
            compiled.insert(ruleset.name.clone(), ruleset);
        }
        // Topological order: a ruleset after everything it references.
        let mut order: Vec<String> = Vec::new();
        let mut state: HashMap<String, u8> = HashMap::new();
        fn visit(name: &str, compiled: &HashMap<String, Ruleset>, state: &mut HashMap<String, u8>, order: &mut Vec<String>, path: &mut Vec<String>) -> Result<()> {
            match state.get(name) {
                Some(2) => return Ok(()),
                Some(1) => {
                    path.push(name.to_string());
                    return Err(cycle_error(path));
                }
                _ => {}
            }
            state.insert(name.to_string(), 1);
            path.push(name.to_string());
            for r in &compiled[name].references {
                visit(r, compiled, state, order, path)?;
            }
            path.pop();
            state.insert(name.to_string(), 2);
            order.push(name.to_string());
            Ok(())
        }
        visit(&main_name, &compiled, &mut state, &mut order, &mut Vec::new())?;
        let mut rulesets = Vec::with_capacity(order.len());
        let mut segment_slot = Vec::new();
        for name in &order {
            let r = compiled.remove(name).expect("visited rulesets are compiled");
            if *name != main_name {
                let slot = slots.segments.iter().position(|s| s == name).expect("referenced rulesets have a slot");
                segment_slot.push(slot);
            }
            rulesets.push(r);
        }
        Ok(Program { rulesets, slots, segment_slot })
    }

    pub fn main(&self) -> &Ruleset {
        self.rulesets.last().expect("a program has its main ruleset")
    }

    /// The segments referenced rulesets give this row (empty without references).
    pub fn referenced<'r>(&'r self, attrs: &'r [Value<'r>], env: &dyn Env) -> Result<Vec<Value<'r>>> {
        if self.segment_slot.is_empty() {
            return Ok(Vec::new());
        }
        let mut segments = vec![Value::Null; self.slots.segments.len()];
        for (ruleset, &slot) in self.rulesets.iter().zip(&self.segment_slot) {
            let row = Row { attrs, segments: &segments };
            let segment = first_match(ruleset, &row, env)?;
            segments[slot] = segment.map_or(Value::Null, |s| Value::Text(Cow::Borrowed(s)));
        }
        Ok(segments)
    }

    /// The segment of one customer: the first matching rule's, else the default.
    pub fn assign<'r>(&'r self, attrs: &'r [Value<'r>], env: &dyn Env) -> Result<Option<&'r str>> {
        let segments = self.referenced(attrs, env)?;
        first_match(self.main(), &Row { attrs, segments: &segments }, env)
    }

    /// Per rule of the main ruleset: whether it matched (NULL counts as no).
    pub fn outcomes<'r>(&'r self, attrs: &'r [Value<'r>], env: &dyn Env, out: &mut Vec<bool>) -> Result<()> {
        let segments = self.referenced(attrs, env)?;
        let row = Row { attrs, segments: &segments };
        out.clear();
        for rule in &self.main().rules {
            out.push(rule.node.test(&row, env)? == Some(true));
        }
        Ok(())
    }

    /// Every matching rule's segment, in rule order (a segment named by two rules once).
    pub fn matches<'r>(&'r self, attrs: &'r [Value<'r>], env: &dyn Env) -> Result<Vec<&'r str>> {
        let segments = self.referenced(attrs, env)?;
        let row = Row { attrs, segments: &segments };
        let mut out: Vec<&str> = Vec::new();
        for rule in &self.main().rules {
            if rule.node.test(&row, env)? == Some(true) && !out.contains(&rule.segment.as_str()) {
                out.push(&rule.segment);
            }
        }
        Ok(out)
    }

    /// Which rule matched and why each earlier one did not.
    pub fn explain<'r>(&'r self, attrs: &'r [Value<'r>], env: &dyn Env) -> Result<serde_json::Value> {
        use serde_json::{json, Map, Value as J};
        let segments = self.referenced(attrs, env)?;
        let row = Row { attrs, segments: &segments };
        let main = self.main();
        let truth = |b: Option<bool>| b.map_or(J::Null, J::Bool);
        let mut rules = Vec::new();
        let mut winner = None;
        for (i, rule) in main.rules.iter().enumerate() {
            let result = rule.node.test(&row, env)?;
            let mut values = Map::new();
            for name in &rule.reads {
                if let Some(slot) = self.slots.attrs.iter().position(|(n, _)| n == name) {
                    let mut v = attrs[slot].to_json();
                    // timestamptz values are UTC instants: say so.
                    if let (Type::TimestampTz, serde_json::Value::String(s)) = (self.slots.attrs[slot].1, &mut v) {
                        s.push_str("+00");
                    }
                    values.insert(name.clone(), v);
                }
            }
            let mut entry = json!({"rule": i + 1, "segment": rule.segment, "when": rule.when, "matched": truth(result), "values": values});
            if result != Some(true) {
                let mut failed = Vec::new();
                for (text, node) in &rule.conjuncts {
                    let r = node.test(&row, env)?;
                    if r != Some(true) {
                        failed.push(json!({"condition": text, "result": truth(r)}));
                    }
                }
                entry["failed"] = J::Array(failed);
            }
            rules.push(entry);
            if result == Some(true) {
                winner = Some(i);
                break;
            }
        }
        let segment = match winner {
            Some(i) => J::String(main.rules[i].segment.clone()),
            None => main.default.clone().map_or(J::Null, J::String),
        };
        let mut referenced = Map::new();
        for (name, v) in self.slots.segments.iter().zip(&segments) {
            referenced.insert(name.clone(), v.to_json());
        }
        let mut out = json!({
            "ruleset": main.name,
            "version": main.version,
            "segment": segment,
            "rule": winner.map_or(J::Null, |i| J::from(i + 1)),
            "default": winner.is_none(),
            "rules": rules,
        });
        if !referenced.is_empty() {
            out["referenced"] = J::Object(referenced);
        }
        Ok(out)
    }
}

fn first_match<'p>(ruleset: &'p Ruleset, row: &Row, env: &dyn Env) -> Result<Option<&'p str>> {
    for rule in &ruleset.rules {
        if rule.node.test(row, env)? == Some(true) {
            return Ok(Some(&rule.segment));
        }
    }
    Ok(ruleset.default.as_deref())
}

fn cycle_error(path: &[String]) -> Error {
    Error::new(SqlState::InvalidRecursion, format!("rulesets reference each other in a cycle: {}", path.join(" → ")))
        .with_hint("a ruleset may use segment('other') only when 'other' does not depend on it, directly or not")
}

/// Whether the rulesets that `name` references reach `name` again (given the
/// stored reference lists); 42P19 naming the cycle if so.
pub fn check_cycles(name: &str, references: &[String], stored: &dyn Fn(&str) -> Vec<String>) -> Result<()> {
    fn walk(at: &str, target: &str, stored: &dyn Fn(&str) -> Vec<String>, path: &mut Vec<String>, seen: &mut Vec<String>) -> bool {
        if at == target {
            return true;
        }
        if seen.iter().any(|s| s == at) {
            return false;
        }
        seen.push(at.to_string());
        for next in stored(at) {
            path.push(next.clone());
            if walk(&next, target, stored, path, seen) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut seen = Vec::new();
    for r in references {
        let mut path = vec![name.to_string(), r.clone()];
        if walk(r, name, stored, &mut path, &mut seen) {
            return Err(cycle_error(&path));
        }
    }
    Ok(())
}

/// Counts for segment_ruleset_check.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tally {
    pub customers: i64,
    pub matched: Vec<i64>,
    pub won: Vec<i64>,
    pub defaulted: i64,
    /// overlap[i][j] for i < j: customers both rules match.
    pub overlap: Vec<Vec<i64>>,
}

impl Tally {
    pub fn new(rules: usize) -> Tally {
        Tally { customers: 0, matched: vec![0; rules], won: vec![0; rules], defaulted: 0, overlap: vec![vec![0; rules]; rules] }
    }

    pub fn add(&mut self, outcomes: &[bool]) {
        self.customers += 1;
        let mut won = false;
        for (i, &m) in outcomes.iter().enumerate() {
            if !m {
                continue;
            }
            self.matched[i] += 1;
            if !won {
                self.won[i] += 1;
                won = true;
            }
            for j in i + 1..outcomes.len() {
                if outcomes[j] {
                    self.overlap[i][j] += 1;
                }
            }
        }
        if !won {
            self.defaulted += 1;
        }
    }
}
