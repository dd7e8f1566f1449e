//! posterlab: an experiment-tracking research harness for multi-label image
//! classification — predicting a movie's genres from its poster.
//!
//! `spec` turns TOML experiment files into resolved runs; `data` reads poster
//! data sets (or makes a synthetic one), decodes, caches and splits them.
//! See DESIGN.md in the project's shared folder for where the rest goes.

pub mod data;
pub mod files;
pub mod metric;
pub mod model;
pub mod progress;
pub mod report;
pub mod runner;
pub mod spec;
pub mod store;
#[cfg(test)]
mod testing;
pub mod text;
pub mod train;
