//! `behaviour_agg`: behaviour features of a customer from an events table, as of
//! a point in time, combinable across parallel workers.

pub mod features; // the final state → the `behaviour` row
pub mod state; // the aggregate state as flat bytes, updated in place
