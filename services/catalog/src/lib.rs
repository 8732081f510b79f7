//! Catalogue: categories (a tree), dealers' stores, products with options, images and stock.
//! Every change is committed with its event (`catalog.*`); search and recommendations follow those.

mod db;
pub mod domain;
mod error;
pub mod events;
pub mod images;
mod import;
pub mod inventory;
pub mod markdown;
mod service;

pub use domain::*;
pub use error::CatalogError;
pub use images::{ImageStore, LocalDiskStore};
pub use import::{ImportReport, ImportRow};
pub use service::{Catalog, IndexRow, SummaryRow};
