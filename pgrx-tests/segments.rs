//! In-database tests of the segments area.
