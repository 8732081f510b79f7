//! Recommendations: implicit-feedback models (NeuMF, GMF, MLP, MF-BPR, iALS, EASE^R, item popularity,
//! content similarity) trained on the CPU with candle, exported to ONNX and served with tract, and the
//! offline evaluation of them on the NCF leave-one-out protocol.
//!
//! The models and the evaluation work on dense user and item indices; `service` is the
//! marketplace's side: signals from events, the catalogue's item space, the served model.

pub mod content;
pub mod data;
pub mod ease;
pub mod eval;
pub mod experiment;
pub mod ials;
pub mod model;
pub mod onnx;
pub mod report;
pub mod service;

pub use data::{Dataset, Interactions, TestCase};
pub use eval::{Metrics, Scorer};
pub use service::{Reason, RecSettings, Recommender, Suggestion};

#[derive(Debug, thiserror::Error)]
pub enum RecError {
    #[error("{0}")]
    Data(String),
    #[error("i/o error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("model error: {0}")]
    Model(String),
}

impl From<candle_core::Error> for RecError {
    fn from(e: candle_core::Error) -> Self {
        RecError::Model(e.to_string())
    }
}

pub type Result<T, E = RecError> = std::result::Result<T, E>;
