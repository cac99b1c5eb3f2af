//! Rows into the f32 matrix: the half of loading that needs no PostgreSQL
//! (reading array payloads, checking lengths and finiteness, the memory
//! budget, sampling), so it can run on a worker thread while the backend
//! reads the table ([`collect_in_background`]).
//!
//! Why: reading a column of a plain table is two jobs of about equal cost:
//! finding the rows (buffers, visibility, deforming: PostgreSQL, one thread)
//! and parsing each array into the matrix (including the first touch of the
//! matrix's pages). The backend copies each array's bytes into a batch and a
//! worker parses them on the other core. The worker never calls PostgreSQL;
//! an error it meets (a NaN element, a row of another length, the memory
//! limit) comes back to the backend, which raises it.

use super::array::{read_flat_payload, Elements};
use crate::error::{Error, Result, SqlState};
use crate::extension_schema::quote_ident;
use crate::kmeans::kernel::Matrix;
use crate::kmeans::rng::Reservoir;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Memory check while loading: called with the row count so far and the
/// dimensions at the first row, at powers of two and every 65,536 rows (not
/// per row: it is an indirect call, and the matrix only grows that often).
pub type Budget<'a> = &'a mut (dyn FnMut(usize, usize) -> Result<()> + Send);

/// Calls `budget` for the rows it is meant for (see [`Budget`]).
#[inline(always)]
fn within_budget(budget: &mut (dyn FnMut(usize, usize) -> Result<()> + Send), rows: usize, dims: usize) -> Result<()> {
    match rows == 1 || rows.is_power_of_two() || rows % 65_536 == 0 {
        true => budget(rows, dims),
        false => Ok(()),
    }
}

/// The rows read so far, and what was skipped.
pub struct Collector<'a> {
    pub matrix: Matrix,
    /// rows with a NULL feature array
    pub skipped: u64,
    /// rows offered, NULL ones included (the 1-based number errors report)
    row_number: u64,
    reservoir: Option<Reservoir>,
    reserved: bool,
    expected_rows: usize,
    budget: Budget<'a>,
    buffer: Vec<f32>,
    relation: &'a str,
    column: &'a str,
}

impl<'a> Collector<'a> {
    /// `sample`: keep a reservoir of (size, seed) rows instead of all;
    /// `expected_rows` (the planner's estimate) sizes the first allocation, so
    /// the matrix is not copied as it grows. `relation` and `column` name the
    /// source in error messages (`column` empty for a profile).
    pub fn new(relation: &'a str, column: &'a str, sample: Option<(usize, u64)>, expected_rows: usize, budget: Budget<'a>) -> Self {
        Collector {
            matrix: Matrix::new(0),
            skipped: 0,
            row_number: 0,
            reservoir: sample.map(|(size, seed)| Reservoir::new(size, seed)),
            reserved: false,
            expected_rows,
            budget,
            buffer: Vec::new(),
            relation,
            column,
        }
    }

    /// A row whose features are NULL: skipped and counted.
    pub fn null(&mut self) {
        self.row_number += 1;
        self.skipped += 1;
    }

    /// A row's `real[]` / `float8[]` value: the bytes after its varlena header.
    #[inline]
    pub fn array(&mut self, payload: &[u8]) -> Result<()> {
        self.row_number += 1;
        let dims = self.matrix.dims;
        if self.reserved && self.reservoir.is_none() {
            // the usual row: parsed straight into the matrix
            within_budget(self.budget, self.matrix.rows + 1, dims)?;
            let from = self.matrix.data.len();
            match read_flat_payload(payload, &mut self.matrix.data) {
                Elements::Ok(n) if n == dims => {
                    self.matrix.rows += 1;
                    Ok(())
                }
                other => {
                    self.matrix.data.truncate(from);
                    Err(self.element_error(other))
                }
            }
        } else {
            let mut buffer = std::mem::take(&mut self.buffer);
            buffer.clear();
            let got = read_flat_payload(payload, &mut buffer);
            let expected = if self.matrix.rows == 0 { buffer.len().max(1) } else { dims };
            let result = match got {
                Elements::Ok(n) if n > 0 && n == expected => self.push(&buffer),
                other => Err(self.element_error(other)),
            };
            self.buffer = buffer;
            result
        }
    }

    /// A row's features computed by the caller (a profile's encoding).
    pub fn vector(&mut self, row: &[f32]) -> Result<()> {
        self.row_number += 1;
        self.push(row)
    }

