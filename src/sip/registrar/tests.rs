//! Bindings in simulated time: expiry at the right instant, un-REGISTER, `Contact: *`,
//! 423, clamping, one binding per operator (Moved), the Call-ID/CSeq rule, queries and
//! account reloads. Assertions are on the SIP responses and the events.

use std::time::{Duration, Instant};

use super::test_support::*;
use super::{BindingEvent, OfflineReason};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn online(op: &str) -> BindingEvent {
    BindingEvent::Online {
        operator: op.into(),
    }
}

fn offline(op: &str, reason: OfflineReason) -> BindingEvent {
    BindingEvent::Offline {
        operator: op.into(),
        reason,
    }
}

/// A registered phone for 101 at t0 with Expires 600.
fn registered(t0: Instant) -> (super::Registrar, Phone) {
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "10.0.0.5:5062");
    let out = phone.login(&mut reg, t0);
    assert_eq!(out.events, [online("101")]);
    (reg, phone)
}

#[test]
fn binding_expires_at_the_right_instant() {
    let t0 = Instant::now();
    let (mut reg, _phone) = registered(t0);
    assert_eq!(reg.poll_timeout(), Some(t0 + secs(600)));
    assert_eq!(
        reg.handle_timeout(t0 + secs(600) - Duration::from_millis(1)),
        []
    );
    assert!(reg.binding("101").is_some());
    assert_eq!(
        reg.handle_timeout(t0 + secs(600)),
        [offline("101", OfflineReason::Expired)]
    );
    assert_eq!((reg.binding("101"), reg.poll_timeout()), (None, None));
    assert_eq!(reg.handle_timeout(t0 + secs(700)), []);
}

#[test]
fn refresh_extends_without_an_event() {
    let t0 = Instant::now();
    let (mut reg, mut phone) = registered(t0);
    let out = phone.login(&mut reg, t0 + secs(100));
    assert_eq!((status(&out), out.events.clone()), (200, vec![]));
    assert_eq!(reg.poll_timeout(), Some(t0 + secs(700)));
    assert_eq!(reg.handle_timeout(t0 + secs(600)), []);
}

#[test]
fn lapsed_binding_is_reported_before_a_late_register() {
    let t0 = Instant::now();
    let (mut reg, mut phone) = registered(t0);
    // Nobody called handle_timeout; the REGISTER (with a stale nonce) reports it.
    let first = phone.prime(&mut reg, t0 + secs(900));
    assert_eq!(status(&first), 401);
    assert_eq!(first.events, [offline("101", OfflineReason::Expired)]);
    let out = phone.send(&mut reg, t0 + secs(900));
    assert_eq!((status(&out), out.events), (200, vec![online("101")]));
}

#[test]
fn expires_zero_unregisters() {
    let t0 = Instant::now();
    let (mut reg, mut phone) = registered(t0);
    phone.expires = Some("0".into());
    let out = phone.login(&mut reg, t0 + secs(5));
    assert_eq!(status(&out), 200);
    assert_eq!(
        header_values(&out.response, "Contact"),
        Vec::<String>::new()
    );
    assert_eq!(out.events, [offline("101", OfflineReason::Unregistered)]);
    assert_eq!((reg.binding("101"), reg.poll_timeout()), (None, None));
}

#[test]
fn contact_expires_param_wins_over_the_header() {
    let t0 = Instant::now();
    let (mut reg, mut phone) = registered(t0);
    phone.contact = Some("<sip:101@10.0.0.5:5062;transport=udp>;expires=0".into());
    let out = phone.login(&mut reg, t0);
    assert_eq!(out.events, [offline("101", OfflineReason::Unregistered)]);

    phone.contact = Some("<sip:101@10.0.0.5:5062;transport=udp>;expires=120".into());
    let out = phone.login(&mut reg, t0);
    assert_eq!(
        header_values(&out.response, "Contact"),
        ["<sip:101@10.0.0.5:5062;transport=udp>;expires=120"]
    );
}

#[test]
fn contact_star_removes_and_needs_expires_zero() {
    let t0 = Instant::now();
    let (mut reg, mut phone) = registered(t0);
    phone.contact = Some("*".into());
    let bad = phone.login(&mut reg, t0);
    assert_eq!(status(&bad), 400);
    assert!(
        reg.binding("101").is_some(),
        "a refused REGISTER changes nothing"
    );

    phone.contact = Some("*, <sip:101@10.0.0.5:5062>".into());
    phone.expires = Some("0".into());
    assert_eq!(status(&phone.login(&mut reg, t0)), 400);

    phone.contact = Some("*".into());
    let out = phone.login(&mut reg, t0);
    assert_eq!(status(&out), 200);
    assert_eq!(out.events, [offline("101", OfflineReason::Unregistered)]);
    assert_eq!(reg.binding("101"), None);
}

