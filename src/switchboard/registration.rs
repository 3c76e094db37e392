//! Operators' softphones registering: the registrar's answers (some held back on purpose,
//! to slow down password guessing) and its binding changes fed to the ACD.

use std::time::Instant;

use crate::model::Now;
use crate::sip::registrar::{Account, BindingEvent, Registrar, RegistrarPolicy};
use crate::sip::transaction::TxKey;
use crate::sip::{message::Request, Peer};

use super::acd::{OperatorState, RingResult};
use super::{Settings, Switchboard};

pub(super) fn new_registrar(settings: &Settings, seed: u64, now: Instant) -> Registrar {
    let accounts: Vec<Account> = settings.operators.iter().map(Account::from).collect();
    Registrar::new(
        RegistrarPolicy::with_realm(settings.realm.clone()),
        accounts,
        seed,
        now,
    )
}

impl Switchboard {
    pub(super) fn on_register(&mut self, key: TxKey, req: Request, source: Peer, now: Now) {
        let outcome = self.registrar.handle_register(&req, source, now.mono);
        self.on_binding_events(outcome.events, now);
        match outcome.delay {
            Some(d) => self.delayed.push((now.mono + d, key, outcome.response)),
            None => self.respond(&key, outcome.response, now),
        }
    }

    pub(super) fn registrar_timeout(&mut self, now: Now) {
        let events = self.registrar.handle_timeout(now.mono);
        self.on_binding_events(events, now);
    }

    /// Send the held-back responses whose time has come.
    pub(super) fn send_delayed(&mut self, now: Now) {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.delayed)
            .into_iter()
            .partition(|d| d.0 <= now.mono);
        self.delayed = later;
        for (_, key, resp) in due {
            self.respond(&key, resp, now);
        }
    }

    fn on_binding_events(&mut self, events: Vec<BindingEvent>, now: Now) {
        for event in events {
            tracing::info!(?event, "operator registration");
            match event {
                BindingEvent::Online { operator } => {
                    self.acd.handle_operator_online(&operator, now.mono)
                }
                BindingEvent::Offline { operator, .. } => {
                    self.acd.handle_operator_offline(&operator, now.mono)
                }
                // The softphone came back from somewhere else (restarted, new address): a
                // ring in flight goes to a device that is gone. Call it off; the caller keeps
                // its place and the operator is rung again, on the new binding, after the
                // ACD's retry interval (reported as busy: not the operator's fault, so it
                // does not count towards an automatic pause).
                BindingEvent::Moved { operator } => {
                    if let Some(OperatorState::Ringing(call)) =
                        self.acd.operator_state(&operator).cloned()
                    {
                        self.cancel_ring(call, now);
                        self.acd
                            .handle_ring_failed(call, &operator, RingResult::Busy, now.mono);
                    }
                }
            }
        }
    }
}

impl Switchboard {
    /// A new configuration (SIGHUP): hours, holidays, trunk, codecs, queue timings' operator
    /// list and passwords take effect for what happens next; calls in progress go on as they
    /// are. Settings that need new sockets (listen addresses, RTP ports) are not reloaded.
    pub fn reload(&mut self, settings: Settings, now: Now) {
        let accounts: Vec<Account> = settings.operators.iter().map(Account::from).collect();
        let ids: Vec<String> = settings.operators.iter().map(|o| o.id.clone()).collect();
        let events = self.registrar.set_accounts(accounts, now.mono);
        self.acd.set_operators(&ids, now.mono);
        let keep_sip_addr = self.settings.sip_addr;
        let keep_media_ip = self.settings.media_ip;
        self.settings = Settings {
            sip_addr: keep_sip_addr,
            media_ip: keep_media_ip,
            ..settings
        };
        self.on_binding_events(events, now);
        self.pump(now);
        tracing::info!(operators = ids.len(), "configuration reloaded");
    }
}
