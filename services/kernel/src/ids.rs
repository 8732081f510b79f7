//! Typed ids: UUIDv7 (time ordered, so indexes stay append-mostly), stored as text on both backends.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid id: {0:?}")]
pub struct InvalidId(pub String);

/// Declares a newtype id around a UUIDv7.
#[macro_export]
macro_rules! typed_id {
    ($name:ident) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
            pub fn parse(s: &str) -> Result<Self, $crate::ids::InvalidId> {
                uuid::Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| $crate::ids::InvalidId(s.chars().take(64).collect()))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

typed_id!(EventId);

/// A new time-ordered id (UUIDv7) as text: the id of rows without a typed id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `bytes` random bytes from the operating system, as lowercase hex (tokens, keys, provider ids).
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    Hex(&b).to_string()
}

/// Hex helper used by ids and tokens.
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
