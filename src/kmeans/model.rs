//! A stored model's centroids: the `float8[][]` text PostgreSQL reads and
//! prints, and nearest-centroid assignment.
//!
//! Clusters are numbered 1..k (as the rows of the centroids array, which
//! PostgreSQL indexes from 1).

use crate::error::{Error, Result, SqlState};

/// `{{c11,c12},{c21,c22}}`: shortest round-trip decimal of each f64, so
/// `float8in` reads back the exact same bits.
pub fn centroids_text(centroids: &[f64], dims: usize) -> String {
    let rows: Vec<String> = centroids
        .chunks(dims.max(1))
        .map(|row| format!("{{{}}}", row.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(",")))
        .collect();
    format!("{{{}}}", rows.join(","))
}

/// Parses the text of a `float8[]` (any nesting) into its values in order.
pub fn parse_array_text(text: &str) -> Result<Vec<f64>> {
    let bad = || {
        Error::new(SqlState::DataException, "stored centroids are not a numeric array")
            .with_hint("refit the model; kmeans_models must only be written by kmeans_fit()")
    };
    text.split(|c| c == '{' || c == '}' || c == ',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<f64>().map_err(|_| bad()))
        .collect()
}

/// The nearest centroid (1-based; ties: the lowest) and the Euclidean distance.
pub fn assign(x: &[f64], centroids: &[f64], dims: usize) -> (i32, f64) {
    let mut best = (0usize, f64::INFINITY);
    for (c, centroid) in centroids.chunks_exact(dims.max(1)).enumerate() {
        let d = super::kernel::distance2(x, centroid);
        if d < best.1 {
            best = (c, d);
        }
    }
    (best.0 as i32 + 1, best.1.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_exactly() {
        let c = [0.1, -2.0, 1e-300, 123456789.123456789, 1.0 / 3.0, 0.0];
        let text = centroids_text(&c, 3);
        assert_eq!(text, "{{0.1,-2.0,1e-300},{123456789.12345679,0.3333333333333333,0.0}}");
        assert_eq!(parse_array_text(&text).unwrap(), c.to_vec());
        assert!(parse_array_text("{{1,x}}").is_err());
    }

    #[test]
    fn assign_is_one_based_with_distance() {
        let c = [0.0, 0.0, 10.0, 0.0];
        assert_eq!(assign(&[9.0, 0.0], &c, 2), (2, 1.0));
        assert_eq!(assign(&[5.0, 0.0], &c, 2), (1, 5.0)); // tie → lowest
    }
}
