//! Searches by a caller's digits: whichever way the register answers them (a scan, the
//! trigram index, the index first asked how common the digits are), the calls found are
//! exactly those whose number holds the digits, counted and paged as the console shows them.

use hotline::model::{CallRecord, RegisterWrite};
use hotline::store::seed::{fabricate, SeedPlan};
use hotline::store::{CallFilter, Store};
use jiff::civil::date;
use jiff::tz::TimeZone;

use super::{new_call, Harness};

/// Calls sharing one number: more than the trigram probe's limit (2,000), so a run of
/// digits only this number holds is common, not rare.
const FREQUENT: usize = 2_100;
const FREQUENT_NUMBER: &str = "78112000001";

fn register_rows() -> Vec<CallRecord> {
    let mut rows = fabricate(&SeedPlan {
        calls: 1_500,
        days: 60,
        until: date(2026, 12, 1),
        zone: TimeZone::UTC,
        seed: 11,
    });
    let frequent: Vec<CallRecord> = rows
        .iter()
        .cycle()
        .take(FREQUENT)
        .enumerate()
        .map(|(i, row)| {
            let mut row = row.clone();
            row.id = format!("{}-F{i:05}", row.id);
            row.caller = FREQUENT_NUMBER.to_owned();
            row
        })
        .collect();
    rows.extend(frequent);
    rows
}

/// What the search must answer, worked out from the rows themselves.
fn expected(rows: &[CallRecord], f: &CallFilter) -> (Vec<String>, u64) {
    let mut hits: Vec<&CallRecord> = rows
        .iter()
        .filter(|c| {
            f.caller
                .as_ref()
                .is_none_or(|d| c.caller.contains(d.as_str()))
        })
        .filter(|c| f.from.as_ref().is_none_or(|t| c.received_at >= *t))
        .filter(|c| f.to.as_ref().is_none_or(|t| c.received_at < *t))
        .collect();
    hits.sort_by(|a, b| (&b.received_at, &b.id).cmp(&(&a.received_at, &a.id)));
    let total = hits.len() as u64;
    let page = hits
        .into_iter()
        .skip(f.offset as usize)
        .take(f.limit as usize)
        .map(|c| c.id.clone())
        .collect();
    (page, total)
}

async fn check(store: &Store, rows: &[CallRecord], f: CallFilter) {
    let (calls, total) = store.search_calls(&f).await.expect("search");
    let found: Vec<String> = calls.into_iter().map(|c| c.id).collect();
    let (want, want_total) = expected(rows, &f);
    assert_eq!(total, want_total, "{f:?}");
    assert_eq!(found, want, "{f:?}");
}

pub async fn searches_by_caller_find_exactly_the_calls_holding_the_digits<H: Harness>(h: &H) {
    let store = h.store(2).await;
    let mut rows = register_rows();
    assert_eq!(
        store.insert_raw_calls(&rows).await.expect("load"),
        rows.len() as u64
    );
    // Calls the way the line writes them, after the load: the index must follow new rows.
    for (id, caller) in [
        ("20261130T120000Z-LIVE0001", "+78112554433"),
        ("20261130T120500Z-LIVE0002", "+7 (8112) 55-44-33"),
    ] {
        let mut live = new_call(id, "2026-11-30T12:00:00Z");
        live.caller = caller.to_owned();
        let report = store
            .apply(&[RegisterWrite::Open(live)])
            .await
            .expect("apply");
        assert_eq!(report.opened, 1);
        rows.push(store.call(id).await.unwrap().unwrap());
    }

    let some_number = rows[700].caller.clone();
    let needles = [
        "7",               // shorter than a trigram: every number
        "79",              // every fabricated number
        "7911",            // a tenth of the callers call again from these
        &some_number,      // one caller's full number: rare
        &some_number[5..], // its last six digits
        "8112000",         // only in the frequent number: common
        FREQUENT_NUMBER,   // the frequent number in full: common
        "55-44",           // not digits alone: always the scan
        "5544",            // not a run in the live caller's number as written
        "8112",            // the live caller's area code, and the frequent number's
        "99999999999",     // nobody
    ];
    for digits in needles {
        for (from, to) in [
            (None, None),
            (
                Some("2026-10-15T00:00:00.000Z".to_owned()),
                Some("2026-11-15T00:00:00.000Z".to_owned()),
            ),
        ] {
            for (limit, offset) in [(50, 0), (20, 35)] {
                let f = CallFilter {
                    caller: Some(digits.to_owned()),
                    from: from.clone(),
                    to: to.clone(),
                    limit,
                    offset,
                    ..CallFilter::default()
                };
                check(&store, &rows, f).await;
            }
        }
    }
    // The rare number's calls, all of them, against the rows that hold it.
    let (calls, total) = store
        .search_calls(&CallFilter {
            caller: Some(some_number.clone()),
            limit: 500,
            ..CallFilter::default()
        })
        .await
        .expect("search");
    assert!(total >= 1, "the number's own call is found");
    assert!(calls.iter().all(|c| c.caller.contains(&some_number)));
    store.close().await;
}
