//! Which cache node the lab runs: our reference node (the default) or a user's arcus-memcached
//! install prefix (`--arcus PREFIX` or `ARCUS_PREFIX`), which must hold `bin/memcached` and `lib/`.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavour {
    /// `lab/node`, built from this repo.
    Reference,
    /// A real arcus-memcached built by the user for Debian 12 x86_64.
    Arcus(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum FlavourError {
    #[error("--arcus {prefix}: {missing} is missing (the prefix must hold bin/memcached and lib/ of an arcus-memcached install built for Debian 12 x86_64)")]
    Incomplete { prefix: String, missing: &'static str },
}

impl Flavour {
    /// `--arcus PREFIX` if given, else `ARCUS_PREFIX` if set, else the reference node.
    pub fn from_option(prefix: Option<&Path>) -> Result<Flavour, FlavourError> {
        let prefix = prefix.map(PathBuf::from).or_else(|| std::env::var_os("ARCUS_PREFIX").map(PathBuf::from));
        let Some(prefix) = prefix else { return Ok(Flavour::Reference) };
        for (missing, path) in [("bin/memcached", prefix.join("bin/memcached")), ("lib/", prefix.join("lib"))] {
            if !path.exists() {
                return Err(FlavourError::Incomplete { prefix: prefix.display().to_string(), missing });
            }
        }
        Ok(Flavour::Arcus(prefix))
    }

    pub fn name(&self) -> String {
        match self {
            Flavour::Reference => "reference".into(),
            Flavour::Arcus(prefix) => format!("arcus ({})", prefix.display()),
        }
    }
}