#[test]
fn too_brief_expiry_gets_423_with_min_expires() {
    let t0 = Instant::now();
    let (mut reg, mut phone) = registered(t0);
    phone.expires = Some("30".into());
    let out = phone.login(&mut reg, t0 + secs(1));
    assert!(wire(&out.response).starts_with("SIP/2.0 423 Interval Too Brief\r\n"));
    assert_eq!(header_values(&out.response, "Min-Expires"), ["60"]);
    assert!(header_values(&out.response, "To")[0].contains(";tag="));
    assert_eq!(reg.binding("101").unwrap().expires_at, t0 + secs(600));
    assert_eq!(out.events, []);
}

#[test]
fn long_expiry_is_clamped_and_missing_expiry_uses_the_default() {
    let t0 = Instant::now();
    let (mut reg, mut phone) = registered(t0);
    phone.expires = Some("99999999999999999999".into());
    let out = phone.login(&mut reg, t0);
    assert_eq!(
        header_values(&out.response, "Contact"),
        ["<sip:101@10.0.0.5:5062;transport=udp>;expires=3600"]
    );
    phone.expires = None;
    phone.login(&mut reg, t0 + secs(10));
    assert_eq!(reg.binding("101").unwrap().expires_at, t0 + secs(3610));
    phone.expires = Some("soon".into());
    assert_eq!(status(&phone.login(&mut reg, t0)), 400);
}

#[test]
fn new_device_replaces_the_binding() {
    let t0 = Instant::now();
    let (mut reg, old) = registered(t0);
    // The softphone restarted: new port, new Call-ID, new instance.
    let mut new = Phone::new("101", "pw-101", "10.0.0.5:40000");
    new.contact = Some(
        "<sip:101@10.0.0.5:40000;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\""
            .into(),
    );
    let out = new.login(&mut reg, t0 + secs(30));
    assert_eq!(status(&out), 200);
    assert_eq!(
        out.events,
        [BindingEvent::Moved {
            operator: "101".into()
        }]
    );
    assert_eq!(
        header_values(&out.response, "Contact"),
        ["<sip:101@10.0.0.5:40000;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";expires=600"]
    );
    assert_eq!(reg.bindings().count(), 1);
    let b = reg.binding("101").unwrap();
    assert_eq!(b.peer, new.source);
    assert_eq!(
        b.instance.as_deref(),
        Some("<urn:uuid:00000000-0000-1000-8000-000a95a0e128>")
    );
    assert_ne!(b.call_id, old.call_id);

    // The old phone unregistering its own contact does not take the new one offline.
    let mut old = old;
    old.expires = Some("0".into());
    let out = old.login(&mut reg, t0 + secs(31));
    assert_eq!((status(&out), out.events.clone()), (200, vec![]));
    assert_eq!(
        header_values(&out.response, "Contact"),
        ["<sip:101@10.0.0.5:40000;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";expires=599"]
    );
    assert_eq!(reg.binding("101").unwrap().peer, new.source);
}

#[test]
fn several_contacts_keep_one_binding_the_last_live_one() {
    let t0 = Instant::now();
    let (mut reg, mut phone) = registered(t0);
    phone.contact =
        Some("<sip:101@10.0.0.5:5062;transport=udp>;expires=0, <sip:101@192.168.1.20:5062>".into());
    let out = phone.login(&mut reg, t0);
    assert_eq!(
        out.events,
        [BindingEvent::Moved {
            operator: "101".into()
        }]
    );
    assert_eq!(
        header_values(&out.response, "Contact"),
        ["<sip:101@192.168.1.20:5062>;expires=600"]
    );
    assert_eq!(reg.bindings().count(), 1);
}

#[test]
fn same_call_id_needs_a_higher_cseq() {
    let t0 = Instant::now();
    let (mut reg, mut phone) = registered(t0);
    let bound_cseq = reg.binding("101").unwrap().cseq;
    phone.cseq = bound_cseq - 1; // the next REGISTER reuses the bound CSeq
    let out = phone.send(&mut reg, t0 + secs(1));
    assert!(
        wire(&out.response).starts_with("SIP/2.0 500 "),
        "{}",
        wire(&out.response)
    );
    assert_eq!(reg.binding("101").unwrap().expires_at, t0 + secs(600));

    // A different Call-ID is accepted whatever its CSeq.
    phone.call_id = "another@phone".into();
    phone.cseq = 0;
    let out = phone.login(&mut reg, t0 + secs(2));
    assert_eq!(status(&out), 200);
    assert_eq!(reg.binding("101").unwrap().cseq, 1);
}

#[test]
fn register_without_contact_lists_the_binding() {
    let t0 = Instant::now();
    let (mut reg, mut phone) = registered(t0);
    phone.contact = None;
    let out = phone.login(&mut reg, t0 + Duration::from_millis(100_500));
    assert_eq!(status(&out), 200);
    assert_eq!(
        header_values(&out.response, "Contact"),
        ["<sip:101@10.0.0.5:5062;transport=udp>;expires=500"]
    );
    assert_eq!(out.events, []);
    assert_eq!(reg.binding("101").unwrap().expires_at, t0 + secs(600));
}

#[test]
fn removing_an_account_takes_its_operator_offline() {
    let t0 = Instant::now();
    let (mut reg, mut phone) = registered(t0);
    let mut other = Phone::new("103", "pw-103", "10.0.0.8:5062");
    assert_eq!(status(&other.login(&mut reg, t0)), 200);

    let keep: Vec<_> = accounts().into_iter().filter(|a| a.id != "101").collect();
    let events = reg.set_accounts(keep, t0 + secs(5));
    assert_eq!(events, [offline("101", OfflineReason::AccountRemoved)]);
    assert_eq!(reg.binding("101"), None);
    assert!(reg.binding("103").is_some());
    assert_eq!(reg.account("101"), None);
    assert_eq!(reg.stats().bindings, 1);

    let out = phone.login(&mut reg, t0 + secs(6));
    assert_eq!(
        status(&out),
        401,
        "the removed account no longer authenticates"
    );
}

#[test]
fn non_register_is_answered_405() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "10.0.0.5:5062");
    phone.cseq = 1;
    let out = reg.handle_register(&phone.build("OPTIONS"), phone.source, t0);
    assert_eq!(status(&out), 405);
    assert_eq!(header_values(&out.response, "Allow"), ["REGISTER"]);
}

