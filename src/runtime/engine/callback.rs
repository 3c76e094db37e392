//! The engine's side of call-backs: the citizen leg's socket (bound first, for our offer;
//! its media task started once the provider's SDP is known) and the attempt's outcome on
//! the worklist item.

use std::time::Duration;

use crate::media::player::RtpStreamState;
use crate::media::relay::LegConfig;
use crate::model::format_time;
use crate::sip::Peer;
use crate::store::CallBackAttempt;
use crate::switchboard::callback::{CallBackDone, CallBackRefused, CallBackRequest};
use crate::switchboard::{CallRef, Leg};

use super::Engine;

/// How long the worklist write waits for the call's row to be written (register writes
/// go through their own ordered queue; the item links to the row).
const ROW_WAIT: Duration = Duration::from_secs(10);
const ROW_POLL: Duration = Duration::from_millis(100);

impl Engine {
    /// A call-back from the API: only through a provider we are registered with, on the
    /// first hop the registration uses.
    pub(super) fn start_callback(
        &mut self,
        request: CallBackRequest,
    ) -> Result<String, CallBackRefused> {
        let route = self.provider.as_ref().and_then(|link| {
            let transport = link.transport();
            let registered = link.state().is_registered();
            link.hop()
                .filter(|_| registered)
                .map(|addr| Peer { transport, addr })
        });
        self.sb.set_provider_route(route);
        self.sb.start_callback(request, self.clock.now())
    }

    /// Bind the citizen leg's socket and tell the switchboard at once.
    pub(super) fn open_citizen_media(&mut self, call: CallRef) {
        let port = match self.pool.bind() {
            Ok((socket, port)) => {
                let slot = self.media.entry(call).or_default();
                slot.caller_port = Some(port);
                slot.caller_socket = Some(socket);
                Some(port)
            }
            Err(e) => {
                self.no_rtp_port(&e);
                None
            }
        };
        self.sb
            .handle_media_ready(call, Leg::Caller, port, self.clock.now());
    }

    /// Start the call's media task on the citizen's socket, as for an inbound caller.
    pub(super) fn start_citizen_media(
        &mut self,
        call: CallRef,
        media: LegConfig,
        stream: RtpStreamState,
    ) {
        let Some(slot) = self.media.get_mut(&call) else {
            return;
        };
        let Some(socket) = slot.caller_socket.take() else {
            tracing::warn!("citizen media started without its socket");
            return;
        };
        let task = self.spawn_media(call, socket, media, stream);
        if let Some(slot) = self.media.get_mut(&call) {
            slot.task = Some(task);
        }
    }

    /// The call-back's outcome on its worklist item, once its row exists (the item turns
    /// `unreachable` after `worklist.max_attempts` failed ones).
    pub(super) fn callback_done(&mut self, done: CallBackDone) {
        let store = self.readings.store().clone();
        let now = format_time(self.clock.now().wall);
        let max_attempts = self.worklist_max_attempts;
        self.readings.saves.spawn(async move {
            // Bounded by tries, not a clock read (the runtime reads time only in clock.rs).
            for _ in 0..ROW_WAIT.as_millis() / ROW_POLL.as_millis() {
                if matches!(store.call(&done.call_id).await, Ok(Some(_))) {
                    break;
                }
                tokio::time::sleep(ROW_POLL).await;
            }
            match store
                .record_worklist_callback(
                    &CallBackAttempt {
                        item_id: done.item,
                        call_id: &done.call_id,
                        operator: &done.operator,
                        outcome: &done.outcome,
                    },
                    max_attempts,
                    &now,
                )
                .await
            {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    item = done.item,
                    "call-back for a worklist item that is gone"
                ),
                Err(e) => {
                    tracing::error!(error = %e, item = done.item, "call-back outcome not stored")
                }
            }
        });
    }
}