    fn push(&mut self, row: &[f32]) -> Result<()> {
        let matrix = &mut self.matrix;
        if matrix.dims == 0 && matrix.rows == 0 {
            matrix.dims = row.len();
        }
        if !self.reserved {
            self.reserved = true;
            // the memory check comes first, so the estimate is within the limit
            within_budget(self.budget, 1, matrix.dims)?;
            let rows = self.reservoir.as_ref().map_or(self.expected_rows, |r| r.capacity.min(self.expected_rows.max(1)));
            matrix.data.reserve(rows.saturating_mul(matrix.dims));
            crate::kmeans::huge_pages::advise(&matrix.data);
        }
        match &mut self.reservoir {
            None => {
                within_budget(self.budget, matrix.rows + 1, matrix.dims)?;
                matrix.push(row);
            }
            Some(r) => match r.offer() {
                Some(slot) if slot == matrix.rows => {
                    within_budget(self.budget, matrix.rows + 1, matrix.dims)?;
                    matrix.push(row)
                }
                Some(slot) => matrix.data[slot * matrix.dims..(slot + 1) * matrix.dims].copy_from_slice(row),
                None => {}
            },
        }
        Ok(())
    }

    /// Rows with features offered (with a reservoir, more than the matrix holds).
    pub fn seen(&self) -> u64 {
        self.reservoir.as_ref().map_or(self.matrix.rows as u64, |r| r.seen)
    }

    fn element_error(&self, what: Elements) -> Error {
        let (row, relation, dims) = (self.row_number, self.relation, self.matrix.dims);
        let column = self.column;
        let col = quote_ident(column);
        match what {
            Elements::Null(at) => Error::invalid_parameter(format!(
                "feature array in row {row} of {relation} has a NULL element at position {at}"
            ))
            .with_hint(format!("find such rows with SELECT * FROM {relation} WHERE array_position({col}, NULL) IS NOT NULL; fix them or fit on a view that filters them")),
            Elements::NotFinite(at, x) => Error::invalid_parameter(format!(
                "feature array in row {row} of {relation} has {} at position {at}", super::array::pg_float(x)
            ))
            .with_hint(format!("find such rows with SELECT * FROM {relation} WHERE {col} && '{{NaN,Infinity,-Infinity}}'; fix them or fit on a view that filters them")),
            Elements::MultiDim(n) => Error::invalid_parameter(format!(
                "feature array in row {row} of {relation} has {n} dimensions, not 1"
            ))
            .with_hint(format!("store one flat array per row; find them with SELECT * FROM {relation} WHERE array_ndims({col}) > 1")),
            Elements::WrongType(_) => Error::new(SqlState::DatatypeMismatch, format!("column \"{column}\" of {relation} is not real[] or double precision[]")),
            Elements::Ok(0) => Error::invalid_parameter(format!("feature array in row {row} of {relation} is empty"))
                .with_hint(format!("find such rows with SELECT * FROM {relation} WHERE cardinality({col}) = 0")),
            Elements::Ok(n) => Error::invalid_parameter(format!(
                "feature array in row {row} of {relation} has {n} elements, earlier rows have {dims}"
            ))
            .with_hint(format!("every row needs the same length; see SELECT cardinality({col}), count(*) FROM {relation} GROUP BY 1")),
        }
    }
}

/// Array payloads, copied out by the backend: `ends[i]` is where row i ends in
/// `bytes` (NULL rows: [`NULL_ROW`]).
struct Payloads {
    bytes: Vec<u8>,
    ends: Vec<u32>,
}

const NULL_ROW: u32 = u32::MAX;
/// A batch is sent at this many rows or bytes: large enough that the channel
/// is not the cost, small enough to stay in cache between the two threads.
const BATCH_ROWS: usize = 2048;
const BATCH_BYTES: usize = 256 * 1024;
/// Batches in flight: the backend can run ahead this far.
const IN_FLIGHT: usize = 4;

impl Payloads {
    fn new() -> Payloads {
        Payloads { bytes: Vec::with_capacity(BATCH_BYTES + 4096), ends: Vec::with_capacity(BATCH_ROWS) }
    }

    fn full(&self) -> bool {
        self.ends.len() >= BATCH_ROWS || self.bytes.len() >= BATCH_BYTES
    }

    fn collect_into(&self, collector: &mut Collector) -> Result<()> {
        let mut start = 0usize;
        for &end in &self.ends {
            if end == NULL_ROW {
                collector.null();
                continue;
            }
            collector.array(&self.bytes[start..end as usize])?;
            start = end as usize;
        }
        Ok(())
    }
}

