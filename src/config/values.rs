//! Typed configuration values and their text forms: durations ("1m30s"), times of day
//! ("08:00", "24:00"), dates, weekday names, address prefixes ("10.0.0.0/8"), RTP port
//! ranges ("20000-29999") and codec names.
//!
//! Parsers return the human reason on failure, quoting the offending text, because the
//! caller adds the file and the key: `file: key: reason`. Nothing here panics on input.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use jiff::civil::{Date, Time, Weekday};

use crate::calendar::OpeningEnd;

/// An IPv4 or IPv6 prefix (CIDR block), such as `192.0.2.0/24` or `2001:db8::/32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNet {
    /// The network address; its host bits are zero.
    pub addr: IpAddr,
    /// The prefix length: 0-32 for IPv4, 0-128 for IPv6.
    pub prefix: u8,
}

impl IpNet {
    /// A prefix, or `None` if `prefix` is too long for the address family or `addr` has
    /// bits set beyond the prefix (a likely typo we refuse rather than guess about).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<IpNet> {
        let net = IpNet { addr, prefix };
        let valid = match addr {
            IpAddr::V4(a) => prefix <= 32 && u32::from(a) & !mask32(prefix) == 0,
            IpAddr::V6(a) => prefix <= 128 && u128::from(a) & !mask128(prefix) == 0,
        };
        valid.then_some(net)
    }

    /// Whether `ip` lies in this prefix. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
    /// what a dual-stack socket reports for an IPv4 peer) matches IPv4 prefixes.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask32(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => in_v6(net, ip, self.prefix),
            (IpAddr::V6(net), IpAddr::V4(ip)) => in_v6(net, ip.to_ipv6_mapped(), self.prefix),
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
    }
}

fn in_v6(net: Ipv6Addr, ip: Ipv6Addr, prefix: u8) -> bool {
    u128::from(ip) & mask128(prefix) == u128::from(net)
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A range of UDP ports for RTP, both ends included. The first port is even (RTP on even
/// ports, RFC 3550 §11) and the range holds at least two ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// The lowest port, even.
    pub first: u16,
    /// The highest port, `>= first + 1`.
    pub last: u16,
}

impl PortRange {
    /// How many ports the range holds.
    pub fn len(&self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    /// Always false: a valid range holds at least two ports.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// The audio codecs the line can offer and accept (G.711, RFC 3551 §4.5.14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodecName {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl CodecName {
    /// The SDP encoding name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CodecName::Pcmu => "PCMU",
            CodecName::Pcma => "PCMA",
        }
    }

    /// The static RTP payload type (RFC 3551 table 4).
    pub fn payload_type(&self) -> u8 {
        match self {
            CodecName::Pcmu => 0,
            CodecName::Pcma => 8,
        }
    }
}

impl fmt::Display for CodecName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const DURATION_HELP: &str =
    "expected a number with a unit, e.g. \"250ms\", \"15s\", \"10m\", \"1h30m\"";

/// Parses "250ms", "15s", "10m", "1h", or descending combinations like "1h30m", "1m30s".
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.starts_with('-') {
        return Err(format!("{text:?} is negative; a duration cannot be"));
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} has no unit (write e.g. \"{s}s\"; units: ms, s, m, h)"
        ));
    }
    let bad = || format!("{text:?} is not a duration ({DURATION_HELP})");
    if s.is_empty() {
        return Err(bad());
    }
    // Units in the order they must appear; each at most once.
    const UNITS: [(&str, u64); 4] = [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let position = UNITS
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(bad)?;
        if position < next_unit {
            return Err(format!(
                "{text:?}: units must go from largest to smallest, each once"
            ));
        }
        next_unit = position + 1;
        total_ms = number
            .checked_mul(UNITS[position].1)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| format!("{text:?} is too long"))?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// The shortest text `parse_duration` reads back as `d` (milliseconds precision).
pub(super) fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// A time of day: "HH:MM" or "HH:MM:SS", from 00:00 up to and including 24:00.
pub(super) fn parse_time_of_day(text: &str) -> Result<OpeningEnd, String> {
    let bad = || format!("{text:?} is not a time of day (expected HH:MM, 00:00-24:00)");
    let parts: Vec<&str> = text.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
        return Err(bad());
    }
    let mut numbers = [0i8; 3];
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        *slot = part.parse().map_err(|_| bad())?;
    }
    let [h, m, sec] = numbers;
    if (h, m, sec) == (24, 0, 0) {
        return Ok(OpeningEnd::EndOfDay);
    }
    Time::new(h, m, sec, 0)
        .map(OpeningEnd::At)
        .map_err(|_| bad())
}

