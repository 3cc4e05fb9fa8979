//! Hand-synchronised structures shared by the node's threads. They are small on purpose and
//! model-checked with loom (every interleaving of a few threads):
//!
//! ```sh
//! CARGO_TARGET_DIR=/var/cache/bcos-target-loom RUSTFLAGS="--cfg loom" \
//!     cargo test --release -p bcos-sync
//! ```
//!
//! (A separate target dir: `--cfg loom` changes every crate's fingerprint.)

pub mod doorbell;
pub mod shim;

pub use doorbell::{Doorbell, Wake};
