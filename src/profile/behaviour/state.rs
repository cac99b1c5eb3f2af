//! The state of `behaviour_agg` as flat bytes, updated in place.
//!
//! The aggregate's state is a `bytea` (a varlena: PostgreSQL ships it to and
//! from parallel workers as it is, no serial/deserial functions needed). To keep
//! the transition cheap, one event updates the bytes where they lie: counters
//! are incremented in place and a new day, event type, category or channel is
//! inserted into its section by moving the bytes after it. The buffer keeps
//! spare capacity; when an insert does not fit, [`apply`] says how many bytes
//! it needs and changes nothing, and the caller retries on a larger copy.
//!
//! Layout (little-endian; offsets in bytes from the start of the payload):
//!
//! | at  | field |
//! |---|---|
//! | 0   | magic `u32` |
//! | 4   | used `u32`: bytes in use, header included |
//! | 8   | as_of `i64` (µs since 2000-01-01, PostgreSQL's timestamptz) |
//! | 16  | as_of_day `i32`: as_of's local date (days since 2000-01-01) |
//! | 20  | day count `u32` |
//! | 24  | first event `i64` (`i64::MAX` when none) |
//! | 32  | last event `i64` (`i64::MIN` when none) |
//! | 40  | events `[u64; 4]`: total, last 90, 30, 7 days |
//! | 72  | events per local hour `[u64; 24]` |
//! | 264 | byte lengths of the type, category and channel sections `u32 × 3`, reserved `u32` |
//! | 280 | days: sorted `i32` local dates with an event |
//! |     | types: records `len u16, name, [u64; 4]` (total, 90, 30, 7 days) |
//! |     | categories, then channels: records `len u16, name, count u64` |

use crate::error::{Error, Result, SqlState};

pub const MAGIC: u32 = 0x5053_4231; // "PSB1"
pub const HEADER: usize = 280;
/// The windows of the counters, in days, after the all-time total.
pub const WINDOWS: [i64; 3] = [90, 30, 7];
pub const USECS_PER_DAY: i64 = 86_400_000_000;

const AT_USED: usize = 4;
const AT_AS_OF: usize = 8;
const AT_AS_OF_DAY: usize = 16;
const AT_DAYS: usize = 20;
const AT_FIRST: usize = 24;
const AT_LAST: usize = 32;
const AT_EVENTS: usize = 40;
const AT_HOURS: usize = 72;
const AT_SECTIONS: usize = 264;

/// One event row, with its local day and hour already worked out by the caller.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub at: i64,
    pub day: i32,
    pub hour: u8,
    pub event_type: Option<&'a str>,
    pub category: Option<&'a str>,
    pub channel: Option<&'a str>,
}

/// The decoded state: what [`apply`] maintains in bytes, as Rust values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct State {
    pub as_of: i64,
    pub as_of_day: i32,
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// total, last 90, 30, 7 days
    pub events: [u64; 4],
    pub hours: [u64; 24],
    pub days: Vec<i32>,
    pub types: Vec<(String, [u64; 4])>,
    pub categories: Vec<(String, u64)>,
    pub channels: Vec<(String, u64)>,
}

fn corrupt(what: &str) -> Error {
    Error::new(SqlState::InvalidTextRepresentation, "invalid behaviour_agg state")
        .with_detail(what.to_string())
        .with_hint("pass only states produced by behaviour_agg's own functions")
}

fn get<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N]> {
    b.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| corrupt("a field lies outside the state"))
}
fn u16_at(b: &[u8], at: usize) -> Result<u16> {
    get::<2>(b, at).map(u16::from_le_bytes)
}
fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    get::<4>(b, at).map(u32::from_le_bytes)
}
fn i32_at(b: &[u8], at: usize) -> Result<i32> {
    get::<4>(b, at).map(i32::from_le_bytes)
}
fn u64_at(b: &[u8], at: usize) -> Result<u64> {
    get::<8>(b, at).map(u64::from_le_bytes)
}
fn i64_at(b: &[u8], at: usize) -> Result<i64> {
    get::<8>(b, at).map(i64::from_le_bytes)
}
fn put(b: &mut [u8], at: usize, bytes: &[u8]) {
    b[at..at + bytes.len()].copy_from_slice(bytes);
}
fn add_u64(b: &mut [u8], at: usize, n: u64) {
    let v = u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes")).saturating_add(n);
    put(b, at, &v.to_le_bytes());
}

