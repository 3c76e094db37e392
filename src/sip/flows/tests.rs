//! The TCP bounds in simulated time.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use super::*;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

fn limits(max: u32) -> FlowLimits {
    FlowLimits {
        max_per_address: max,
        first_message_within: Duration::from_secs(30),
    }
}

#[test]
fn one_more_than_the_limit_from_an_address_is_refused() {
    let mut flows = TcpFlows::new(limits(3));
    for _ in 0..3 {
        assert_eq!(flows.accept(A), Ok(()));
    }
    assert_eq!(flows.accept(A), Err(FlowRefused::TooManyFromAddress(3)));
    // Another address is not affected.
    assert_eq!(flows.accept(B), Ok(()));
    assert_eq!(flows.open(), 4);
}

#[test]
fn a_closed_connection_frees_its_place_and_an_empty_address_is_forgotten() {
    let mut flows = TcpFlows::new(limits(1));
    assert!(flows.accept(A).is_ok());
    assert!(flows.accept(A).is_err());
    flows.closed(A);
    assert_eq!(flows.addresses(), 0);
    assert!(flows.accept(A).is_ok());
    // A close that was never accepted changes nothing.
    flows.closed(B);
    assert_eq!(flows.open(), 1);
}

#[test]
fn three_thousand_connections_from_one_address_keep_only_the_limit() {
    let mut flows = TcpFlows::new(limits(32));
    let accepted = (0..3000).filter(|_| flows.accept(A).is_ok()).count();
    assert_eq!(accepted, 32);
    assert_eq!(flows.open(), 32);
}

#[test]
fn a_scan_leaves_no_table_behind() {
    let mut flows = TcpFlows::new(limits(2));
    for i in 0..10_000u32 {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        flows.accept(ip).unwrap();
        flows.closed(ip);
    }
    assert_eq!(flows.addresses(), 0);
    assert_eq!(flows.open(), 0);
}

#[test]
fn a_silent_connection_is_closed_after_the_idle_timeout_whatever_trickles_in() {
    let t0 = Instant::now();
    let mut idle = FlowIdle::new(limits(1), t0);
    assert_eq!(idle.deadline(), t0 + Duration::from_secs(30));
    // A byte every few seconds does not keep a connection that never sends SIP.
    idle.on_bytes(t0 + Duration::from_secs(20));
    assert_eq!(idle.deadline(), t0 + Duration::from_secs(30));
}

#[test]
fn a_softphone_flow_stays_while_it_keeps_alive() {
    let t0 = Instant::now();
    let mut idle = FlowIdle::new(limits(1), t0);
    idle.on_message(t0 + Duration::from_secs(1));
    assert!(idle.has_spoken());
    let ka = t0 + Duration::from_secs(1000);
    idle.on_bytes(ka);
    assert_eq!(idle.deadline(), ka + FlowIdle::FLOW_IDLE);
    assert!(FlowIdle::FLOW_IDLE > Duration::from_secs(3600));
}
