//! SQL bindings of k-means: kmeans_fit, kmeans_assign, kmeans_select_k, kmeans_step.

/// Registers this area's GUCs (`pg_segment.*`); called from `_PG_init`.
pub fn register_gucs() {}