/// Where the sections are, checked against the buffer.
#[derive(Debug, Clone, Copy)]
struct Sections {
    days: usize,
    day_count: usize,
    types: usize,
    categories: usize,
    channels: usize,
    end: usize,
}

impl Sections {
    fn read(b: &[u8]) -> Result<Sections> {
        if b.len() < HEADER || u32_at(b, 0)? != MAGIC {
            return Err(corrupt("the header is missing or of another version"));
        }
        let used = u32_at(b, AT_USED)? as usize;
        let day_count = u32_at(b, AT_DAYS)? as usize;
        let lengths = [u32_at(b, AT_SECTIONS)?, u32_at(b, AT_SECTIONS + 4)?, u32_at(b, AT_SECTIONS + 8)?].map(|l| l as usize);
        let types = HEADER + day_count.checked_mul(4).ok_or_else(|| corrupt("day count overflows"))?;
        let categories = types + lengths[0];
        let channels = categories + lengths[1];
        let end = channels + lengths[2];
        if end != used || used > b.len() {
            return Err(corrupt("the section lengths do not add up"));
        }
        Ok(Sections { days: HEADER, day_count, types, categories, channels, end })
    }
}

/// A new, empty state for `as_of`, with `spare` bytes of room to grow.
pub fn new_state(as_of: i64, as_of_day: i32, spare: usize) -> Vec<u8> {
    let mut b = vec![0u8; HEADER + spare];
    put(&mut b, 0, &MAGIC.to_le_bytes());
    put(&mut b, AT_USED, &(HEADER as u32).to_le_bytes());
    put(&mut b, AT_AS_OF, &as_of.to_le_bytes());
    put(&mut b, AT_AS_OF_DAY, &as_of_day.to_le_bytes());
    put(&mut b, AT_FIRST, &i64::MAX.to_le_bytes());
    put(&mut b, AT_LAST, &i64::MIN.to_le_bytes());
    b
}

/// The state's as_of, for checking that all rows of a group agree.
pub fn as_of(b: &[u8]) -> Result<i64> {
    Sections::read(b)?;
    i64_at(b, AT_AS_OF)
}

/// Bytes in use (the rest of the buffer is spare room).
pub fn used(b: &[u8]) -> Result<usize> {
    Ok(Sections::read(b)?.end)
}

/// Finds a record by name in a section; returns its offset and total size.
fn find_record(b: &[u8], start: usize, end: usize, name: &str, counters: usize) -> Result<Option<usize>> {
    let mut at = start;
    while at < end {
        let len = u16_at(b, at)? as usize;
        let size = 2 + len + 8 * counters;
        if at + size > end {
            return Err(corrupt("a record runs past its section"));
        }
        if &b[at + 2..at + 2 + len] == name.as_bytes() {
            return Ok(Some(at));
        }
        at += size;
    }
    Ok(None)
}

fn record_size(name: &str, counters: usize) -> Result<usize> {
    if name.len() > u16::MAX as usize {
        return Err(Error::limit_exceeded(format!(
            "a behaviour_agg label is {} bytes long, more than the {} allowed",
            name.len(),
            u16::MAX
        ))
        .with_hint("event types, categories and channels are meant to be short labels"));
    }
    Ok(2 + name.len() + 8 * counters)
}

/// The outcome of [`apply`].
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// Nothing was changed: the buffer needs at least this many bytes in total.
    NeedsRoom(usize),
}

