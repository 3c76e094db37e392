//! Time intervals of a recording, and the set operations on sorted, disjoint lists of them
//! that turn two sides' speech into overtalk and dead air (each a linear merge).

/// `[start_ms, end_ms)` in recording time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    /// Where it starts.
    pub start_ms: u64,
    /// Where it ends (not included); never before `start_ms`.
    pub end_ms: u64,
}

impl Span {
    /// `[start_ms, end_ms)`.
    pub fn new(start_ms: u64, end_ms: u64) -> Span {
        Span {
            start_ms,
            end_ms: end_ms.max(start_ms),
        }
    }

    /// Its length.
    pub fn len(&self) -> u64 {
        self.end_ms - self.start_ms
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sorted, disjoint, non-empty spans covering the same time as `spans` (any order, may
/// overlap or touch).
pub fn normalise(spans: &[Span]) -> Vec<Span> {
    let mut sorted: Vec<Span> = spans.iter().copied().filter(|s| !s.is_empty()).collect();
    sorted.sort();
    let mut out: Vec<Span> = Vec::with_capacity(sorted.len());
    for s in sorted {
        match out.last_mut() {
            Some(last) if s.start_ms <= last.end_ms => last.end_ms = last.end_ms.max(s.end_ms),
            _ => out.push(s),
        }
    }
    out
}

/// `spans` cut to `[0, total_ms)`.
pub fn clip(spans: &[Span], total_ms: u64) -> Vec<Span> {
    spans
        .iter()
        .map(|s| Span::new(s.start_ms.min(total_ms), s.end_ms.min(total_ms)))
        .filter(|s| !s.is_empty())
        .collect()
}

/// Time in both lists.
pub fn intersect(a: &[Span], b: &[Span]) -> Vec<Span> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let start = a[i].start_ms.max(b[j].start_ms);
        let end = a[i].end_ms.min(b[j].end_ms);
        if start < end {
            out.push(Span::new(start, end));
        }
        if a[i].end_ms < b[j].end_ms {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Time in either list.
pub fn union(a: &[Span], b: &[Span]) -> Vec<Span> {
    let mut all = Vec::with_capacity(a.len() + b.len());
    all.extend_from_slice(a);
    all.extend_from_slice(b);
    normalise(&all)
}

/// Time of `[0, total_ms)` in no span of the list.
pub fn complement(spans: &[Span], total_ms: u64) -> Vec<Span> {
    let mut out = Vec::new();
    let mut at = 0;
    for s in spans {
        if s.start_ms > at {
            out.push(Span::new(at, s.start_ms.min(total_ms)));
        }
        at = at.max(s.end_ms);
    }
    if at < total_ms {
        out.push(Span::new(at, total_ms));
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Time the list covers.
pub fn total(spans: &[Span]) -> u64 {
    spans.iter().map(Span::len).sum()
}
