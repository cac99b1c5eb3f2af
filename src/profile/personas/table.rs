//! The rows `segment_personas` reads, held column by column in memory.

use std::collections::HashMap;

/// How an attribute is described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeKind {
    /// Mean, median, standardized difference.
    Numeric,
    /// One value per customer: shares, lift.
    Categorical,
    /// Several values per customer (text[]): share of customers having each.
    Tags,
}

impl AttributeKind {
    pub fn name(self) -> &'static str {
        match self {
            AttributeKind::Numeric => "numeric",
            AttributeKind::Categorical => "categorical",
            AttributeKind::Tags => "tags",
        }
    }
}

/// A customer's key, compared naturally (numbers as numbers) to break ties.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Int(i64),
    Text(String),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Text(t) => f.write_str(t),
        }
    }
}

/// Interns strings as dense codes.
#[derive(Debug, Default)]
pub struct Dictionary {
    codes: HashMap<String, u32>,
    pub values: Vec<String>,
}

impl Dictionary {
    pub fn code(&mut self, value: &str) -> u32 {
        if let Some(&c) = self.codes.get(value) {
            return c;
        }
        let c = self.values.len() as u32;
        self.codes.insert(value.to_string(), c);
        self.values.push(value.to_string());
        c
    }
}

/// NULL in a categorical column.
pub const NO_CODE: u32 = u32::MAX;

/// One attribute's values for every row.
#[derive(Debug)]
pub enum AttributeColumn {
    /// NaN marks a missing value.
    Numeric(Vec<f64>),
    Categorical { codes: Vec<u32>, dictionary: Dictionary },
    /// Row i's tags are `codes[starts[i]..starts[i + 1]]` (distinct).
    Tags { starts: Vec<u32>, codes: Vec<u32>, dictionary: Dictionary },
}

#[derive(Debug)]
pub struct Attribute {
    pub name: String,
    pub kind: AttributeKind,
    pub column: AttributeColumn,
}

/// Every row: its segment, its key, its attributes and (optionally) its profile vector.
#[derive(Debug)]
pub struct Table {
    pub segments: Dictionary,
    /// Per row: code in `segments`, or [`NO_CODE`] for a NULL label.
    pub segment_of: Vec<u32>,
    pub keys: Vec<Option<Key>>,
    pub attributes: Vec<Attribute>,
    /// Row-major profile vectors (`dimensions` floats per row) when a profile was given.
    pub vectors: Vec<f32>,
    pub dimensions: usize,
}

impl Table {
    pub fn new(attributes: &[(String, AttributeKind)], dimensions: usize) -> Table {
        Table {
            segments: Dictionary::default(),
            segment_of: Vec::new(),
            keys: Vec::new(),
            attributes: attributes
                .iter()
                .map(|(name, kind)| Attribute {
                    name: name.clone(),
                    kind: *kind,
                    column: match kind {
                        AttributeKind::Numeric => AttributeColumn::Numeric(Vec::new()),
                        AttributeKind::Categorical => {
                            AttributeColumn::Categorical { codes: Vec::new(), dictionary: Dictionary::default() }
                        }
                        AttributeKind::Tags => {
                            AttributeColumn::Tags { starts: vec![0], codes: Vec::new(), dictionary: Dictionary::default() }
                        }
                    },
                })
                .collect(),
            vectors: Vec::new(),
            dimensions,
        }
    }

    pub fn rows(&self) -> usize {
        self.segment_of.len()
    }

    /// Starts a row; the caller then pushes every attribute once, in order.
    pub fn push_row(&mut self, segment: Option<&str>, key: Option<Key>) {
        let code = match segment {
            Some(s) => self.segments.code(s),
            None => NO_CODE,
        };
        self.segment_of.push(code);
        self.keys.push(key);
    }

    pub fn push_number(&mut self, attribute: usize, value: Option<f64>) {
        if let AttributeColumn::Numeric(values) = &mut self.attributes[attribute].column {
            // NaN and ±Infinity are described as missing
            values.push(value.filter(|v| v.is_finite()).unwrap_or(f64::NAN));
        }
    }

    pub fn push_category(&mut self, attribute: usize, value: Option<&str>) {
        if let AttributeColumn::Categorical { codes, dictionary } = &mut self.attributes[attribute].column {
            codes.push(value.map_or(NO_CODE, |v| dictionary.code(v)));
        }
    }

    pub fn push_tags<'a>(&mut self, attribute: usize, tags: impl Iterator<Item = &'a str>) {
        if let AttributeColumn::Tags { starts, codes, dictionary } = &mut self.attributes[attribute].column {
            let begin = *starts.last().unwrap_or(&0) as usize;
            for tag in tags {
                let c = dictionary.code(tag);
                if !codes[begin..].contains(&c) {
                    codes.push(c);
                }
            }
            starts.push(codes.len() as u32);
        }
    }

    pub fn push_vector(&mut self, vector: &[f32]) {
        self.vectors.extend_from_slice(vector);
    }
}
