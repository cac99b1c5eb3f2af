//! Segment maps in the catalog: `rfm_segment_name`, `rfm_segment_map_check`,
//! and the loader `rfm_segments` uses. Tables and the standard map's rows are
//! in `sql/rfm_segment_maps.sql`; the meaning of a map is `rfm/segment_map.rs`.

use crate::error::sql::{raise, required};
use crate::error::Error;
use crate::extension_schema::qualify;
use crate::rfm::segment_map::{Map, Rule};
use pgrx::prelude::*;
use pgrx::{pg_sys, PgMemoryContexts};

fn spi<T>(result: Result<T, pgrx::spi::SpiError>) -> T {
    result.unwrap_or_else(|e| raise(Error::internal(format!("SPI failed: {e}"))))
}

pub fn unknown_map(name: &str) -> Error {
    Error::undefined_object("rfm segment map", name)
        .with_hint("SELECT name FROM rfm_segment_maps lists the maps; 'standard' ships with pg_segment")
}

/// Reads map `name` with a read-only query (safe in parallel workers).
pub fn load(name: &str) -> Map {
    let maps = qualify("rfm_segment_maps");
    let rules = qualify("rfm_segment_map_rules");
    Spi::connect(|client| {
        let head = spi(client.select(&format!("SELECT bins, fallback FROM {maps} WHERE name = $1"), Some(1), &[name.into()]));
        if head.is_empty() {
            raise(unknown_map(name));
        }
        let head = head.first();
        let bins = spi(head.get::<i32>(1)).unwrap_or(5);
        let fallback = spi(head.get::<String>(2)).unwrap_or_default();
        let rows = spi(client.select(
            &format!(
                "SELECT priority, segment, r_min, r_max, f_min, f_max, m_min, m_max FROM {rules} \
                 WHERE map = $1 ORDER BY priority"
            ),
            None,
            &[name.into()],
        ));
        let rules = rows
            .map(|row| {
                let int = |i| spi(row.get::<i32>(i)).unwrap_or(0);
                Rule {
                    priority: int(1),
                    segment: spi(row.get::<String>(2)).unwrap_or_default(),
                    r: (int(3), int(4)),
                    f: (int(5), int(6)),
                    m: (int(7), int(8)),
                }
            })
            .collect();
        Map { name: name.to_owned(), bins, fallback, rules }
    })
}

/// A map compiled to one segment per cell, kept per call site for the query.
pub struct Compiled {
    pub name: String,
    pub bins: i32,
    /// segment per cell, index (r-1)·bins² + (f-1)·bins + (m-1)
    pub cells: Vec<String>,
}

impl Compiled {
    pub fn new(map: &Map) -> Compiled {
        Compiled { name: map.name.clone(), bins: map.bins, cells: map.table().into_iter().map(str::to_owned).collect() }
    }

    pub fn segment(&self, r: i32, f: i32, m: i32) -> &str {
        for (what, score) in [("r", r), ("f", f), ("m", m)] {
            if !(1..=self.bins).contains(&score) {
                raise(
                    Error::invalid_parameter(format!(
                        "{what} score {score} is outside 1..{} of rfm segment map \"{}\"",
                        self.bins, self.name
                    ))
                    .with_hint("score with the map's bins, or use a map made for your bins (rfm_segment_maps.bins)"),
                );
            }
        }
        let b = self.bins as usize;
        &self.cells[(r as usize - 1) * b * b + (f as usize - 1) * b + (m as usize - 1)]
    }
}

/// The segment name of scores (r, f, m) under a map: the first rule by priority
/// whose ranges hold all three, else the map's fallback. NULL score → NULL;
/// NULL map → 22004; unknown map → 42704; a score outside 1..bins → 22023.
#[pg_extern(sql = false)]
fn rfm_segment_name(
    r: Option<i32>,
    f: Option<i32>,
    m: Option<i32>,
    map: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<String> {
    let map = required(map, "map");
    let (r, f, m) = (r?, f?, m?);
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        let mut cached = (*flinfo).fn_extra as *mut Compiled;
        if cached.is_null() || (*cached).name != map {
            let compiled = Compiled::new(&load(map));
            if cached.is_null() {
                cached = PgMemoryContexts::For((*flinfo).fn_mcxt).leak_and_drop_on_delete(compiled);
                (*flinfo).fn_extra = cached.cast();
            } else {
                *cached = compiled;
            }
        }
        Some((*cached).segment(r, f, m).to_owned())
    }
}

/// Problems of a map: gaps, overlaps, unreachable rules, ranges outside 1..bins.
#[pg_extern(sql = false)]
fn rfm_segment_map_check(
    map: Option<&str>,
) -> TableIterator<
    'static,
    (
        name!(problem, String),
        name!(priority, Option<i32>),
        name!(segment, String),
        name!(cells, i64),
        name!(example, String),
    ),
> {
    let map = load(required(map, "map"));
    let rows: Vec<_> =
        map.check().into_iter().map(|p| (p.problem.to_owned(), p.priority, p.segment, p.cells, p.example)).collect();
    TableIterator::new(rows)
}


pgrx::extension_sql_file!("../../../sql/rfm_segment_maps.sql", name = "rfm_segment_maps", requires = ["rfm_scores"]);
