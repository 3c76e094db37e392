//! Loading the prompt files named in `[prompts]` once, at start.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::config::PromptsConfig;
use crate::media::player::{Prompt, PromptError};
use crate::switchboard::PromptKind;

#[derive(Debug, Error)]
pub enum PromptLoadError {
    /// The file could not be opened.
    #[error("prompt {file}: {source}")]
    Open {
        file: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a prompt we can play.
    #[error("prompt {file}: {source}")]
    Format { file: PathBuf, source: PromptError },
}

#[derive(Clone)]
pub struct Prompts {
    after_hours: Prompt,
    greeting: Prompt,
}

impl Prompts {
    pub fn load(config: &PromptsConfig) -> Result<Prompts, PromptLoadError> {
        Ok(Prompts {
            after_hours: load_one(&config.after_hours)?,
            greeting: load_one(&config.greeting)?,
        })
    }

    pub fn get(&self, kind: PromptKind) -> &Prompt {
        match kind {
            PromptKind::AfterHours => &self.after_hours,
            PromptKind::Greeting => &self.greeting,
        }
    }
}

fn load_one(path: &Path) -> Result<Prompt, PromptLoadError> {
    let file = std::fs::File::open(path).map_err(|source| PromptLoadError::Open {
        file: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("prompt");
    Prompt::from_wav(name, std::io::BufReader::new(file)).map_err(|source| {
        PromptLoadError::Format {
            file: path.to_path_buf(),
            source,
        }
    })
}