/// Adds one event to the state in `b` (the whole buffer, spare room included).
/// Events after as_of are ignored (point-in-time).
pub fn apply(b: &mut [u8], event: &Event) -> Result<Applied> {
    let s = Sections::read(b)?;
    let as_of = i64_at(b, AT_AS_OF)?;
    if event.at > as_of {
        return Ok(Applied::Done);
    }
    // look everything up first, so that a lack of room changes nothing
    let days = &b[s.days..s.types];
    let day_slot = binary_search_days(days, event.day);
    let type_at = match event.event_type {
        Some(name) => Some((name, find_record(b, s.types, s.categories, name, 4)?)),
        None => None,
    };
    let category_at = match event.category {
        Some(name) => Some((name, find_record(b, s.categories, s.channels, name, 1)?)),
        None => None,
    };
    let channel_at = match event.channel {
        Some(name) => Some((name, find_record(b, s.channels, s.end, name, 1)?)),
        None => None,
    };
    let mut extra = if day_slot.is_err() { 4 } else { 0 };
    for (name, found, counters) in [(type_at, 4), (category_at, 1), (channel_at, 1)]
        .into_iter()
        .filter_map(|(x, c)| x.map(|(n, f)| (n, f, c)))
    {
        if found.is_none() {
            extra += record_size(name, counters)?;
        }
    }
    if s.end + extra > b.len() {
        return Ok(Applied::NeedsRoom(s.end + extra));
    }

    // counters
    let age = as_of - event.at;
    let in_window = |days: i64| age < days * USECS_PER_DAY;
    add_u64(b, AT_EVENTS, 1);
    for (i, days) in WINDOWS.iter().enumerate() {
        if in_window(*days) {
            add_u64(b, AT_EVENTS + 8 * (i + 1), 1);
        }
    }
    add_u64(b, AT_HOURS + 8 * usize::from(event.hour.min(23)), 1);
    if event.at < i64_at(b, AT_FIRST)? {
        put(b, AT_FIRST, &event.at.to_le_bytes());
    }
    if event.at > i64_at(b, AT_LAST)? {
        put(b, AT_LAST, &event.at.to_le_bytes());
    }

    // sections, back to front so earlier offsets stay valid
    let mut end = s.end;
    let mut lengths = [s.categories - s.types, s.channels - s.categories, s.end - s.channels];
    if let Some((name, found)) = channel_at {
        match found {
            Some(at) => add_u64(b, at + 2 + name.len(), 1),
            None => {
                let at = end;
                insert_record(b, &mut end, at, name, &[1]);
                lengths[2] += record_size(name, 1)?;
            }
        }
    }
    if let Some((name, found)) = category_at {
        match found {
            Some(at) => add_u64(b, at + 2 + name.len(), 1),
            None => {
                insert_record(b, &mut end, s.channels, name, &[1]);
                lengths[1] += record_size(name, 1)?;
            }
        }
    }
    if let Some((name, found)) = type_at {
        let mut counts = [1u64, 0, 0, 0];
        for (i, days) in WINDOWS.iter().enumerate() {
            counts[i + 1] = u64::from(in_window(*days));
        }
        match found {
            Some(at) => {
                for (i, n) in counts.iter().enumerate() {
                    add_u64(b, at + 2 + name.len() + 8 * i, *n);
                }
            }
            None => {
                insert_record(b, &mut end, s.categories, name, &counts);
                lengths[0] += record_size(name, 4)?;
            }
        }
    }
    if let Err(slot) = day_slot {
        let at = s.days + 4 * slot;
        b.copy_within(at..end, at + 4);
        put(b, at, &event.day.to_le_bytes());
        end += 4;
        put(b, AT_DAYS, &((s.day_count + 1) as u32).to_le_bytes());
    }
    for (i, len) in lengths.iter().enumerate() {
        put(b, AT_SECTIONS + 4 * i, &(*len as u32).to_le_bytes());
    }
    put(b, AT_USED, &(end as u32).to_le_bytes());
    Ok(Applied::Done)
}

