//! Customer profiles: feature specs fitted into stored transforms, behaviour
//! features from events, and personas that describe segments.
//!
//! Core logic, no pgrx: the SQL bindings live in [`sql`].

pub mod behaviour; // behaviour_agg: events → counts, recency, favourites, conversion
pub mod encode; // a fitted profile applied to one customer's values → real[]
pub mod fit; // column values → fitted statistics (imputation, scalers, vocabularies)
pub mod fitted; // the stored form of a fit (jsonb) and the vector layout
pub mod personas; // segment_personas: per-segment statistics, traits, representative, summary
pub mod spec; // the JSON spec users write: parsing and strict validation
pub mod stats; // means, numpy-style percentiles, modes, OneHotEncoder-style vocabularies

pub mod sql;
