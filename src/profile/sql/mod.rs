//! SQL bindings of profiles: profile_fit, profile_vector, profile_layout,
//! profile_drop, behaviour_agg and segment_personas.

pub mod behaviour; // behaviour_agg: transition, combine and final functions over a bytea state
pub mod catalog; // profile_specs: store, load (cached per backend), drop
pub mod datum; // reading column values of any supported type as numbers, text or tags
pub mod fit; // profile_fit, profile_refit
pub mod layout; // profile_layout, profile_drop
pub mod personas; // segment_personas, segment_persona_attributes
pub mod rows; // a customer row (composite datum) → vector, attributes resolved once per row type
pub mod scan; // reading a relation in batches through SPI, as the caller; regclass arguments
pub mod vector; // profile_vector(name, row) and profile_vector(name, jsonb)

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// `pg_segment.profile_max_categories`: the most values one categorical or tags
/// feature may keep (each becomes a vector position).
pub static MAX_CATEGORIES: GucSetting<i32> = GucSetting::<i32>::new(1000);

/// Registers this area's GUCs (`pg_segment.*`); called from `_PG_init`.
pub fn register_gucs() {
    GucRegistry::define_int_guc(
        c"pg_segment.profile_max_categories",
        c"The most values one categorical or tags feature of a profile may keep.",
        c"Each kept value is one vector position; profile_fit raises 54000 above this. Set \"top\" in the spec to keep fewer.",
        &MAX_CATEGORIES,
        1,
        1_000_000,
        GucContext::Userset,
        GucFlags::default(),
    );
}

pgrx::extension_sql_file!("../../../sql/profile_catalog.sql", name = "profile_catalog");