#[test]
fn secrets_never_show_in_debug_output() {
    let t0 = Instant::now();
    let reg = registrar(t0);
    let text = format!("{reg:?} {:?}", accounts());
    assert!(!text.contains("pw-101"), "{text}");
    let md5 = crate::sip::digest::ha1(crate::sip::digest::Algorithm::Md5, "102", REALM, "pw-102");
    assert!(!text.contains(&md5));
    assert!(text.contains("<redacted>"));
}

/// RFC 3261 §10.3 step 8: the 200 lists every current binding as it was registered, so a
/// softphone comparing the Contact it sent with the ones it gets back finds its own.
#[test]
fn the_200_lists_every_binding_as_it_was_registered() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut phone = Phone::new("101", "pw-101", "192.0.2.7:5081");
    let out = phone.login(&mut reg, t0);
    assert_eq!(
        header_values(&out.response, "Contact"),
        ["<sip:101@192.0.2.7:5081;transport=udp>;expires=600"]
    );

    // Display name, URI parameters and header parameters come back as sent; only
    // `expires` is ours (the granted time, last).
    phone.contact = Some(
        "\"Desk 101\" <sip:101@192.0.2.7:5081;transport=udp;ob>;expires=300;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=1"
            .into(),
    );
    let out = phone.login(&mut reg, t0);
    let registered = "\"Desk 101\" <sip:101@192.0.2.7:5081;transport=udp;ob>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=1";
    assert_eq!(
        header_values(&out.response, "Contact"),
        [format!("{registered};expires=300")]
    );

    // A query (no Contact) lists the same binding with the time left.
    phone.contact = None;
    let out = phone.login(&mut reg, t0 + secs(100));
    assert_eq!(
        header_values(&out.response, "Contact"),
        [format!("{registered};expires=200")]
    );

    // The addr-spec form has no room for URI parameters: it comes back in angle brackets.
    phone.contact = Some("sip:101@192.0.2.7:5081;expires=120".into());
    let out = phone.login(&mut reg, t0 + secs(100));
    assert_eq!(
        header_values(&out.response, "Contact"),
        ["<sip:101@192.0.2.7:5081>;expires=120"]
    );

    // `Contact: *` with Expires 0 removes every binding: the 200 lists none, nor does a
    // later query.
    phone.contact = Some("*".into());
    phone.expires = Some("0".into());
    let out = phone.login(&mut reg, t0 + secs(101));
    assert_eq!(status(&out), 200);
    assert_eq!(
        header_values(&out.response, "Contact"),
        Vec::<String>::new()
    );
    phone.contact = None;
    phone.expires = None;
    let out = phone.login(&mut reg, t0 + secs(102));
    assert_eq!(status(&out), 200);
    assert_eq!(
        header_values(&out.response, "Contact"),
        Vec::<String>::new()
    );
}
