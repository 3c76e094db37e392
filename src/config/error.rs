//! Configuration errors. Every error names where the problem is (the file and the dotted
//! key, or the environment variable) and why, on one line, so `check-config` can print
//! them as they are and an operator can fix them all in one pass.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// One problem with the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("{}: cannot read the file: {source}", file.display())]
    Read {
        /// The file we tried to read.
        file: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: {message}", file.display())]
    Syntax {
        /// The file with the error.
        file: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        column: usize,
        /// The TOML parser's description.
        message: String,
    },
    /// A key has a value we cannot use.
    #[error("{}: {key}: {reason}", file.display())]
    Invalid {
        /// The file the value came from.
        file: PathBuf,
        /// Dotted key path, e.g. `hours.open` or `operators[2].password`.
        key: String,
        /// Why the value is refused, quoting it (never a secret).
        reason: String,
    },
    /// A key or section we do not know: a typo we refuse rather than silently ignore.
    #[error("{}: {key}: unknown key{}", file.display(), hint_suffix(.hint))]
    Unknown {
        /// The file with the key.
        file: PathBuf,
        /// Dotted key path of the unknown key.
        key: String,
        /// A known key with a similar name, if there is one.
        hint: Option<String>,
    },
    /// An environment override is malformed, names an unknown key, or has a bad value.
    #[error("environment variable {variable}: {reason}")]
    Env {
        /// The variable's name, e.g. `HOTLINE_SIP__LISTEN`.
        variable: String,
        /// What is wrong with it, naming the key it overrides.
        reason: String,
    },
}

fn hint_suffix(hint: &Option<String>) -> String {
    match hint {
        Some(known) => format!(" (did you mean `{known}`?)"),
        None => String::new(),
    }
}

/// All the problems found in one configuration, in the order found.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The individual problems.
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        self.0.iter()
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never the case for a returned error).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        ConfigErrors(vec![error])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The known name closest to `unknown` if it is a plausible typo (edit distance <= 2).
pub(super) fn closest<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(unknown, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}
