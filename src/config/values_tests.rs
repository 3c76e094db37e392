//! Tests of the value parsers: accepted forms and the reasons given for rejected ones.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

#[test]
fn durations() {
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
    assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
    assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
    assert_eq!(
        parse_duration("1h2m3s4ms"),
        Ok(Duration::from_millis(3_723_004))
    );
    assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    assert_eq!(parse_duration(" 5s "), Ok(Duration::from_secs(5)));
}

#[test]
fn bad_durations_say_why() {
    assert_eq!(
        parse_duration("15").unwrap_err(),
        r#""15" has no unit (write e.g. "15s"; units: ms, s, m, h)"#
    );
    assert_eq!(
        parse_duration("-5s").unwrap_err(),
        r#""-5s" is negative; a duration cannot be"#
    );
    for text in ["", "s", "5 s", "1.5s", "5sec", "5d", "m5"] {
        let reason = parse_duration(text).unwrap_err();
        assert!(reason.contains("is not a duration"), "{text:?}: {reason}");
    }
    assert!(parse_duration("30s1m")
        .unwrap_err()
        .contains("largest to smallest"));
    assert!(parse_duration("1s1s")
        .unwrap_err()
        .contains("largest to smallest"));
    assert!(parse_duration("99999999999999999999s").is_err());
    assert!(parse_duration("18446744073709551615h")
        .unwrap_err()
        .contains("too long"));
}

#[test]
fn times_of_day() {
    let at = |h, m, s| Ok(OpeningEnd::At(Time::constant(h, m, s, 0)));
    assert_eq!(parse_time_of_day("08:00"), at(8, 0, 0));
    assert_eq!(parse_time_of_day("00:00"), at(0, 0, 0));
    assert_eq!(parse_time_of_day("17:59:30"), at(17, 59, 30));
    assert_eq!(parse_time_of_day("24:00"), Ok(OpeningEnd::EndOfDay));
    assert_eq!(parse_time_of_day("24:00:00"), Ok(OpeningEnd::EndOfDay));
    for text in [
        "25:00",
        "24:01",
        "8:00",
        "08:60",
        "08",
        "08:00:00:00",
        "ab:cd",
        "+8:00",
        "",
    ] {
        assert_eq!(
            parse_time_of_day(text).unwrap_err(),
            format!("{text:?} is not a time of day (expected HH:MM, 00:00-24:00)")
        );
    }
}

#[test]
fn dates_and_weekdays() {
    assert_eq!(parse_date("2027-01-01"), Ok(jiff::civil::date(2027, 1, 1)));
    for text in [
        "2027-02-30",
        "2027-1-1",
        "01.01.2027",
        "2027-01-01T00:00",
        "",
    ] {
        assert_eq!(
            parse_date(text).unwrap_err(),
            format!("{text:?} is not a valid date (expected YYYY-MM-DD)")
        );
    }
    assert_eq!(parse_weekday("mon"), Ok(Weekday::Monday));
    assert_eq!(parse_weekday("Sunday"), Ok(Weekday::Sunday));
    assert_eq!(parse_weekday("SAT"), Ok(Weekday::Saturday));
    assert!(parse_weekday("mo")
        .unwrap_err()
        .starts_with(r#""mo" is not a weekday"#));
}

#[test]
fn ip_nets() {
    let net = parse_ip_net("10.1.0.0/16").unwrap();
    assert!(net.contains(IpAddr::V4(Ipv4Addr::new(10, 1, 200, 3))));
    assert!(!net.contains(IpAddr::V4(Ipv4Addr::new(10, 2, 0, 1))));
    assert_eq!(net.to_string(), "10.1.0.0/16");

    let host = parse_ip_net("127.0.0.1").unwrap();
    assert_eq!(
        host,
        IpNet {
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            prefix: 32
        }
    );
    assert!(host.contains(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert!(!host.contains(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))));

    let any = parse_ip_net("0.0.0.0/0").unwrap();
    assert!(any.contains(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))));
    assert!(
        !any.contains(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        "IPv4 nets hold no IPv6 address"
    );

    let v6 = parse_ip_net("2001:db8::/32").unwrap();
    assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
    assert!(!v6.contains("2001:db9::5".parse().unwrap()));
    assert!(parse_ip_net("::/0")
        .unwrap()
        .contains("::1".parse().unwrap()));
}

#[test]
fn ipv4_mapped_sources_match_ipv4_nets() {
    let net = parse_ip_net("192.0.2.0/24").unwrap();
    assert!(net.contains("::ffff:192.0.2.7".parse().unwrap()));
    assert!(!net.contains("::ffff:198.51.100.7".parse().unwrap()));
    let mapped = parse_ip_net("::ffff:192.0.2.0/120").unwrap();
    assert!(mapped.contains(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))));
}

#[test]
fn bad_ip_nets_say_why() {
    assert_eq!(
        parse_ip_net("10.0.0.1/8").unwrap_err(),
        r#""10.0.0.1/8" has bits set after the prefix (did you mean "10.0.0.0/8"?)"#
    );
    assert_eq!(
        parse_ip_net("10.0.0.0/33").unwrap_err(),
        r#""10.0.0.0/33": the prefix length is at most 32"#
    );
    for text in ["10.0.0/8", "10.0.0.0/", "10.0.0.0/+8", "localhost", ""] {
        assert!(
            parse_ip_net(text)
                .unwrap_err()
                .contains("is not an address prefix"),
            "{text:?}"
        );
    }
    assert_eq!(IpNet::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 129), None);
}

#[test]
fn port_ranges() {
    let range = parse_port_range("20000-29999").unwrap();
    assert_eq!(
        range,
        PortRange {
            first: 20000,
            last: 29999
        }
    );
    assert_eq!(range.len(), 10000);
    assert!(range.contains(29999) && !range.contains(30000));
    assert_eq!(parse_port_range("10000-10001").unwrap().len(), 2);
    assert!(parse_port_range("20001-29999")
        .unwrap_err()
        .contains("first port must be even"));
    assert!(parse_port_range("20000-20000")
        .unwrap_err()
        .contains("at least two ports"));
    assert!(parse_port_range("30000-20000")
        .unwrap_err()
        .contains("at least two ports"));
    assert!(parse_port_range("0-100").unwrap_err().contains("port 0"));
    for text in ["20000", "20000-70000", "a-b", "-5", "20000--30000"] {
        assert!(
            parse_port_range(text)
                .unwrap_err()
                .contains("is not a port range"),
            "{text:?}"
        );
    }
}

#[test]
fn codecs_and_numbers() {
    assert_eq!(parse_codec("pcmu"), Ok(CodecName::Pcmu));
    assert_eq!(parse_codec("PCMA"), Ok(CodecName::Pcma));
    assert_eq!(CodecName::Pcma.payload_type(), 8);
    assert!(parse_codec("G729")
        .unwrap_err()
        .contains("not a supported codec"));
    assert_eq!(normalize_number("+7 (8112) 79-21-12"), "+78112792112");
    assert_eq!(normalize_number("79.21.12"), "792112");
}
