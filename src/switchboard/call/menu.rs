//! The topic menu between the recording notice and the queue (`[menu]`): the menu prompt
//! plays, the caller's keys come from the media task (RFC 4733 events or tones in the
//! audio, collected only in this state), and the menu machine
//! (`self_service::menu`) decides: a topic is set on the call and written to its row, 0
//! goes to an operator without one, silence or wrong keys to every question go to the
//! queue without one. Whatever happens, the caller ends up in the queue: never a dead end.
//!
//! The answer is collected once the question's prompts are over, or from the first key
//! pressed during them (which stops them). The collector's deadline is the call's only
//! timer (`poll_timeout`), fired by the switchboard through `handle_timeout`.

use std::time::Instant;

use crate::media::dtmf::collector::{CollectRules, Collected, DigitCollector};
use crate::model::topic::METER_READINGS;
use crate::model::{CallEventKind, CallUpdate};
use crate::switchboard::self_service::menu::{Choice, Menu, MenuItems};
use crate::switchboard::self_service::{End, Step};
use crate::switchboard::{MediaOrder, PromptKind};

use super::{Call, Ctx, State};

/// The menu while the caller is in it.
pub(in crate::switchboard) struct MenuRun {
    menu: Menu,
    /// How the current question's answer is collected.
    rules: CollectRules,
    /// Collecting the current answer: from the end of its prompts, or an earlier key.
    collector: Option<DigitCollector>,
    /// What the caller answered to each question, for the timeline (`-` for silence).
    path: Vec<String>,
}

