//! SQL bindings of profiles: profile_fit, profile_vector, behaviour aggregates, segment_personas.
