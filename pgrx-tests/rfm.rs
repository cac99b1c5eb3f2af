//! In-database tests of the rfm area.
