//! In-database tests of the profile area.
