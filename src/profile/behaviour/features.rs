//! The behaviour features `behaviour_agg` returns, computed from its final state.

use super::state::{State, USECS_PER_DAY};
use serde_json::{json, Map, Value};

/// The event types that count as orders and as visits (for conversion).
pub const ORDER: &str = "order";
pub const VISIT: &str = "visit";

/// One customer's behaviour up to as_of; the fields of the SQL type `behaviour`.
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    pub as_of: i64,
    /// Events at or before as_of: all time, last 7, 30, 90 days.
    pub events: [i64; 4],
    /// `event_type = 'order'`, same windows.
    pub orders: [i64; 4],
    /// `event_type = 'visit'`, same windows.
    pub visits: [i64; 4],
    /// orders / visits, all time and last 90 days; None without visits.
    pub conversion: Option<f64>,
    pub conversion_90d: Option<f64>,
    /// Distinct local days with an event: all time and the 30 days ending on as_of's date.
    pub active_days: i32,
    pub active_days_30d: i32,
    pub first_event_at: Option<i64>,
    pub last_event_at: Option<i64>,
    /// Whole days from the last event to as_of.
    pub days_since_last: Option<i32>,
    pub favourite_category: Option<String>,
    /// The favourite's share of the events that have a category.
    pub favourite_share: Option<f64>,
    /// The local hour (0–23) with most events; ties go to the earliest.
    pub peak_hour: Option<i32>,
    pub top_channel: Option<String>,
    /// `{"web": 0.6, "app": 0.4}`: each channel's share of the events that have one.
    pub channel_mix: Option<Value>,
    /// `{"order": {"total": 9, "7d": 1, "30d": 2, "90d": 4}, ...}`
    pub event_counts: Value,
}

/// Shares in jsonb are rounded to 4 decimals: enough to read, stable to compare.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// The most frequent label; ties go to the one that sorts first.
fn favourite(counts: &[(String, u64)]) -> Option<(&str, u64)> {
    counts
        .iter()
        .filter(|(_, c)| *c > 0)
        .max_by(|(a, ca), (b, cb)| ca.cmp(cb).then_with(|| b.cmp(a)))
        .map(|(name, c)| (name.as_str(), *c))
}

/// Reorders [total, 90, 30, 7] as [total, 7, 30, 90] (the column order).
fn by_window(counts: [u64; 4]) -> [i64; 4] {
    [counts[0], counts[3], counts[2], counts[1]].map(|c| i64::try_from(c).unwrap_or(i64::MAX))
}

pub fn features(s: &State) -> Behaviour {
    let counts_of = |name: &str| s.types.iter().find(|(n, _)| n == name).map_or([0; 4], |(_, c)| *c);
    let orders = counts_of(ORDER);
    let visits = counts_of(VISIT);
    let mut types: Vec<&(String, [u64; 4])> = s.types.iter().collect();
    types.sort_by(|a, b| a.0.cmp(&b.0));
    let event_counts: Map<String, Value> = types
        .into_iter()
        .map(|(name, c)| (name.clone(), json!({"total": c[0], "7d": c[3], "30d": c[2], "90d": c[1]})))
        .collect();

    let category_total: u64 = s.categories.iter().map(|(_, c)| c).sum();
    let favourite_category = favourite(&s.categories);
    let channel_total: u64 = s.channels.iter().map(|(_, c)| c).sum();
    let channel_mix = (channel_total > 0).then(|| {
        let mix: Map<String, Value> =
            s.channels.iter().map(|(name, c)| (name.clone(), json!(round4(*c as f64 / channel_total as f64)))).collect();
        Value::Object(mix)
    });
    let peak = s.hours.iter().enumerate().max_by(|(ha, a), (hb, b)| a.cmp(b).then(hb.cmp(ha)));

    Behaviour {
        as_of: s.as_of,
        events: by_window(s.events),
        orders: by_window(orders),
        visits: by_window(visits),
        conversion: ratio(orders[0], visits[0]),
        conversion_90d: ratio(orders[1], visits[1]),
        active_days: s.days.len() as i32,
        active_days_30d: s.days.iter().filter(|d| **d > s.as_of_day - 30 && **d <= s.as_of_day).count() as i32,
        first_event_at: s.first,
        last_event_at: s.last,
        days_since_last: s.last.map(|last| ((s.as_of - last) / USECS_PER_DAY) as i32),
        favourite_category: favourite_category.map(|(name, _)| name.to_string()),
        favourite_share: favourite_category.and_then(|(_, c)| ratio(c, category_total)),
        peak_hour: peak.filter(|(_, n)| **n > 0).map(|(h, _)| h as i32),
        top_channel: favourite(&s.channels).map(|(name, _)| name.to_string()),
        channel_mix,
        event_counts: Value::Object(event_counts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = USECS_PER_DAY;

    fn state() -> State {
        let mut hours = [0u64; 24];
        hours[20] = 3;
        hours[9] = 3;
        hours[8] = 1;
        State {
            as_of: 1000 * DAY,
            as_of_day: 1000,
            first: Some(900 * DAY),
            last: Some(998 * DAY + DAY / 2),
            events: [7, 6, 4, 3],
            hours,
            days: vec![900, 955, 970, 971, 990, 998],
            types: vec![("visit".into(), [4, 3, 2, 1]), ("order".into(), [2, 2, 1, 1]), ("cart".into(), [1, 1, 1, 1])],
            categories: vec![("rock".into(), 2), ("jazz".into(), 2), ("pop".into(), 1)],
            channels: vec![("web".into(), 2), ("app".into(), 1)],
        }
    }

    #[test]
    fn features_from_a_state() {
        let b = features(&state());
        assert_eq!(b.events, [7, 3, 4, 6]);
        assert_eq!(b.orders, [2, 1, 1, 2]);
        assert_eq!(b.visits, [4, 1, 2, 3]);
        assert_eq!(b.conversion, Some(0.5));
        assert_eq!(b.conversion_90d, Some(2.0 / 3.0));
        assert_eq!((b.active_days, b.active_days_30d), (6, 3));
        assert_eq!(b.days_since_last, Some(1));
        // jazz and rock tie at 2: the first alphabetically wins
        assert_eq!((b.favourite_category.as_deref(), b.favourite_share), (Some("jazz"), Some(0.4)));
        // hours 9 and 20 tie at 3: the earliest wins
        assert_eq!(b.peak_hour, Some(9));
        assert_eq!(b.top_channel.as_deref(), Some("web"));
        assert_eq!(b.channel_mix, Some(json!({"web": 0.6667, "app": 0.3333})));
        assert_eq!(b.event_counts["cart"], json!({"total": 1, "7d": 1, "30d": 1, "90d": 1}));
        assert_eq!(b.event_counts.as_object().unwrap().keys().collect::<Vec<_>>(), ["cart", "order", "visit"]);
    }

    #[test]
    fn no_events_gives_zeros_and_nulls_never_nan() {
        let s = State { as_of: 5, as_of_day: 0, ..State::default() };
        let b = features(&s);
        assert_eq!((b.events, b.active_days, b.active_days_30d), ([0; 4], 0, 0));
        assert_eq!((b.conversion, b.conversion_90d, b.favourite_share), (None, None, None));
        assert_eq!((b.peak_hour, b.days_since_last, b.first_event_at), (None, None, None));
        assert_eq!((b.favourite_category, b.top_channel, b.channel_mix), (None, None, None));
        assert_eq!(b.event_counts, json!({}));
    }
}
