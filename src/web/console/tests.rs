//! The console's routes as a browser sees them: served over a real loopback socket and read
//! back as raw HTTP/1.1, so status lines and headers are checked byte for byte.

use super::*;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One GET with optional extra header lines; returns (status line, headers lower-cased, body).
async fn get(path: &str, extra: &str) -> (String, Vec<(String, String)>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        axum::serve(listener, router::<()>()).await.expect("serve");
    });
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: console.test\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    server.abort();
    let text = String::from_utf8(raw).expect("utf-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let mut lines = head.lines();
    let status = lines.next().expect("status line").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn root_redirects_to_the_console() {
    let (status, headers, _) = get("/", "").await;
    assert!(status.starts_with("HTTP/1.1 303"), "{status}");
    assert_eq!(header(&headers, "location"), Some("/console/"));
    let (status, headers, _) = get("/console", "").await;
    assert!(status.starts_with("HTTP/1.1 303"), "{status}");
    assert_eq!(header(&headers, "location"), Some("/console/"));
}

#[tokio::test]
async fn the_app_page_is_html_in_russian_and_never_cached_stale() {
    let (status, headers, body) = get("/console/", "").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
    assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
    let csp = header(&headers, "content-security-policy").expect("CSP");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(body.contains("<html lang=\"ru\">"), "{body}");
    assert!(body.contains("src=\"/console/app.js\""));
    assert!(body.contains("href=\"/console/app.css\""));
}

#[tokio::test]
async fn scripts_and_styles_have_their_content_types() {
    let (status, headers, body) = get("/console/app.js", "").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
    assert!(body.contains("import"), "app.js is the module entry");
    let (status, headers, _) = get("/console/app.css", "").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/css; charset=utf-8")
    );
}

#[tokio::test]
async fn an_unchanged_asset_is_revalidated_with_304() {
    let (_, headers, _) = get("/console/app.css", "").await;
    let tag = header(&headers, "etag").expect("etag").to_string();
    let (status, headers, body) =
        get("/console/app.css", &format!("If-None-Match: {tag}\r\n")).await;
    assert!(status.starts_with("HTTP/1.1 304"), "{status}");
    assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
    assert!(body.is_empty());
    let (status, _, _) = get("/console/app.css", "If-None-Match: \"0\"\r\n").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
}

#[tokio::test]
async fn only_embedded_names_are_answered() {
    for path in [
        "/console/nope.js",
        "/console/..%2FCargo.toml",
        "/console/tests.rs",
        "/console/%2e%2e",
    ] {
        let (status, _, _) = get(path, "").await;
        assert!(status.starts_with("HTTP/1.1 404"), "{path}: {status}");
    }
}

#[test]
fn every_module_the_app_imports_is_embedded() {
    for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
        for line in asset.body.lines() {
            let line = line.trim();
            if !(line.starts_with("import ") || line.starts_with("} from ")) {
                continue;
            }
            let Some(start) = line.find("'./") else {
                continue;
            };
            let rest = &line[start + 3..];
            let name = &rest[..rest.find('\'').expect("closing quote")];
            assert!(find(name).is_some(), "{} imports {name}", asset.name);
        }
    }
}

#[test]
fn topic_labels_follow_the_contract() {
    let format = find("format.js").expect("format.js").body;
    for label in [
        "Начисления и оплата",
        "Показания счётчиков",
        "Договор",
        "Техническое подключение",
        "Задолженность",
        "Переадресован в другой отдел",
        "Другое",
    ] {
        assert!(format.contains(label), "{label}");
    }
}

#[test]
fn etags_change_with_content() {
    assert_eq!(etag("a"), etag("a"));
    assert_ne!(etag("a"), etag("b"));
}