impl Call {
    /// The call's next deadline (the menu waiting for a key), if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Menu => self.menu.as_ref()?.collector.as_ref()?.poll_timeout(),
            State::Readings => self.readings.as_ref()?.collector.as_ref()?.poll_timeout(),
            _ => None,
        }
    }

    /// The deadline from `poll_timeout` passed.
    pub fn handle_timeout(&mut self, ctx: &mut Ctx<'_>) {
        if self.state == State::Readings {
            return self.readings_timeout(ctx);
        }
        if self.state != State::Menu {
            return;
        }
        let now = ctx.now.mono;
        let answer = self
            .menu
            .as_mut()
            .and_then(|m| m.collector.as_mut())
            .and_then(|c| c.handle_timeout(now));
        if let Some(answer) = answer {
            self.menu_answered(ctx, answer);
        }
    }

    /// The notice is over and the menu is on: ask the first question.
    pub(super) fn start_menu(&mut self, ctx: &mut Ctx<'_>) {
        let config = &ctx.settings.menu;
        let items = MenuItems {
            items: config.options.clone(),
            // With `[readings]` off its key is a topic like the others.
            readings_topic: ctx
                .settings
                .readings
                .enabled
                .then(|| METER_READINGS.to_owned()),
            wait_for_key: config.first_digit_timeout,
            attempts: config.attempts,
        };
        let (menu, step) = Menu::start(items);
        self.state = State::Menu;
        tracing::info!("topic menu");
        self.media(ctx, MediaOrder::CollectKeys(true));
        self.menu = Some(Box::new(MenuRun {
            menu,
            rules: CollectRules {
                first_digit: config.first_digit_timeout,
                inter_digit: config.first_digit_timeout,
                max_digits: 1,
            },
            collector: None,
            path: Vec::new(),
        }));
        self.menu_step(ctx, step);
    }

    /// The question's prompts are over: the caller's time to answer starts.
    pub(super) fn menu_prompt_finished(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now.mono;
        if let Some(run) = self.menu.as_mut() {
            if run.collector.is_none() {
                run.collector = Some(DigitCollector::start(run.rules, now));
            }
        }
    }

    /// The caller pressed a key (reported only while keys are collected).
    pub fn key_pressed(&mut self, ctx: &mut Ctx<'_>, key: char) {
        if self.state == State::Readings {
            return self.readings_key(ctx, key);
        }
        if self.state != State::Menu {
            return;
        }
        let now = ctx.now.mono;
        let Some(run) = self.menu.as_mut() else {
            return;
        };
        tracing::debug!(%key, "key");
        let (answer, barged_in) = collect_key(&mut run.collector, run.rules, key, now);
        if barged_in {
            self.stop_question(ctx);
        }
        if let Some(answer) = answer {
            self.menu_answered(ctx, answer);
        }
    }

    /// A key during a question stopped its prompts; a finished prompt reported meanwhile
    /// is stale.
    pub(super) fn stop_question(&mut self, ctx: &mut Ctx<'_>) {
        self.play_tag = self.play_tag.wrapping_add(1);
        self.media(ctx, MediaOrder::StopPlayback);
    }

    fn menu_answered(&mut self, ctx: &mut Ctx<'_>, answer: Collected) {
        let Some(run) = self.menu.as_mut() else {
            return;
        };
        run.collector = None;
        run.path.push(match &answer {
            Collected::Digits(d) if d.is_empty() => "#".to_owned(),
            Collected::Digits(d) => d.clone(),
            Collected::NoInput => "-".to_owned(),
        });
        let zero = matches!(&answer, Collected::Digits(d) if d == "0");
        match run.menu.handle_collected(answer) {
            Ok(Choice::Topic(topic)) => self.finish_menu(ctx, Some(topic), true),
            Ok(Choice::Readings(topic)) => {
                self.leave_menu(ctx, Some(topic), true);
                self.start_readings(ctx);
            }
            Ok(Choice::Done(End::Operator { topic })) => self.finish_menu(ctx, topic, zero),
            Ok(Choice::Done(End::Settled)) => self.finish_menu(ctx, None, false),
            Err(step) => self.menu_step(ctx, step),
        }
    }

    /// Carry out the menu's next step: a question asked (again).
    fn menu_step(&mut self, ctx: &mut Ctx<'_>, step: Step) {
        match step {
            Step::Ask { prompts, rules } => {
                if let Some(run) = self.menu.as_mut() {
                    run.rules = rules;
                    run.collector = None;
                }
                let prompts: Vec<PromptKind> = prompts.iter().filter_map(|p| prompt(p)).collect();
                self.play(ctx, prompts, false);
            }
            // The menu itself asks nothing else; anything more goes to the queue.
            Step::LookUpAccount(_) | Step::Finish { .. } => self.finish_menu(ctx, None, false),
        }
    }

    /// Out of the menu, into the queue: the topic (if any) on the row and the timeline.
    fn finish_menu(&mut self, ctx: &mut Ctx<'_>, topic: Option<String>, chosen: bool) {
        self.media(ctx, MediaOrder::CollectKeys(false));
        self.leave_menu(ctx, topic, chosen);
        self.enqueue(ctx);
    }

    /// The menu is over: the topic (if any) on the row and the timeline.
    fn leave_menu(&mut self, ctx: &mut Ctx<'_>, topic: Option<String>, chosen: bool) {
        let path = self
            .menu
            .take()
            .map(|run| run.path.join(" / "))
            .unwrap_or_default();
        let to = topic.as_deref().unwrap_or("operator");
        tracing::info!(topic = to, "menu over");
        ctx.counters
            .count_menu_result(if chosen { to } else { "no_choice" });
        if topic.is_some() {
            self.register(
                ctx,
                CallUpdate {
                    topic: topic.clone(),
                    ..CallUpdate::default()
                },
            );
        }
        let kind = if chosen {
            CallEventKind::MenuChoice
        } else {
            CallEventKind::MenuNoChoice
        };
        self.timeline(ctx, kind, Some(format!("{path} → {to}")));
        self.topic = topic;
    }
}

/// The prompt a menu step names.
/// `key` for the question being asked (the menu's or the readings dialogue's): collected,
/// the collector starting with it if it came while the question's prompts still played.
/// The answer once complete, and whether the key barged in on the prompts.
pub(super) fn collect_key(
    collector: &mut Option<DigitCollector>,
    rules: CollectRules,
    key: char,
    now: Instant,
) -> (Option<Collected>, bool) {
    let barged_in = collector.is_none();
    let answer = collector
        .get_or_insert_with(|| DigitCollector::start(rules, now))
        .handle_key(key, now);
    (answer, barged_in)
}

fn prompt(name: &str) -> Option<PromptKind> {
    match name {
        "menu" => Some(PromptKind::Menu),
        "menu_retry" => Some(PromptKind::MenuRetry),
        other => {
            tracing::warn!(prompt = other, "the menu named a prompt it cannot play");
            None
        }
    }
}
