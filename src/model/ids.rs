//! Ids of partners and checks: `[a-z0-9-]+`, 1..=64 characters, parsed when read.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Declares an id type: `[a-z0-9-]+`, 1..=64 characters, parsed when read.
macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// The id as written in its file.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                let ok = !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                if !ok {
                    return Err(format!("`{s}` is not a valid id: use 1 to 64 of [a-z0-9-]"));
                }
                Ok(Self(s.into()))
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::try_from(s.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }
    };
}

slug_id!(
    /// A partner id, unique across `partners/`.
    PartnerId
);
slug_id!(
    /// A synthetic check id, unique across `synthetics/`.
    CheckId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_slugs_only() {
        assert!(PartnerId::from_str("microsoft-graph").is_ok());
        assert!(PartnerId::from_str("Okta").is_err());
        assert!(PartnerId::from_str("").is_err());
        assert!(PartnerId::from_str("a b").is_err());
        assert!(CheckId::from_str(&"x".repeat(65)).is_err());
    }
}
