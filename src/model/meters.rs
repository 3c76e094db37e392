//! Subscribers' water meters as the billing system exports them, and the readings handed
//! in for them. The export is a CSV of `account;meter;kind;last_reading` lines (`kind`:
//! `cold` or `hot`); [`parse_meters_csv`] reads it whole or reports every bad line with
//! its number, so an import is all or nothing.

use std::fmt;

/// Cold or hot water.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterKind {
    Cold,
    Hot,
}

impl MeterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MeterKind::Cold => "cold",
            MeterKind::Hot => "hot",
        }
    }

    pub fn parse(text: &str) -> Option<MeterKind> {
        match text {
            "cold" => Some(MeterKind::Cold),
            "hot" => Some(MeterKind::Hot),
            _ => None,
        }
    }
}

/// One meter of one account, with its last reading known to billing (whole m³).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meter {
    pub account: String,
    pub meter: String,
    pub kind: MeterKind,
    pub last_reading: i64,
}

/// A line of the export that cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLineError {
    /// 1-based, as an editor shows it.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for CsvLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Accounts are typed on a phone keypad: digits only, and not too long to key.
const MAX_ACCOUNT_DIGITS: usize = 16;

/// Every meter of the export, in file order; or every bad line. A header line
/// (`account;meter;kind;last_reading`), blank lines and a byte-order mark are allowed.
pub fn parse_meters_csv(text: &str) -> Result<Vec<Meter>, Vec<CsvLineError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut meters = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.trim();
        if raw.is_empty()
            || (line == 1 && raw.eq_ignore_ascii_case("account;meter;kind;last_reading"))
        {
            continue;
        }
        match parse_line(raw) {
            Ok(m) => {
                if !seen.insert((m.account.clone(), m.meter.clone())) {
                    errors.push(CsvLineError {
                        line,
                        reason: format!("meter {} of account {} listed twice", m.meter, m.account),
                    });
                } else {
                    meters.push(m);
                }
            }
            Err(reason) => errors.push(CsvLineError { line, reason }),
        }
    }
    if errors.is_empty() {
        Ok(meters)
    } else {
        Err(errors)
    }
}

fn parse_line(raw: &str) -> Result<Meter, String> {
    let fields: Vec<&str> = raw.split(';').map(str::trim).collect();
    let [account, meter, kind, last] = fields[..] else {
        return Err(format!(
            "expected 4 fields `account;meter;kind;last_reading`, found {}",
            fields.len()
        ));
    };
    if account.is_empty()
        || account.len() > MAX_ACCOUNT_DIGITS
        || !account.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!(
            "account `{account}`: expected 1 to {MAX_ACCOUNT_DIGITS} digits"
        ));
    }
    if meter.is_empty() {
        return Err("meter: must not be empty".to_owned());
    }
    let kind =
        MeterKind::parse(kind).ok_or_else(|| format!("kind `{kind}`: expected cold or hot"))?;
    let last_reading = last
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| format!("last_reading `{last}`: expected a whole number, 0 or more"))?;
    Ok(Meter {
        account: account.to_owned(),
        meter: meter.to_owned(),
        kind,
        last_reading,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_export_in_file_order() {
        let text = "\u{feff}account;meter;kind;last_reading\n1001;A-1;cold;123\n\n1001;A-2;hot;45\n2002;B;cold;0\n";
        let meters = parse_meters_csv(text).unwrap();
        assert_eq!(meters.len(), 3);
        assert_eq!(
            meters[1],
            Meter {
                account: "1001".into(),
                meter: "A-2".into(),
                kind: MeterKind::Hot,
                last_reading: 45
            }
        );
    }

    #[test]
    fn every_bad_line_is_named_by_its_number() {
        let text = "1001;A;cold;1\n10x1;A;cold;1\n1002;A;warm;1\n1003;A;hot;-4\n1004;A;hot\n1001;A;hot;2\n";
        let errors = parse_meters_csv(text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6]);
        assert!(
            errors[1].to_string().contains("line 3: kind `warm`"),
            "{}",
            errors[1]
        );
        assert!(errors[4].reason.contains("listed twice"));
    }
}
