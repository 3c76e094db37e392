//! Query parameters and request bodies, read by hand so every bad value is answered with
//! a 400 that names the parameter (axum's own rejections are plain text).
//!
//! Periods: `from`/`to` are RFC 3339 instants or `YYYY-MM-DD` dates, a date meaning the
//! start of that day in the line's zone; `to` is exclusive.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The query string as name → value (the last of repeated names wins).
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> Params {
        Params(pairs.into_iter().collect())
    }

    /// A present, non-empty value (an empty `?caller=` is the same as none: forms send it).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A non-negative integer in `0..=max`, or `default` when absent.
    pub fn uint(&self, name: &'static str, default: u64, max: u64) -> Result<u64, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| ApiError::bad(name, format!("expected an integer 0..={max}"))),
        }
    }

    /// `limit` (1..=500, default 50) and `offset` (default 0).
    pub fn page(&self) -> Result<(u32, u64), ApiError> {
        let limit = self.uint("limit", 50, 500)?;
        if limit == 0 {
            return Err(ApiError::bad("limit", "expected an integer 1..=500"));
        }
        let offset = self.uint("offset", 0, i64::MAX.unsigned_abs())?;
        Ok((u32::try_from(limit).expect("limit <= 500"), offset))
    }

    /// One bound of a period, if given.
    pub fn instant(
        &self,
        name: &'static str,
        zone: &TimeZone,
    ) -> Result<Option<Timestamp>, ApiError> {
        self.get(name)
            .map(|v| parse_bound(name, v, zone))
            .transpose()
    }
}

/// An RFC 3339 instant, or the start of a `YYYY-MM-DD` day in `zone`.
pub fn parse_bound(
    name: &'static str,
    value: &str,
    zone: &TimeZone,
) -> Result<Timestamp, ApiError> {
    if value.len() == 10 {
        let date: Date = value
            .parse()
            .map_err(|_| ApiError::bad(name, "expected YYYY-MM-DD or an RFC 3339 time"))?;
        return date
            .to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .map_err(|_| ApiError::bad(name, "date out of range"));
    }
    value
        .parse::<Timestamp>()
        .map_err(|_| ApiError::bad(name, "expected YYYY-MM-DD or an RFC 3339 time"))
}

/// Parses a JSON body into `T`, naming what was wrong.
pub fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadBody(e.to_string()))
}

/// The peer address of the connection, for the audit log (absent when the router is
/// driven without a socket, as in unit tests).
pub struct Remote(pub Option<SocketAddr>);

impl Remote {
    pub fn text(&self) -> Option<String> {
        self.0.map(|a| a.ip().to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Remote {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Remote(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| *addr),
        ))
    }
}

/// The topics QA may give a call, with the labels the console shows.
pub use crate::model::topic::{is_topic, TOPICS};

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &[(&str, &str)]) -> Params {
        Params::new(
            q.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_date_is_the_start_of_the_day_in_the_zone() {
        let msk = TimeZone::get("Europe/Moscow").unwrap();
        let t = parse_bound("from", "2026-11-24", &msk).unwrap();
        assert_eq!(t.to_string(), "2026-11-23T21:00:00Z");
        let t = parse_bound("from", "2026-11-24T10:00:00+03:00", &msk).unwrap();
        assert_eq!(t.to_string(), "2026-11-24T07:00:00Z");
    }

    #[test]
    fn bad_bounds_name_the_parameter() {
        let msk = TimeZone::get("Europe/Moscow").unwrap();
        let e = parse_bound("to", "2026-13-01", &msk).unwrap_err();
        assert!(e.to_string().contains("`to`"), "{e}");
        assert!(parse_bound("to", "yesterday", &msk).is_err());
        assert!(
            parse_bound("to", "2026-11-24T10:00:00", &msk).is_err(),
            "no offset"
        );
    }

    #[test]
    fn paging_defaults_and_limits() {
        assert_eq!(params(&[]).page().unwrap(), (50, 0));
        assert_eq!(
            params(&[("limit", "500"), ("offset", "7")]).page().unwrap(),
            (500, 7)
        );
        for bad in ["0", "501", "-1", "ten"] {
            let e = params(&[("limit", bad)]).page().unwrap_err();
            assert!(e.to_string().contains("`limit`"), "{bad}: {e}");
        }
    }

    #[test]
    fn empty_values_count_as_absent() {
        assert_eq!(params(&[("caller", "")]).get("caller"), None);
    }
}
