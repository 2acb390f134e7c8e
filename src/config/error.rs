//! Config errors: each names the key, the value as written and where it was written (file
//! and line, or the flag), so a person can fix it without guessing.
//!
//! Reading and resolving collect errors instead of stopping at the first: a config with
//! three mistakes costs one `check-config` run, not three.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::raw::Origin;

/// One problem in a configuration.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// The file is not valid TOML.
    #[error("{origin}: not valid TOML: {message}")]
    Syntax {
        /// Where the parser stopped.
        origin: Origin,
        /// What the parser said.
        message: String,
    },
    /// A key or section flowprobe does not know.
    #[error("{origin}: unknown key `{key}`{}", hint(suggestion))]
    UnknownKey {
        /// Where the key was written.
        origin: Origin,
        /// The key as written, with its section (`capture.interface`).
        key: String,
        /// The known key it most likely meant, with its section.
        suggestion: Option<String>,
    },
    /// A value of the wrong TOML type (`threads = "four"`).
    #[error("{origin}: {key}: expected {expected}, found {found}")]
    WrongType {
        /// Where the value was written.
        origin: Origin,
        /// The key (`capture.threads`).
        key: String,
        /// What was expected.
        expected: &'static str,
        /// What was found, with the value as written.
        found: String,
    },
    /// A value of the right type that does not make sense (`idle = "15x"`, `threads = -1`).
    #[error("{origin}: {key} = {value}: {reason}")]
    Invalid {
        /// Where the value was written.
        origin: Origin,
        /// The key (`timeouts.idle`).
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
}

fn hint(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

impl ConfigError {
    /// Where the offending text was written (none for an unreadable file).
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { origin, .. }
            | ConfigError::UnknownKey { origin, .. }
            | ConfigError::WrongType { origin, .. }
            | ConfigError::Invalid { origin, .. } => Some(origin),
        }
    }

    /// The key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => None,
            ConfigError::UnknownKey { key, .. }
            | ConfigError::WrongType { key, .. }
            | ConfigError::Invalid { key, .. } => Some(key),
        }
    }
}

/// All problems found in a configuration, in the order found (at least one).
#[derive(Clone, Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// `Ok` when there is nothing wrong.
    pub fn check(errors: Vec<ConfigError>) -> Result<(), ConfigErrors> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The problems.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }
}

impl fmt::Display for ConfigErrors {
    /// One problem a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
