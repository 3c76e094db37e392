//! The meter-readings dialogue in a live call (`[readings]`), entered from the topic menu's
//! `meter_readings` key: the dialogue machine (`self_service::readings`) names prompts to
//! play, answers to collect, an account to look up and readings to store; this state
//! carries those out. The lookup goes to the runtime as `Action::LookUpMeters` and comes
//! back through `meters_found`; keys pressed meanwhile are ignored. A failed or slow
//! lookup, 0, or three failures on one question send the caller to the queue with the
//! topic set: never a dead end.
//!
//! Every meter read: the caller hears the saved confirmation and goodbye, and we hang up
//! with outcome `self_service` (`readings_done` on the timeline).

use crate::media::dtmf::collector::{CollectRules, Collected, DigitCollector};
use crate::model::meters::Meter;
use crate::model::topic::METER_READINGS;
use crate::model::{CallEventKind, EndReason, HangupBy, Outcome};
use crate::switchboard::self_service::prompt::DialoguePrompt;
use crate::switchboard::self_service::readings::{Accepted, ReadingRules, Readings};
use crate::switchboard::self_service::{End, Step};
use crate::switchboard::{Action, MediaOrder, PromptKind};

use super::menu::collect_key;
use super::{Call, Ctx, Ending, State};

/// The dialogue while the caller is in it.
pub(in crate::switchboard) struct ReadingsRun {
    dialogue: Readings,
    /// How the current question's answer is collected.
    rules: CollectRules,
    /// Collecting the current answer: from the end of its prompts, or an earlier key.
    pub(super) collector: Option<DigitCollector>,
    /// The account's meters are being looked up: keys are ignored until they come.
    looking_up: bool,
    /// The dialogue is over: this end once its last prompts have played.
    ending: Option<End>,
}

impl Call {
    /// The menu's readings key: the dialogue starts with its first question.
    pub(super) fn start_readings(&mut self, ctx: &mut Ctx<'_>) {
        let config = &ctx.settings.readings;
        let rules = ReadingRules {
            max_monthly: i64::from(config.max_monthly),
            first_digit: config.first_digit_timeout,
            inter_digit: config.inter_digit_timeout,
            topic: METER_READINGS.to_owned(),
        };
        let collect = CollectRules {
            first_digit: rules.first_digit,
            inter_digit: rules.inter_digit,
            max_digits: 1,
        };
        let (dialogue, step) = Readings::start(rules);
        self.state = State::Readings;
        tracing::info!("readings dialogue");
        self.readings = Some(Box::new(ReadingsRun {
            dialogue,
            rules: collect,
            collector: None,
            looking_up: false,
            ending: None,
        }));
        self.readings_step(ctx, step);
    }

    /// The question's prompts (or the last ones) are over.
    pub(super) fn readings_prompt_finished(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now.mono;
        let Some(run) = self.readings.as_mut() else {
            return;
        };
        if let Some(end) = run.ending.take() {
            self.finish_readings(ctx, end);
        } else if run.collector.is_none() && !run.looking_up {
            run.collector = Some(DigitCollector::start(run.rules, now));
        }
    }

    /// A key while in the dialogue.
    pub(super) fn readings_key(&mut self, ctx: &mut Ctx<'_>, key: char) {
        let now = ctx.now.mono;
        let Some(run) = self.readings.as_mut() else {
            return;
        };
        if run.looking_up || run.ending.is_some() {
            return; // nothing is asked now
        }
        let (answer, barged_in) = collect_key(&mut run.collector, run.rules, key, now);
        if barged_in {
            self.stop_question(ctx);
        }
        if let Some(answer) = answer {
            self.readings_answered(ctx, answer);
        }
    }

    /// The collector's deadline passed.
    pub(super) fn readings_timeout(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now.mono;
        let answer = self
            .readings
            .as_mut()
            .and_then(|r| r.collector.as_mut())
            .and_then(|c| c.handle_timeout(now));
        if let Some(answer) = answer {
            self.readings_answered(ctx, answer);
        }
    }

    /// The runtime's answer to `LookUpMeters` (`None`: the database failed).
    pub fn meters_found(&mut self, ctx: &mut Ctx<'_>, meters: Option<Vec<Meter>>) {
        if self.state != State::Readings {
            return;
        }
        let Some(run) = self.readings.as_mut() else {
            return;
        };
        if !run.looking_up {
            return; // a stale answer
        }
        run.looking_up = false;
        match meters {
            Some(meters) => {
                let step = run.dialogue.handle_meters(meters);
                self.readings_step(ctx, step);
            }
            None => {
                tracing::warn!("meters could not be looked up: to an operator");
                let end = End::Operator {
                    topic: Some(METER_READINGS.to_owned()),
                };
                self.wind_up(ctx, vec!["to_operator".into()], end, "database");
            }
        }
    }

