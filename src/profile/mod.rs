//! Customer profiles: feature specs, fitted transforms, behaviour features and personas.

pub mod sql;