/// What the reading thread hands rows to (see [`collect_in_background`]).
pub struct Feed {
    batch: Payloads,
    to_worker: SyncSender<Payloads>,
    recycled: Receiver<Payloads>,
}

/// The worker stopped (its error is what [`collect_in_background`] returns).
#[derive(Debug)]
pub struct Stopped;

impl Feed {
    pub fn null(&mut self) -> Result<(), Stopped> {
        self.batch.ends.push(NULL_ROW);
        self.send_when_full()
    }

    /// A row's array payload (see `Collector::array`).
    #[inline]
    pub fn array(&mut self, payload: &[u8]) -> Result<(), Stopped> {
        self.batch.bytes.extend_from_slice(payload);
        self.batch.ends.push(self.batch.bytes.len() as u32);
        self.send_when_full()
    }

    #[inline]
    fn send_when_full(&mut self) -> Result<(), Stopped> {
        if self.batch.full() {
            return self.send();
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), Stopped> {
        let mut next = self.recycled.try_recv().unwrap_or_else(|_| Payloads::new());
        next.bytes.clear();
        next.ends.clear();
        let full = std::mem::replace(&mut self.batch, next);
        self.to_worker.send(full).map_err(|_| Stopped)
    }
}

/// Runs `read` on this thread, feeding rows in order, while a worker thread
/// collects them into `collector`. `read` should stop at the first
/// `Err(Stopped)` (the worker met an error). Returns `read`'s error, else the
/// worker's. If `read` unwinds (a PostgreSQL error), the worker is stopped
/// and joined first.
pub fn collect_in_background<E>(
    collector: &mut Collector,
    read: impl FnOnce(&mut Feed) -> Result<(), E>,
) -> Result<Result<(), E>> {
    std::thread::scope(|scope| {
        let (to_worker, from_backend) = sync_channel::<Payloads>(IN_FLIGHT);
        let (to_backend, recycled) = sync_channel::<Payloads>(IN_FLIGHT + 2);
        let worker = std::thread::Builder::new()
            .name("kmeans load".into())
            .spawn_scoped(scope, move || -> Result<()> {
                for batch in from_backend {
                    // on an error the channel closes, so the backend's next send stops the scan
                    batch.collect_into(collector)?;
                    let _ = to_backend.try_send(batch); // the backend may be gone or have enough
                }
                Ok(())
            })
            .expect("the operating system refused a thread");
        // dropped (closing the channel) before the scope joins the worker, also when `read` unwinds
        let mut feed = Feed { batch: Payloads::new(), to_worker, recycled };
        let read_result = read(&mut feed);
        if read_result.is_ok() && !feed.batch.ends.is_empty() {
            let _ = feed.send();
        }
        drop(feed);
        let collected = match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        collected.map(|()| read_result)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The payload of a flat real[] without NULLs (what follows the varlena header).
    fn payload(values: &[f32]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [1i32, 0, 700, values.len() as i32, 1] {
            b.extend_from_slice(&w.to_ne_bytes());
        }
        for v in values {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        b
    }

    fn no_limit() -> impl FnMut(usize, usize) -> Result<()> + Send {
        |_, _| Ok(())
    }

    fn rows(n: usize) -> Vec<Option<Vec<u8>>> {
        (0..n).map(|i| (i % 7 != 3).then(|| payload(&[i as f32, -(i as f32) * 0.5, 1.0 / (i as f32 + 1.0)]))).collect()
    }

    fn collect_here(rows: &[Option<Vec<u8>>], sample: Option<(usize, u64)>) -> (Matrix, u64, u64) {
        let mut budget = no_limit();
        let mut c = Collector::new("t", "f", sample, 10, &mut budget);
        for r in rows {
            match r {
                None => c.null(),
                Some(p) => c.array(p).unwrap(),
            }
        }
        let seen = c.seen();
        (c.matrix, c.skipped, seen)
    }

    fn collect_threaded(rows: &[Option<Vec<u8>>], sample: Option<(usize, u64)>) -> Result<(Matrix, u64, u64)> {
        let mut budget = no_limit();
        let mut c = Collector::new("t", "f", sample, 10, &mut budget);
        let read = collect_in_background(&mut c, |feed| {
            for r in rows {
                match r {
                    None => feed.null()?,
                    Some(p) => feed.array(p)?,
                }
            }
            Ok::<(), Stopped>(())
        })?;
        assert!(read.is_ok());
        let seen = c.seen();
        Ok((c.matrix, c.skipped, seen))
    }

    #[test]
    fn threaded_collection_equals_collecting_here() {
        // more rows than a batch holds, so several batches (and recycled ones) are used
        let input = rows(3 * BATCH_ROWS + 17);
        for sample in [None, Some((100, 9))] {
            let (a, skipped_a, seen_a) = collect_here(&input, sample);
            let (b, skipped_b, seen_b) = collect_threaded(&input, sample).unwrap();
            assert_eq!((a.rows, a.dims, &a.data), (b.rows, b.dims, &b.data));
            assert_eq!((skipped_a, seen_a), (skipped_b, seen_b));
        }
        let (m, skipped, seen) = collect_here(&input, None);
        assert_eq!(m.dims, 3);
        assert_eq!(skipped as usize, input.iter().filter(|r| r.is_none()).count());
        assert_eq!(m.rows as u64, seen);
        assert_eq!(m.row(1), &[1.0, -0.5, 0.5]);
    }

    #[test]
    fn a_worker_error_comes_back_with_its_row_number_and_stops_the_reader() {
        let mut input = rows(2 * BATCH_ROWS);
        input[BATCH_ROWS + 5] = Some(payload(&[1.0, f32::NAN, 2.0]));
        let mut budget = no_limit();
        let mut c = Collector::new("points", "f", None, 0, &mut budget);
        let err = collect_in_background(&mut c, |feed| {
            for r in &input {
                match r {
                    None => feed.null()?,
                    Some(p) => feed.array(p)?,
                }
            }
            Ok::<(), Stopped>(())
        })
        .err()
        .expect("the NaN is an error");
        assert_eq!(err.message, format!("feature array in row {} of points has NaN at position 2", BATCH_ROWS + 6));
        assert_eq!(c.matrix.rows, BATCH_ROWS + 5 - (BATCH_ROWS + 5 + 3) / 7); // rows before it, NULLs skipped
    }

    #[test]
    fn lengths_and_the_budget_are_checked() {
        let mut budget = no_limit();
        let mut c = Collector::new("t", "f", None, 0, &mut budget);
        c.array(&payload(&[1.0, 2.0])).unwrap();
        let err = c.array(&payload(&[1.0, 2.0, 3.0])).unwrap_err();
        assert_eq!(err.message, "feature array in row 2 of t has 3 elements, earlier rows have 2");
        assert_eq!(c.matrix.data, vec![1.0, 2.0]); // the partial row is not kept
        let err = Collector::new("t", "f", None, 0, &mut no_limit()).array(&payload(&[])).unwrap_err();
        assert_eq!(err.message, "feature array in row 1 of t is empty");
        // the budget is asked at row 4 (a power of two), not at row 3
        let mut limited = |rows: usize, _dims: usize| if rows > 2 { Err(Error::limit_exceeded("too many")) } else { Ok(()) };
        let mut c = Collector::new("t", "f", None, 0, &mut limited);
        for v in [1.0, 2.0, 3.0] {
            c.array(&payload(&[v])).unwrap();
        }
        assert_eq!(c.array(&payload(&[4.0])).unwrap_err().state, SqlState::ProgramLimitExceeded);
        assert_eq!(c.matrix.rows, 3);
    }

    #[test]
    fn the_budget_is_asked_at_powers_of_two_and_every_65536_rows() {
        let mut asked = Vec::new();
        let mut recording = |rows: usize, dims: usize| {
            asked.push((rows, dims));
            Ok(())
        };
        let mut c = Collector::new("t", "f", None, 10, &mut recording);
        let row = payload(&[1.0, 2.0]);
        for _ in 0..200_000 {
            c.array(&row).unwrap();
        }
        drop(c);
        let expected: Vec<(usize, usize)> = [1, 1]
            .into_iter()
            .chain((1..18).map(|p| 1 << p))
            .chain([65_536 * 3])
            .map(|rows| (rows, 2))
            .collect();
        // the first row is asked twice: once for the reservation, once for the row
        assert_eq!(asked, expected);
    }

    #[test]
    fn a_reader_error_is_returned_after_the_worker_is_joined() {
        let mut budget = no_limit();
        let mut c = Collector::new("t", "f", None, 0, &mut budget);
        let input = rows(BATCH_ROWS + 1);
        let read = collect_in_background(&mut c, |feed| {
            for r in &input {
                feed.array(r.as_deref().unwrap_or(&payload(&[0.0, 0.0, 0.0]))).map_err(|_| "stopped")?;
            }
            Err("the reader failed")
        })
        .unwrap();
        assert_eq!(read, Err("the reader failed"));
        // the full batch was collected; the unsent tail was not
        assert_eq!(c.matrix.rows, BATCH_ROWS);
    }
}
