//! In-database tests of the rules area.
