//! Segment maps: (r, f, m) scores → a segment name, by rules matched in
//! priority order (lowest number first) with an explicit fallback. The rules
//! live in the catalog tables `rfm_segment_maps` / `rfm_segment_map_rules`;
//! this is their meaning, and the check that finds gaps and overlaps.

/// One rule: inclusive score ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub priority: i32,
    pub segment: String,
    pub r: (i32, i32),
    pub f: (i32, i32),
    pub m: (i32, i32),
}

impl Rule {
    pub fn matches(&self, r: i32, f: i32, m: i32) -> bool {
        (self.r.0..=self.r.1).contains(&r) && (self.f.0..=self.f.1).contains(&f) && (self.m.0..=self.m.1).contains(&m)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Map {
    pub name: String,
    /// scores run 1..=bins
    pub bins: i32,
    pub fallback: String,
    /// sorted by priority
    pub rules: Vec<Rule>,
}

/// One finding of [`Map::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `gap`, `overlap`, `unreachable` or `out of range`
    pub problem: &'static str,
    pub priority: Option<i32>,
    pub segment: String,
    pub cells: i64,
    pub example: String,
}

fn cell(r: i32, f: i32, m: i32) -> String {
    format!("r={r} f={f} m={m}")
}

impl Map {
    /// The segment of a score triple: the first rule that matches, else the fallback.
    pub fn lookup(&self, r: i32, f: i32, m: i32) -> &str {
        self.rules.iter().find(|rule| rule.matches(r, f, m)).map_or(&self.fallback, |rule| &rule.segment)
    }

    /// Every cell's segment, for fast lookups: index (r-1)·bins² + (f-1)·bins + (m-1).
    pub fn table(&self) -> Vec<&str> {
        let b = self.bins;
        let mut out = Vec::with_capacity((b * b * b) as usize);
        for r in 1..=b {
            for f in 1..=b {
                for m in 1..=b {
                    out.push(self.lookup(r, f, m));
                }
            }
        }
        out
    }

