//! Models on dfdx, sized at run time: the architecture description
//! (`arch`), the named parameter store (`params`), and the layers.
//!
//! Nothing here knows about files, specs' TOML or SQL: weights go in and out
//! as safetensors bytes, and the train module decides where they live.

pub mod arch;
pub mod dropout;
pub mod fast;
pub mod layers;
pub mod net;
pub mod params;
pub mod portable;

pub use arch::{Architecture, ConvBlock, Head, Init, TensorSpec};
pub use layers::{Kernels, Layers};
#[cfg(not(feature = "cuda"))]
pub use net::NO_CUDA;
pub use net::{Mode, Model};
pub use params::Params;