/// A calendar date, "YYYY-MM-DD".
pub(super) fn parse_date(text: &str) -> Result<Date, String> {
    let s = text.trim();
    let shaped = s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-';
    match s.parse::<Date>() {
        Ok(date) if shaped => Ok(date),
        _ => Err(format!(
            "{text:?} is not a valid date (expected YYYY-MM-DD)"
        )),
    }
}

/// A weekday: "mon".."sun" or the full English name, any case.
pub(super) fn parse_weekday(text: &str) -> Result<Weekday, String> {
    const NAMES: [(&str, &str, Weekday); 7] = [
        ("mon", "monday", Weekday::Monday),
        ("tue", "tuesday", Weekday::Tuesday),
        ("wed", "wednesday", Weekday::Wednesday),
        ("thu", "thursday", Weekday::Thursday),
        ("fri", "friday", Weekday::Friday),
        ("sat", "saturday", Weekday::Saturday),
        ("sun", "sunday", Weekday::Sunday),
    ];
    let lower = text.trim().to_ascii_lowercase();
    NAMES
        .iter()
        .find(|(short, long, _)| lower == *short || lower == *long)
        .map(|(_, _, day)| *day)
        .ok_or_else(|| {
            format!("{text:?} is not a weekday (expected mon, tue, wed, thu, fri, sat or sun)")
        })
}

/// "10.0.0.0/8", "2001:db8::/32", or a bare address meaning a single host.
pub(super) fn parse_ip_net(text: &str) -> Result<IpNet, String> {
    let s = text.trim();
    let bad = || format!("{text:?} is not an address prefix (expected e.g. \"192.0.2.0/24\")");
    let (addr, prefix) = match s.split_once('/') {
        Some((addr, prefix)) => {
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let digits_only = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit());
            let prefix: u8 = prefix
                .parse()
                .ok()
                .filter(|_| digits_only)
                .ok_or_else(bad)?;
            (addr, prefix)
        }
        None => {
            let addr: IpAddr = s.parse().map_err(|_| bad())?;
            (addr, if addr.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(format!("{text:?}: the prefix length is at most {max}"));
    }
    IpNet::new(addr, prefix).ok_or_else(|| {
        let net = network_of(addr, prefix);
        format!("{text:?} has bits set after the prefix (did you mean \"{net}/{prefix}\"?)")
    })
}

fn network_of(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a) & mask32(prefix)).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) & mask128(prefix)).into()),
    }
}

/// "20000-29999": an even first port, first <= last, at least two ports.
pub(super) fn parse_port_range(text: &str) -> Result<PortRange, String> {
    let bad =
        || format!("{text:?} is not a port range (expected FIRST-LAST, e.g. \"20000-29999\")");
    let (first, last) = text.trim().split_once('-').ok_or_else(bad)?;
    let port = |s: &str| -> Option<u16> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let (first, last) = (port(first).ok_or_else(bad)?, port(last).ok_or_else(bad)?);
    if first == 0 {
        return Err(format!("{text:?}: port 0 cannot be used"));
    }
    if first % 2 != 0 {
        return Err(format!(
            "{text:?}: the first port must be even (RTP uses even ports)"
        ));
    }
    if last <= first {
        return Err(format!(
            "{text:?}: the range must hold at least two ports, first < last"
        ));
    }
    Ok(PortRange { first, last })
}

/// "PCMU" or "PCMA", any case.
pub(super) fn parse_codec(text: &str) -> Result<CodecName, String> {
    match text.trim().to_ascii_uppercase().as_str() {
        "PCMU" => Ok(CodecName::Pcmu),
        "PCMA" => Ok(CodecName::Pcma),
        _ => Err(format!(
            "{text:?} is not a supported codec (expected \"PCMU\" or \"PCMA\")"
        )),
    }
}

/// Removes the visual separators people write in phone numbers: space, `-`, `(`, `)`, `.`.
pub(super) fn normalize_number(number: &str) -> String {
    number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect()
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;
