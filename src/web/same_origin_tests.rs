//! The same-origin rules, one request at a time.

use axum::http::{HeaderMap, HeaderValue, Method};

use super::*;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.insert(*name, HeaderValue::from_static(value));
    }
    h
}

fn status(method: Method, pairs: &[(&'static str, &'static str)], public: Option<&str>) -> u16 {
    match judge(&method, &headers(pairs), public) {
        Ok(()) => 200,
        Err(e) => e.status().as_u16(),
    }
}

const HOST: (&str, &str) = ("host", "10.1.1.1:8080");
const JSON: (&str, &str) = ("content-type", "application/json; charset=utf-8");
const COOKIE: (&str, &str) = ("cookie", "hotline_session=abc");

#[test]
fn the_console_passes() {
    let ours = ("origin", "http://10.1.1.1:8080");
    assert_eq!(status(Method::PUT, &[HOST, JSON, COOKIE, ours], None), 200);
    let referer = ("referer", "http://10.1.1.1:8080/console/#/calls/X");
    assert_eq!(
        status(Method::POST, &[HOST, JSON, COOKIE, referer], None),
        200
    );
}

#[test]
fn a_cross_site_form_is_refused() {
    let evil = ("origin", "https://evil.example");
    let plain = ("content-type", "text/plain");
    assert_eq!(status(Method::PUT, &[HOST, plain, COOKIE, evil], None), 403);
    assert_eq!(status(Method::PUT, &[HOST, JSON, COOKIE, evil], None), 403);
    assert_eq!(
        status(
            Method::POST,
            &[HOST, JSON, COOKIE, ("origin", "null")],
            None
        ),
        403
    );
    let evil_ref = ("referer", "https://evil.example/page");
    assert_eq!(
        status(Method::DELETE, &[HOST, JSON, COOKIE, evil_ref], None),
        403
    );
    // Same origin but not JSON.
    let ours = ("origin", "http://10.1.1.1:8080");
    assert_eq!(status(Method::PUT, &[HOST, plain, COOKIE, ours], None), 415);
    assert_eq!(status(Method::PUT, &[HOST, COOKIE, ours], None), 415);
}

#[test]
fn a_cookie_needs_an_origin_and_a_bearer_needs_none() {
    assert_eq!(status(Method::POST, &[HOST, JSON, COOKIE], None), 403);
    assert_eq!(
        status(Method::POST, &[HOST, JSON], None),
        200,
        "login: no cookie yet"
    );
    let bearer = ("authorization", "Bearer t0k3n");
    let evil = ("origin", "https://evil.example");
    assert_eq!(status(Method::POST, &[HOST, bearer, evil], None), 200);
    assert_eq!(
        status(Method::GET, &[HOST, COOKIE, evil], None),
        200,
        "reads change nothing"
    );
}

#[test]
fn a_configured_public_origin_replaces_the_host() {
    let public = Some("https://hotline.example.org");
    let proxied_host = ("host", "127.0.0.1:8080");
    let ours = ("origin", "https://Hotline.example.org");
    assert_eq!(
        status(Method::PUT, &[proxied_host, JSON, COOKIE, ours], public),
        200
    );
    let plain_http = ("origin", "http://hotline.example.org");
    assert_eq!(
        status(
            Method::PUT,
            &[proxied_host, JSON, COOKIE, plain_http],
            public
        ),
        403
    );
}
