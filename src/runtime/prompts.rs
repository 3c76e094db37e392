//! Loading every prompt once, at start: the three named in `[prompts]`, and the queue's
//! messages by their fixed names in the prompts directory (`please_wait.wav`,
//! `position_1.wav` … `position_9.wav`, `position_many.wav`, `wait_1.wav` … `wait_10.wav`,
//! `wait_more.wav`, `no_operators.wav`, `overflow.wav`, `hold_music.wav`, `paused.wav`,
//! `resumed.wav`, the topic menu's `menu.wav` and `menu_retry.wav`, the readings dialogue's prompts). Every prompt is
//! built into the binary (`embedded.rs`); a file in the
//! prompts directory replaces the built-in one of its name, so a bare machine starts on
//! the defaults. A malformed file, or a missing file that `[prompts]` names outside the
//! defaults, stops the start with its name.

mod embedded;

pub use self::embedded::embedded;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::config::PromptsConfig;
use crate::media::player::{Prompt, PromptError};
use crate::switchboard::self_service::prompt::NAMES as DIALOGUE_NAMES;
use crate::switchboard::PromptKind;

#[derive(Debug, Error)]
pub enum PromptLoadError {
    // The reasons are fields, not `#[source]`s: the message already says them, and a
    // report that prints the chain would say them twice.
    /// The file could not be opened.
    #[error("prompt {file}: {reason}")]
    Open {
        file: PathBuf,
        reason: std::io::Error,
    },
    /// The file is not a prompt we can play.
    #[error("prompt {file}: {reason}")]
    Format { file: PathBuf, reason: PromptError },
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
    menu: Prompt,
    menu_retry: Prompt,
    /// The readings dialogue's prompts, in the order of `self_service::prompt::NAMES`.
    dialogue: Vec<Prompt>,
}

impl Prompts {
    pub fn load(config: &PromptsConfig) -> Result<Prompts, PromptLoadError> {
        let dir = &config.dir;
        let named = |name: &str| load_or_embedded(&dir.join(format!("{name}.wav")), name);
        let configured = |path: &Path, name: &str| {
            // The default file name in the prompts directory may be absent (the built-in
            // one plays); a file named explicitly must be there.
            if path == dir.join(format!("{name}.wav")) {
                load_or_embedded(path, name)
            } else {
                load_one(path)
            }
        };
        let mut positions = (1..=POSITIONS)
            .map(|n| named(&format!("position_{n}")))
            .collect::<Result<Vec<_>, _>>()?;
        positions.push(named("position_many")?);
        let mut waits = (1..=WAIT_MINUTES)
            .map(|n| named(&format!("wait_{n}")))
            .collect::<Result<Vec<_>, _>>()?;
        waits.push(named("wait_more")?);
        Ok(Prompts {
            after_hours: configured(&config.after_hours, "after_hours")?,
            greeting: configured(&config.greeting, "greeting")?,
            recording_notice: configured(&config.recording_notice, "recording_notice")?,
            please_wait: named("please_wait")?,
            no_operators: named("no_operators")?,
            overflow: named("overflow")?,
            positions,
            waits,
            hold_music: named("hold_music")?,
            paused: named("paused")?,
            resumed: named("resumed")?,
            menu: named("menu")?,
            menu_retry: named("menu_retry")?,
            dialogue: DIALOGUE_NAMES
                .iter()
                .map(|name| named(name))
                .collect::<Result<Vec<_>, _>>()?,
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
            PromptKind::Menu => &self.menu,
            PromptKind::MenuRetry => &self.menu_retry,
            PromptKind::Dialogue(p) => &self.dialogue[p.index()],
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

/// The file at `path` if it exists, else the built-in prompt `name`.
pub fn load_or_embedded(path: &Path, name: &str) -> Result<Prompt, PromptLoadError> {
    match (path.exists(), embedded(name)) {
        (false, Some(wav)) => Ok(Prompt::from_wav(name, wav)
            .expect("the built-in prompts are checked by a test to be playable")),
        _ => load_one(path),
    }
}

fn load_one(path: &Path) -> Result<Prompt, PromptLoadError> {
    let file = std::fs::File::open(path).map_err(|reason| PromptLoadError::Open {
        file: path.to_path_buf(),
        reason,
    })?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("prompt");
    Prompt::from_wav(name, std::io::BufReader::new(file)).map_err(|reason| {
        PromptLoadError::Format {
            file: path.to_path_buf(),
            reason,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> PromptsConfig {
        PromptsConfig {
            dir: dir.to_path_buf(),
            after_hours: dir.join("after_hours.wav"),
            greeting: dir.join("greeting.wav"),
            recording_notice: dir.join("recording_notice.wav"),
        }
    }

    #[test]
    fn every_built_in_prompt_is_playable() {
        for (name, wav) in self::embedded::EMBEDDED {
            let p = Prompt::from_wav(name, *wav).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!p.samples().is_empty(), "{name} is empty");
        }
    }

    #[test]
    fn an_empty_directory_plays_the_built_in_prompts() {
        let dir = tempfile::tempdir().unwrap();
        let prompts = Prompts::load(&config(dir.path())).unwrap();
        let built_in = Prompt::from_wav("greeting", embedded("greeting").unwrap()).unwrap();
        assert_eq!(
            prompts.get(PromptKind::Greeting).samples(),
            built_in.samples()
        );
    }

    #[test]
    fn a_file_in_the_directory_replaces_the_built_in_one() {
        let dir = tempfile::tempdir().unwrap();
        // The "resumed" prompt stored under the greeting's name: a recording of our own.
        std::fs::write(
            dir.path().join("greeting.wav"),
            embedded("resumed").unwrap(),
        )
        .unwrap();
        let prompts = Prompts::load(&config(dir.path())).unwrap();
        let resumed = Prompt::from_wav("resumed", embedded("resumed").unwrap()).unwrap();
        assert_eq!(
            prompts.get(PromptKind::Greeting).samples(),
            resumed.samples()
        );
        assert_eq!(prompts.get(PromptKind::Greeting).name(), "greeting");
    }

    #[test]
    fn a_missing_file_named_explicitly_is_an_error_said_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.greeting = dir.path().join("studio/hello.wav");
        let e = Prompts::load(&c).err().expect("a named file must exist");
        let text = format!("{:#}", anyhow::Error::from(e));
        assert!(text.contains("hello.wav"), "{text}");
        assert_eq!(text.matches("No such file").count(), 1, "{text}");
    }

    #[test]
    fn a_malformed_file_in_the_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("overflow.wav"), b"not a wav").unwrap();
        let e = Prompts::load(&config(dir.path())).err().expect("malformed");
        assert!(e.to_string().contains("overflow.wav"), "{e}");
    }
}
