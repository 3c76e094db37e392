//! A response's status line and header fields, read from bytes (RFC 3261 §7.2, §7.3.1
//! folding, §7.3.3 compact forms), for the client side: the UAC only needs a few header
//! values (Call-ID, CSeq, Via branch, Contact, Expires, Min-Expires, the challenges,
//! Retry-After) and must never panic on what a provider sends.

/// The parts of a response the client reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code (100–699).
    pub status: u16,
    /// The reason phrase as sent.
    pub reason: String,
    /// Header fields in order: canonical lowercase long name, value (folding undone).
    headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// Reads a response; `None` for a request or anything that is not a SIP response.
    pub fn parse(bytes: &[u8]) -> Option<ResponseHead> {
        let start = bytes.iter().position(|&b| b != b'\r' && b != b'\n')?;
        let bytes = &bytes[start..];
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(bytes.len(), |p| p + 2);
        let head = std::str::from_utf8(&bytes[..end]).ok()?;
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let status_line = lines.next()?;
        let rest = status_line.strip_prefix("SIP/2.0 ")?;
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let status: u16 = code.parse().ok().filter(|c| (100..700).contains(c))?;
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((long_name(name.trim()), value.trim().to_string()));
            }
        }
        Some(ResponseHead {
            status,
            reason: reason.to_string(),
            headers,
        })
    }

    /// Every value of a header (given by its long name, any case), comma-joined lists
    /// left as sent.
    pub fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }

    /// A header holding `delta-seconds` (Expires, Min-Expires, Retry-After), parameters and
    /// comments after the number ignored.
    pub fn seconds(&self, name: &str) -> Option<u32> {
        let value = self.value(name)?;
        let digits: String = value
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse().ok()
    }

    /// The CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, &str)> {
        let (number, method) = self.value("cseq")?.trim().split_once(char::is_whitespace)?;
        Some((number.parse().ok()?, method.trim()))
    }

    /// The `branch` parameter of the top Via.
    pub fn top_via_branch(&self) -> Option<&str> {
        let via = self.value("via")?;
        let first = via.split(',').next()?;
        first.split(';').skip(1).find_map(|param| {
            let (name, value) = param.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("branch")
                .then_some(value.trim())
        })
    }

    /// The Contact entries (each `<uri>;params` or a bare URI), across headers and lists.
    pub fn contacts(&self) -> Vec<&str> {
        self.values("contact")
            .flat_map(|v| split_outside_brackets(v, ','))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect()
    }
}

/// The long, lowercase name of a header (RFC 3261 §7.3.3 compact forms expanded).
fn long_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "i" => "call-id",
        "m" => "contact",
        "v" => "via",
        "f" => "from",
        "t" => "to",
        "l" => "content-length",
        "c" => "content-type",
        _ => return lower,
    }
    .to_string()
}

/// Splits at `sep` outside `<…>` and quoted strings.
fn split_outside_brackets(value: &str, sep: char) -> Vec<&str> {
    let (mut parts, mut start, mut angle, mut quoted) = (Vec::new(), 0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            c if c == sep && !angle && !quoted => {
                parts.push(&value[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

/// The `expires` parameter of one Contact entry (after the `>` when bracketed).
pub fn contact_expires(entry: &str) -> Option<u32> {
    let params = match entry.rfind('>') {
        Some(end) => &entry[end + 1..],
        None => entry.split_once(';').map_or("", |(_, p)| p),
    };
    params.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("expires") {
            value.trim().parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_headers_compact_forms_and_folding() {
        let text =
            "SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport=5060\r\n\
                    CSeq: 7 REGISTER\r\nm: <sip:a@10.0.0.1:5060>;expires=120, <sip:b@x>\r\n\
                    Contact: <sip:c@y;lr>;q=0.5;\r\n  expires=60\r\nExpires: 300\r\n\r\n";
        let head = ResponseHead::parse(text.as_bytes()).unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.reason, "OK");
        assert_eq!(head.cseq(), Some((7, "REGISTER")));
        assert_eq!(head.top_via_branch(), Some("z9hG4bKabc"));
        let contacts = head.contacts();
        assert_eq!(contacts.len(), 3);
        assert_eq!(contact_expires(contacts[0]), Some(120));
        assert_eq!(contact_expires(contacts[1]), None);
        assert_eq!(contact_expires(contacts[2]), Some(60));
        assert_eq!(head.seconds("expires"), Some(300));
    }

    #[test]
    fn requests_and_garbage_are_not_responses() {
        assert!(ResponseHead::parse(b"REGISTER sip:x SIP/2.0\r\n\r\n").is_none());
        assert!(ResponseHead::parse(b"SIP/2.0 999 Odd\r\n\r\n").is_none());
        assert!(ResponseHead::parse(b"\xff\xfe").is_none());
        assert!(ResponseHead::parse(b"").is_none());
        assert!(ResponseHead::parse("SIP/2.0 200 ОК\r\nCSeq: x\r\n\r\n".as_bytes()).is_some());
    }
}