    /// Gaps (cells no rule covers: they get the fallback), overlaps (cells a rule
    /// shares with an earlier rule of another segment), unreachable rules (every
    /// cell taken by earlier rules) and ranges outside 1..bins.
    pub fn check(&self) -> Vec<Problem> {
        let b = self.bins;
        let mut problems = Vec::new();
        for rule in &self.rules {
            let (lo, hi) = (rule.r.0.min(rule.f.0).min(rule.m.0), rule.r.1.max(rule.f.1).max(rule.m.1));
            if lo < 1 || hi > b {
                problems.push(Problem {
                    problem: "out of range",
                    priority: Some(rule.priority),
                    segment: rule.segment.clone(),
                    cells: 0,
                    example: format!("scores run 1..{b}, the rule has {lo}..{hi}"),
                });
            }
        }
        let mut gaps = (0i64, None);
        let mut per_rule: Vec<(i64, i64, Option<String>)> = vec![(0, 0, None); self.rules.len()]; // (own, overlapped, example)
        for r in 1..=b {
            for f in 1..=b {
                for m in 1..=b {
                    let mut first: Option<&Rule> = None;
                    for (i, rule) in self.rules.iter().enumerate() {
                        if !rule.matches(r, f, m) {
                            continue;
                        }
                        match first {
                            None => {
                                first = Some(rule);
                                per_rule[i].0 += 1;
                            }
                            Some(winner) if winner.segment != rule.segment => {
                                per_rule[i].1 += 1;
                                per_rule[i].2.get_or_insert_with(|| format!("{} (taken by \"{}\")", cell(r, f, m), winner.segment));
                            }
                            Some(_) => {}
                        }
                    }
                    if first.is_none() {
                        gaps.0 += 1;
                        gaps.1.get_or_insert_with(|| cell(r, f, m));
                    }
                }
            }
        }
        if gaps.0 > 0 {
            problems.push(Problem {
                problem: "gap",
                priority: None,
                segment: self.fallback.clone(),
                cells: gaps.0,
                example: gaps.1.unwrap_or_default(),
            });
        }
        for (rule, (own, overlapped, example)) in self.rules.iter().zip(per_rule) {
            if own == 0 {
                problems.push(Problem {
                    problem: "unreachable",
                    priority: Some(rule.priority),
                    segment: rule.segment.clone(),
                    cells: 0,
                    example: "every cell of the rule matches an earlier rule".into(),
                });
            } else if overlapped > 0 {
                problems.push(Problem {
                    problem: "overlap",
                    priority: Some(rule.priority),
                    segment: rule.segment.clone(),
                    cells: overlapped,
                    example: example.unwrap_or_default(),
                });
            }
        }
        problems
    }
}

/// The standard map (the same rows `sql/rfm_segment_maps.sql` inserts): the widely
/// used R × F grid, M not needed; 12 rules, 11 segments, every cell covered once.
pub fn standard() -> Map {
    let rule = |priority, segment: &str, r, f| Rule { priority, segment: segment.into(), r, f, m: (1, 5) };
    Map {
        name: "standard".into(),
        bins: 5,
        fallback: "Other".into(),
        rules: vec![
            rule(10, "Champions", (5, 5), (4, 5)),
            rule(20, "Loyal Customers", (3, 4), (4, 5)),
            rule(30, "Potential Loyalist", (4, 5), (2, 3)),
            rule(40, "New Customers", (5, 5), (1, 1)),
            rule(50, "Promising", (4, 4), (1, 1)),
            rule(60, "Need Attention", (3, 3), (3, 3)),
            rule(70, "About To Sleep", (3, 3), (1, 2)),
            rule(80, "At Risk", (1, 2), (3, 4)),
            rule(90, "Can't Lose Them", (1, 2), (5, 5)),
            rule(100, "Hibernating", (2, 2), (1, 2)),
            rule(101, "Hibernating", (1, 1), (2, 2)),
            rule(110, "Lost", (1, 1), (1, 1)),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_map_covers_every_cell_once() {
        let map = standard();
        assert_eq!(map.check(), vec![]);
        let names: std::collections::BTreeSet<&str> = map.table().into_iter().collect();
        assert_eq!(names.len(), 11);
        assert!(!names.contains("Other"));
        assert_eq!(map.lookup(5, 5, 1), "Champions");
        assert_eq!(map.lookup(1, 5, 5), "Can't Lose Them");
        assert_eq!(map.lookup(5, 1, 3), "New Customers");
        assert_eq!(map.lookup(1, 1, 5), "Lost");
        assert_eq!(map.lookup(1, 2, 1), "Hibernating");
        assert_eq!(map.lookup(3, 3, 3), "Need Attention");
    }

    #[test]
    fn check_reports_gaps_overlaps_unreachable_and_range() {
        let mut map = standard();
        map.rules.retain(|r| r.segment != "Lost"); // r=1 f=1: 5 cells uncovered
        map.rules.push(Rule { priority: 5, segment: "VIP".into(), r: (5, 5), f: (5, 5), m: (5, 5) });
        map.rules.push(Rule { priority: 200, segment: "Ghost".into(), r: (5, 5), f: (5, 5), m: (1, 1) });
        map.rules.push(Rule { priority: 300, segment: "Wide".into(), r: (1, 6), f: (1, 1), m: (1, 1) });
        map.rules.sort_by_key(|r| r.priority);
        let problems = map.check();
        let summary: Vec<(&str, Option<i32>, i64)> = problems.iter().map(|p| (p.problem, p.priority, p.cells)).collect();
        assert_eq!(
            summary,
            vec![
                ("out of range", Some(300), 0),
                ("gap", None, 4), // r=1 f=1 m=2..5 (m=1 taken by "Wide")
                ("overlap", Some(10), 1),
                ("unreachable", Some(200), 0),
                ("overlap", Some(300), 4),
            ]
        );
        assert_eq!(problems[1].example, "r=1 f=1 m=2");
        assert_eq!(problems[2].example, "r=5 f=5 m=5 (taken by \"VIP\")");
        assert_eq!(map.lookup(1, 1, 3), "Other");
        assert_eq!(map.lookup(5, 5, 5), "VIP");
    }
}
