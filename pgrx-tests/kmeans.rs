//! In-database tests of the kmeans area.