fn binary_search_days(days: &[u8], day: i32) -> std::result::Result<usize, usize> {
    let (mut lo, mut hi) = (0, days.len() / 4);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let v = i32::from_le_bytes(days[4 * mid..4 * mid + 4].try_into().expect("4 bytes"));
        match v.cmp(&day) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

/// Inserts a record at `at`, moving the bytes up to `end` along.
fn insert_record(b: &mut [u8], end: &mut usize, at: usize, name: &str, counters: &[u64]) {
    let size = 2 + name.len() + 8 * counters.len();
    b.copy_within(at..*end, at + size);
    put(b, at, &(name.len() as u16).to_le_bytes());
    put(b, at + 2, name.as_bytes());
    for (i, n) in counters.iter().enumerate() {
        put(b, at + 2 + name.len() + 8 * i, &n.to_le_bytes());
    }
    *end += size;
}

fn read_records<const N: usize>(b: &[u8], start: usize, end: usize) -> Result<Vec<(String, [u64; N])>> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let len = u16_at(b, at)? as usize;
        if at + 2 + len + 8 * N > end {
            return Err(corrupt("a record runs past its section"));
        }
        let name = std::str::from_utf8(&b[at + 2..at + 2 + len]).map_err(|_| corrupt("a label is not UTF-8"))?;
        let mut counts = [0u64; N];
        for (i, c) in counts.iter_mut().enumerate() {
            *c = u64_at(b, at + 2 + len + 8 * i)?;
        }
        out.push((name.to_string(), counts));
        at += 2 + len + 8 * N;
    }
    Ok(out)
}

/// Reads the bytes back into a [`State`], checking every length.
pub fn decode(b: &[u8]) -> Result<State> {
    let s = Sections::read(b)?;
    let mut state = State {
        as_of: i64_at(b, AT_AS_OF)?,
        as_of_day: i32_at(b, AT_AS_OF_DAY)?,
        ..State::default()
    };
    let first = i64_at(b, AT_FIRST)?;
    let last = i64_at(b, AT_LAST)?;
    state.first = (first != i64::MAX).then_some(first);
    state.last = (last != i64::MIN).then_some(last);
    for i in 0..4 {
        state.events[i] = u64_at(b, AT_EVENTS + 8 * i)?;
    }
    for i in 0..24 {
        state.hours[i] = u64_at(b, AT_HOURS + 8 * i)?;
    }
    state.days = (0..s.day_count).map(|i| i32_at(b, s.days + 4 * i)).collect::<Result<_>>()?;
    state.types = read_records::<4>(b, s.types, s.categories)?;
    state.categories = read_records::<1>(b, s.categories, s.channels)?.into_iter().map(|(k, [c])| (k, c)).collect();
    state.channels = read_records::<1>(b, s.channels, s.end)?.into_iter().map(|(k, [c])| (k, c)).collect();
    Ok(state)
}

/// Writes a [`State`] as bytes with `spare` bytes of room.
pub fn encode(state: &State, spare: usize) -> Result<Vec<u8>> {
    let mut b = new_state(state.as_of, state.as_of_day, 0);
    if let Some(first) = state.first {
        put(&mut b, AT_FIRST, &first.to_le_bytes());
    }
    if let Some(last) = state.last {
        put(&mut b, AT_LAST, &last.to_le_bytes());
    }
    for (i, n) in state.events.iter().enumerate() {
        put(&mut b, AT_EVENTS + 8 * i, &n.to_le_bytes());
    }
    for (i, n) in state.hours.iter().enumerate() {
        put(&mut b, AT_HOURS + 8 * i, &n.to_le_bytes());
    }
    put(&mut b, AT_DAYS, &(state.days.len() as u32).to_le_bytes());
    for day in &state.days {
        b.extend_from_slice(&day.to_le_bytes());
    }
    let mut lengths = [0usize; 3];
    let mut write = |b: &mut Vec<u8>, section: usize, name: &str, counts: &[u64]| -> Result<()> {
        lengths[section] += record_size(name, counts.len())?;
        b.extend_from_slice(&(name.len() as u16).to_le_bytes());
        b.extend_from_slice(name.as_bytes());
        for n in counts {
            b.extend_from_slice(&n.to_le_bytes());
        }
        Ok(())
    };
    for (name, counts) in &state.types {
        write(&mut b, 0, name, counts)?;
    }
    for (name, count) in &state.categories {
        write(&mut b, 1, name, &[*count])?;
    }
    for (name, count) in &state.channels {
        write(&mut b, 2, name, &[*count])?;
    }
    for (i, len) in lengths.iter().enumerate() {
        put(&mut b, AT_SECTIONS + 4 * i, &(*len as u32).to_le_bytes());
    }
    let used = b.len();
    put(&mut b, AT_USED, &(used as u32).to_le_bytes());
    b.resize(used + spare, 0);
    Ok(b)
}

