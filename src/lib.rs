//! posterlab: an experiment-tracking research harness for multi-label image
//! classification — predicting a movie's genres from its poster.
//!
//! The modules, from the bottom up (each imports only those above it in
//! this list, and none imports one that imports it back; docs/architecture.md
//! has the data flow and what each must not do):
//!
//! - [`text`], [`files`], [`filesystem`], [`metric`], [`progress`]: what
//!   everything shares — text made safe to show, atomic writes and what may
//!   be written over, local or network filesystems, the splits and the
//!   metric registry, the progress trait;
//! - [`spec`]: TOML experiment files → validated, resolved runs (sweeps, run
//!   hashes, every field's default);
//! - [`data`]: poster data sets (three CSV layouts, decoding, the tensor
//!   cache, the seeded split, the synthetic stand-in, statistics);
//! - [`model`]: layers (fast CPU kernels and portable dfdx ones) and the two
//!   architectures;
//! - [`train`]: the epoch loop (`fit`), what it reports (`record`), losses,
//!   optimizers, checkpoints, metrics, schedule and early stopping;
//! - [`store`]: the SQLite database — schema, migrations, every query; it
//!   implements the loop's `Tracker`;
//! - [`runner`]: specs → runs: claim, skip / resume / restart / start,
//!   record how each ended;
//! - [`slurm`]: a sweep as a Slurm job array — its folder and manifest, the
//!   batch scripts, and what Slurm says of each task;
//! - [`report`]: stored runs → SVG figures, tables, an index page.
//!
//! The binary (`src/main.rs`, `src/cli/`) parses arguments, dispatches to
//! these and prints.

pub mod data;
pub mod files;
pub mod filesystem;
pub mod metric;
pub mod model;
pub mod progress;
pub mod report;
pub mod runner;
pub mod slurm;
pub mod spec;
pub mod store;
#[cfg(test)]
mod testing;
pub mod text;
pub mod train;
