//! Loading every prompt once, at start: the three named in `[prompts]`, and the queue's
//! messages by their fixed names in the prompts directory (`please_wait.wav`,
//! `position_1.wav` … `position_9.wav`, `position_many.wav`, `wait_1.wav` … `wait_10.wav`,
//! `wait_more.wav`, `no_operators.wav`, `overflow.wav`, `hold_music.wav`, `paused.wav`,
//! `resumed.wav`). A missing or malformed file stops the start with its name.

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

/// Positions and waits announced one by one; larger values use the "more than" prompt.
const POSITIONS: usize = 9;
const WAIT_MINUTES: u32 = 10;

#[derive(Clone)]
pub struct Prompts {
    after_hours: Prompt,
    greeting: Prompt,
    recording_notice: Prompt,
    please_wait: Prompt,
    no_operators: Prompt,
    overflow: Prompt,
    /// `positions[0]` is "first"; the last one is "more than nine".
    positions: Vec<Prompt>,
    /// `waits[0]` is "one minute"; the last one is "more than ten minutes".
    waits: Vec<Prompt>,
    hold_music: Prompt,
    paused: Prompt,
    resumed: Prompt,
}

impl Prompts {
    pub fn load(config: &PromptsConfig) -> Result<Prompts, PromptLoadError> {
        let dir = &config.dir;
        let named = |name: &str| load_one(&dir.join(format!("{name}.wav")));
        let mut positions = (1..=POSITIONS)
            .map(|n| named(&format!("position_{n}")))
            .collect::<Result<Vec<_>, _>>()?;
        positions.push(named("position_many")?);
        let mut waits = (1..=WAIT_MINUTES)
            .map(|n| named(&format!("wait_{n}")))
            .collect::<Result<Vec<_>, _>>()?;
        waits.push(named("wait_more")?);
        Ok(Prompts {
            after_hours: load_one(&config.after_hours)?,
            greeting: load_one(&config.greeting)?,
            recording_notice: load_one(&config.recording_notice)?,
            please_wait: named("please_wait")?,
            no_operators: named("no_operators")?,
            overflow: named("overflow")?,
            positions,
            waits,
            hold_music: named("hold_music")?,
            paused: named("paused")?,
            resumed: named("resumed")?,
        })
    }

    pub fn get(&self, kind: PromptKind) -> &Prompt {
        match kind {
            PromptKind::AfterHours => &self.after_hours,
            PromptKind::Greeting => &self.greeting,
            PromptKind::RecordingNotice => &self.recording_notice,
            PromptKind::PleaseWait => &self.please_wait,
            PromptKind::NoOperators => &self.no_operators,
            PromptKind::Overflow => &self.overflow,
            PromptKind::Position(n) => &self.positions[n.clamp(1, POSITIONS + 1) - 1],
            PromptKind::WaitMinutes(m) => &self.waits[m.clamp(1, WAIT_MINUTES + 1) as usize - 1],
            PromptKind::HoldMusic => &self.hold_music,
            PromptKind::Paused => &self.paused,
            PromptKind::Resumed => &self.resumed,
        }
    }

    /// One prompt made of several played back to back (an announcement: position, then
    /// the estimated wait). A single prompt is shared, not copied.
    pub fn sequence(&self, kinds: &[PromptKind]) -> Prompt {
        match kinds {
            [one] => self.get(*one).clone(),
            _ => {
                let samples: Vec<i16> = kinds
                    .iter()
                    .flat_map(|k| self.get(*k).samples().iter().copied())
                    .collect();
                let name = kinds
                    .iter()
                    .map(|k| self.get(*k).name())
                    .collect::<Vec<_>>()
                    .join("+");
                Prompt::from_pcm(&name, samples)
            }
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