fn merge_counts<const N: usize>(into: &mut Vec<(String, [u64; N])>, from: Vec<(String, [u64; N])>) {
    for (name, counts) in from {
        match into.iter_mut().find(|(n, _)| *n == name) {
            Some((_, mine)) => {
                for i in 0..N {
                    mine[i] = mine[i].saturating_add(counts[i]);
                }
            }
            None => into.push((name, counts)),
        }
    }
}

/// Combines two states of the same as_of (the combine function).
pub fn merge(mut a: State, b: State) -> Result<State> {
    if a.as_of != b.as_of {
        return Err(different_as_of());
    }
    a.first = match (a.first, b.first) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    a.last = match (a.last, b.last) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    for i in 0..4 {
        a.events[i] = a.events[i].saturating_add(b.events[i]);
    }
    for i in 0..24 {
        a.hours[i] = a.hours[i].saturating_add(b.hours[i]);
    }
    a.days.extend(b.days);
    a.days.sort_unstable();
    a.days.dedup();
    merge_counts(&mut a.types, b.types);
    let wrap = |v: Vec<(String, u64)>| v.into_iter().map(|(k, c)| (k, [c])).collect::<Vec<_>>();
    let mut categories = wrap(std::mem::take(&mut a.categories));
    merge_counts(&mut categories, wrap(b.categories));
    a.categories = categories.into_iter().map(|(k, [c])| (k, c)).collect();
    let mut channels = wrap(std::mem::take(&mut a.channels));
    merge_counts(&mut channels, wrap(b.channels));
    a.channels = channels.into_iter().map(|(k, [c])| (k, c)).collect();
    Ok(a)
}

