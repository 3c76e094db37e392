//! The readings dialogue's database work, off the engine task: looking up an account's
//! meters (the answer goes back to the switchboard as `handle_meters`) and storing the
//! readings callers confirm. Readings go straight to the store rather than through the
//! register writer: they are not rows of the call register and need no ordering with
//! them (`readings.call_id` has no foreign key), and a failed write is logged with the
//! reading, which the timeline's `reading_accepted` also keeps.

use std::time::Duration;

use tokio::task::JoinSet;

use crate::model::format_time;
use crate::model::meters::Meter;
use crate::store::{ReadingRecord, Store};
use crate::switchboard::self_service::readings::Accepted;
use crate::switchboard::CallRef;

/// How long a caller waits for the account's meters before going to an operator.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) struct ReadingsDb {
    store: Store,
    /// Lookups under way: the call and its answer (`None`: failed or too slow).
    pub lookups: JoinSet<(CallRef, Option<Vec<Meter>>)>,
    /// Readings being stored.
    pub saves: JoinSet<()>,
}

impl ReadingsDb {
    pub fn new(store: Store) -> ReadingsDb {
        ReadingsDb {
            store,
            lookups: JoinSet::new(),
            saves: JoinSet::new(),
        }
    }

    /// The store, for other writes off the engine task (a call-back's outcome).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn look_up(&mut self, call: CallRef, account: String) {
        let store = self.store.clone();
        self.lookups.spawn(async move {
            let meters = match tokio::time::timeout(LOOKUP_TIMEOUT, store.meters_of(&account)).await
            {
                Ok(Ok(meters)) => Some(meters),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "meters lookup failed");
                    None
                }
                Err(_) => {
                    tracing::error!("meters lookup timed out");
                    None
                }
            };
            (call, meters)
        });
    }

    pub fn save(&mut self, call_id: String, at: jiff::Timestamp, reading: Accepted) {
        let store = self.store.clone();
        let record = ReadingRecord {
            account: reading.account,
            meter: reading.meter,
            value: reading.value,
            previous: reading.previous,
            call_id: Some(call_id),
            at: format_time(at),
            source: "phone".into(),
        };
        self.saves.spawn(async move {
            if let Err(e) = store.add_reading(&record).await {
                tracing::error!(error = %e, ?record, "a phone reading could not be stored");
            }
        });
    }

    /// Wait for every reading being stored (at shutdown, before the store closes).
    pub async fn finish(&mut self) {
        self.lookups.abort_all();
        while self.saves.join_next().await.is_some() {}
    }
}
