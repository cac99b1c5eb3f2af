//! `segment_personas`: describe every segment of customers against everyone.
//!
//! [`table::Table`] holds the rows (segment label, key, attributes, optional
//! profile vector); [`describe::describe`] computes per-segment statistics,
//! traits and the representative customer; [`summary`] writes the one-liners.

pub mod describe; // statistics, traits and the representative of every segment
pub mod summary; // the human one-line summary and trait phrases
pub mod table; // the rows read, column by column

#[cfg(test)]
mod tests {
    use super::describe::describe;
    use super::table::{AttributeKind, Key, Table};

    /// Six customers in two segments, checked by hand.
    fn table(dimensions: usize) -> Table {
        let attributes = vec![
            ("spend".to_string(), AttributeKind::Numeric),
            ("city".to_string(), AttributeKind::Categorical),
            ("tags".to_string(), AttributeKind::Tags),
        ];
        let mut t = Table::new(&attributes, dimensions);
        type Row<'a> = (&'a str, i64, Option<f64>, Option<&'a str>, &'a [&'a str]);
        let rows: [Row; 6] = [
            ("gold", 1, Some(100.0), Some("Boston"), &["vip"]),
            ("gold", 2, Some(80.0), Some("Boston"), &["vip", "eco"]),
            ("gold", 3, Some(90.0), Some("Austin"), &[]),
            ("bronze", 4, Some(10.0), Some("Austin"), &[]),
            ("bronze", 5, None, Some("Austin"), &["eco"]),
            ("bronze", 6, Some(20.0), None, &[]),
        ];
        for (segment, key, spend, city, tags) in rows {
            t.push_row(Some(segment), Some(Key::Int(key)));
            t.push_number(0, spend);
            t.push_category(1, city);
            t.push_tags(2, tags.iter().copied());
            if dimensions > 0 {
                t.push_vector(&[key as f32, 0.0]);
            }
        }
        t
    }

    #[test]
    fn two_segments_by_hand() {
        let personas = describe(&table(0));
        assert_eq!(personas.len(), 2);
        // equal sizes: alphabetical, bronze first
        let (bronze, gold) = (&personas[0], &personas[1]);
        assert_eq!((bronze.segment.as_deref(), bronze.customers, bronze.share), (Some("bronze"), 3, 0.5));
        assert_eq!(gold.segment.as_deref(), Some("gold"));
        // spend: population of 5 values, mean 60, std sqrt(7000 / 5) = 37.4; gold mean 90 → +0.78 sd
        let spend = &gold.numeric[0];
        assert_eq!((spend.mean, spend.median, spend.population_mean, spend.population_median), (Some(90.0), Some(90.0), Some(60.0), Some(80.0)));
        assert!((spend.std_diff - 30.0 / 1400f64.sqrt()).abs() < 1e-12);
        assert_eq!((bronze.numeric[0].mean, bronze.numeric[0].median), (Some(15.0), Some(15.0)));
        // city Boston: 2 of 3 gold customers, 2 of 6 overall → lift 2, z = (2/3 - 1/3) / sqrt(2/9)
        let boston = gold.categories.iter().find(|c| c.value == "Boston").unwrap();
        assert_eq!((boston.customers, boston.lift), (2, 2.0));
        assert!((boston.share - 2.0 / 3.0).abs() < 1e-15 && (boston.population_share - 1.0 / 3.0).abs() < 1e-15);
        assert!((boston.std_diff - (1.0 / 3.0) / (2.0f64 / 9.0).sqrt()).abs() < 1e-12);
        // vip is gold-only: 2/3 vs 1/3 as well
        let vip = gold.categories.iter().find(|c| c.value == "vip").unwrap();
        assert_eq!((vip.attribute.as_str(), vip.customers, vip.lift), ("tags", 2, 2.0));
        // spend (+0.80 sd) outranks Boston and vip (+0.71 sd each, attribute order)
        assert_eq!(
            gold.summary,
            "50.0% of customers (3); 1.5× average spend; mostly city: Boston (67%); mostly tags: vip (67%)"
        );
        assert_eq!(bronze.summary, "50.0% of customers (3); 0.25× average spend; mostly city: Austin (67%)");
        // gold centre: spend z mean, Boston 2/3, Austin 1/3, vip 2/3, eco 1/3;
        // customer 1 (Boston, vip) is nearest, 2 adds eco, 3 is Austin without tags
        assert_eq!(gold.representative, Some(Key::Int(1)));
        assert_eq!(bronze.representative, Some(Key::Int(4)));
    }

    #[test]
    fn representative_in_profile_space_and_ties() {
        // vectors [key, 0]: gold centre 2 → customer 2; bronze centre 5 → customer 5
        let personas = describe(&table(2));
        let rep = |label: &str| personas.iter().find(|p| p.segment.as_deref() == Some(label)).unwrap().representative.clone();
        assert_eq!((rep("gold"), rep("bronze")), (Some(Key::Int(2)), Some(Key::Int(5))));
        // identical customers tie: the smallest key wins
        let mut t = Table::new(&[("x".to_string(), AttributeKind::Numeric)], 0);
        for key in ["b", "a", "c"] {
            t.push_row(Some("s"), Some(Key::Text(key.into())));
            t.push_number(0, Some(1.0));
        }
        let p = describe(&t);
        assert_eq!(p[0].representative, Some(Key::Text("a".into())));
        assert_eq!(p[0].summary, "100.0% of customers (3); close to the average customer");
        assert_eq!(p[0].numeric[0].std_diff, 0.0);
    }

    #[test]
    fn null_labels_and_empty_input() {
        let mut t = Table::new(&[("x".to_string(), AttributeKind::Numeric)], 0);
        for (label, x) in [(Some("a"), 1.0), (None, f64::NAN), (Some("a"), f64::INFINITY), (None, 3.0)] {
            t.push_row(label, None);
            t.push_number(0, Some(x));
        }
        let p = describe(&t);
        assert_eq!(p.iter().map(|p| (p.segment.clone(), p.customers)).collect::<Vec<_>>(), [(Some("a".into()), 2), (None, 2)]);
        // NaN and Infinity are missing: segment a has one value, the NULL segment one
        assert_eq!((p[0].numeric[0].mean, p[1].numeric[0].mean), (Some(1.0), Some(3.0)));
        assert_eq!(p[0].representative, None);
        assert!(describe(&Table::new(&[], 0)).is_empty());
    }
}