    fn readings_answered(&mut self, ctx: &mut Ctx<'_>, answer: Collected) {
        let Some(run) = self.readings.as_mut() else {
            return;
        };
        run.collector = None;
        tracing::debug!(?answer, "readings answer");
        let (step, accepted) = run.dialogue.handle_collected(answer);
        if let Some(accepted) = accepted {
            self.store_reading(ctx, accepted);
        }
        self.readings_step(ctx, step);
    }

    fn store_reading(&mut self, ctx: &mut Ctx<'_>, reading: Accepted) {
        tracing::info!(meter = %reading.meter, "reading accepted");
        self.timeline(
            ctx,
            CallEventKind::ReadingAccepted,
            Some(format!(
                "{}: {} → {}",
                reading.meter, reading.previous, reading.value
            )),
        );
        ctx.actions.push_back(Action::StoreReading {
            call_id: self.id.clone(),
            at: ctx.now.wall,
            reading,
        });
    }

    /// Carry out the dialogue's next step.
    fn readings_step(&mut self, ctx: &mut Ctx<'_>, step: Step) {
        let now = ctx.now.mono;
        match step {
            Step::Ask { prompts, rules } => {
                let prompts: Vec<PromptKind> = prompts.iter().filter_map(|p| dialogue(p)).collect();
                let Some(run) = self.readings.as_mut() else {
                    return;
                };
                run.rules = rules;
                if prompts.is_empty() {
                    // Nothing to say (an answer the dialogue did not ask for): listen on.
                    run.collector = Some(DigitCollector::start(rules, now));
                } else {
                    run.collector = None;
                    self.play(ctx, prompts, false);
                }
            }
            Step::LookUpAccount(account) => {
                if let Some(run) = self.readings.as_mut() {
                    run.looking_up = true;
                    run.collector = None;
                }
                self.timeline(ctx, CallEventKind::ReadingsAccount, Some(account.clone()));
                ctx.actions.push_back(Action::LookUpMeters {
                    call: self.call_ref,
                    account,
                });
            }
            Step::Finish { prompts, end } => self.wind_up(ctx, prompts, end, "caller"),
        }
    }

    /// The dialogue is over: its last prompts, then `end`. `why` goes on the timeline
    /// when the caller goes to an operator (`caller`: 0 or three failures; `database`).
    fn wind_up(&mut self, ctx: &mut Ctx<'_>, prompts: Vec<String>, end: End, why: &str) {
        let prompts: Vec<PromptKind> = prompts.iter().filter_map(|p| dialogue(p)).collect();
        if end == End::Settled {
            // Settled without an operator: the confirmation and goodbye, then we hang up.
            self.timeline(ctx, CallEventKind::ReadingsDone, None);
            self.leave_readings(ctx);
            self.readings = None;
            let (outcome, reason) = (Outcome::SelfService, EndReason::PromptDone);
            if prompts.is_empty() {
                self.hang_up(ctx, Ending::new(outcome, HangupBy::System, reason));
            } else {
                self.state = State::Farewell(outcome, reason);
                self.play(ctx, prompts, false);
            }
            return;
        }
        self.timeline(ctx, CallEventKind::ReadingsToOperator, Some(why.to_owned()));
        self.leave_readings(ctx);
        if prompts.is_empty() {
            self.finish_readings(ctx, end);
            return;
        }
        if let Some(run) = self.readings.as_mut() {
            run.ending = Some(end);
        }
        self.play(ctx, prompts, false);
    }

    /// Stop collecting keys (the dialogue is over).
    fn leave_readings(&mut self, ctx: &mut Ctx<'_>) {
        self.media(ctx, MediaOrder::CollectKeys(false));
        if let Some(run) = self.readings.as_mut() {
            run.collector = None;
        }
    }

    /// Out of the dialogue, into the queue with the topic set.
    fn finish_readings(&mut self, ctx: &mut Ctx<'_>, end: End) {
        self.readings = None;
        let topic = match end {
            End::Operator { topic } => topic,
            End::Settled => None,
        };
        if topic.is_some() {
            self.topic = topic;
        }
        self.enqueue(ctx);
    }
}

/// The prompt a dialogue step names.
fn dialogue(name: &str) -> Option<PromptKind> {
    let prompt = DialoguePrompt::from_name(name).map(PromptKind::Dialogue);
    if prompt.is_none() {
        tracing::warn!(
            prompt = name,
            "the readings dialogue named a prompt it cannot play"
        );
    }
    prompt
}