pub fn different_as_of() -> Error {
    Error::invalid_parameter("behaviour_agg needs the same as_of for every row of a group")
        .with_hint("pass one constant as_of, e.g. behaviour_agg(occurred_at, event_type, category, channel, '2025-01-01')")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = USECS_PER_DAY;

    fn event<'a>(days_before: f64, hour: u8, t: Option<&'a str>, c: Option<&'a str>, ch: Option<&'a str>) -> Event<'a> {
        let at = 1000 * DAY - (days_before * DAY as f64) as i64;
        Event { at, day: (at.div_euclid(DAY)) as i32, hour, event_type: t, category: c, channel: ch }
    }

    /// Applies events to a buffer, growing it the way the SQL layer does.
    fn run(events: &[Event], spare: usize) -> Vec<u8> {
        let mut b = new_state(1000 * DAY, 1000, spare);
        for e in events {
            loop {
                match apply(&mut b, e).unwrap() {
                    Applied::Done => break,
                    Applied::NeedsRoom(n) => b.resize(n.max(b.len() * 2), 0),
                }
            }
        }
        b
    }

    fn sample() -> Vec<Event<'static>> {
        vec![
            event(1.5, 20, Some("visit"), Some("jazz"), Some("web")),
            event(1.4, 20, Some("order"), Some("jazz"), Some("web")),
            event(10.0, 9, Some("visit"), Some("rock"), Some("app")),
            event(45.0, 20, Some("visit"), None, Some("app")),
            event(100.0, 8, None, Some("jazz"), None),
            event(0.2, 21, Some("order"), Some("rock"), Some("web")),
            event(-3.0, 21, Some("order"), Some("pop"), Some("store")), // after as_of: ignored
        ]
    }

    #[test]
    fn events_update_counters_and_sections() {
        for spare in [0, 3, 64, 4096] {
            let s = decode(&run(&sample(), spare)).unwrap();
            assert_eq!(s.events, [6, 5, 4, 3]);
            assert_eq!(s.hours[20], 3);
            assert_eq!((s.hours[21], s.hours[9], s.hours[8]), (1, 1, 1));
            assert_eq!(s.first, Some(900 * DAY));
            assert_eq!(s.last, Some(1000 * DAY - (0.2 * DAY as f64) as i64));
            assert_eq!(s.days, vec![900, 955, 990, 998, 999]);
            let mut types = s.types.clone();
            types.sort();
            assert_eq!(types, vec![("order".into(), [2, 2, 2, 2]), ("visit".into(), [3, 3, 2, 1])]);
            let mut cats = s.categories.clone();
            cats.sort();
            assert_eq!(cats, vec![("jazz".into(), 3), ("rock".into(), 2)]);
            let mut channels = s.channels.clone();
            channels.sort();
            assert_eq!(channels, vec![("app".into(), 2), ("web".into(), 3)]);
        }
    }

    #[test]
    fn encode_decode_round_trip_and_in_place_agree() {
        let b = run(&sample(), 0);
        let s = decode(&b).unwrap();
        let again = encode(&s, 10).unwrap();
        assert_eq!(decode(&again).unwrap(), s);
        assert_eq!(used(&again).unwrap(), used(&b).unwrap());
        // applying more events to a re-encoded state equals applying them all at once
        let mut grown = again;
        let extra = event(2.0, 3, Some("cart"), Some("blues"), Some("web"));
        loop {
            match apply(&mut grown, &extra).unwrap() {
                Applied::Done => break,
                Applied::NeedsRoom(n) => grown.resize(n, 0),
            }
        }
        let mut all = sample();
        all.push(extra);
        assert_eq!(decode(&grown).unwrap(), decode(&run(&all, 0)).unwrap());
    }

    #[test]
    fn no_room_changes_nothing() {
        let mut b = new_state(1000 * DAY, 1000, 0);
        let before = b.clone();
        let e = event(1.0, 1, Some("visit"), None, None);
        assert_eq!(apply(&mut b, &e).unwrap(), Applied::NeedsRoom(HEADER + 4 + 2 + 5 + 32));
        assert_eq!(b, before);
    }

    #[test]
    fn merge_equals_one_pass() {
        let events = sample();
        let (left, right) = events.split_at(3);
        let merged = merge(decode(&run(left, 0)).unwrap(), decode(&run(right, 0)).unwrap()).unwrap();
        let whole = decode(&run(&events, 0)).unwrap();
        let sorted = |mut s: State| {
            s.types.sort();
            s.categories.sort();
            s.channels.sort();
            s
        };
        assert_eq!(sorted(merged), sorted(whole));
        let other = decode(&new_state(5, 0, 0)).unwrap();
        assert_eq!(merge(decode(&run(left, 0)).unwrap(), other).unwrap_err().state, SqlState::InvalidParameterValue);
    }

    #[test]
    fn corrupt_bytes_are_rejected_not_trusted() {
        let good = run(&sample(), 0);
        assert_eq!(decode(&good[..100]).unwrap_err().state, SqlState::InvalidTextRepresentation);
        assert!(decode(b"\x01\x02").is_err());
        let mut bad = good.clone();
        bad[AT_SECTIONS] = 200; // type section length no longer adds up
        assert!(decode(&bad).is_err());
        assert!(apply(&mut bad, &event(1.0, 1, None, None, None)).is_err());
        let mut bad = good.clone();
        bad[AT_DAYS..AT_DAYS + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&bad).is_err());
        // a record length pointing past its section
        let mut bad = good;
        let types_at = HEADER + 4 * 5;
        bad[types_at..types_at + 2].copy_from_slice(&500u16.to_le_bytes());
        assert!(decode(&bad).is_err());
    }
}
