//! "Did you mean" for unknown keys: the known key closest to what was written.
//!
//! Closeness is edit distance (Levenshtein) with `-` read as `_`, plus two habits people
//! bring from other tools and from our own flags: a `_timeout` suffix (`idle_timeout` for
//! `timeouts.idle`) and a prefix of a longer key (`ring` for `ring_block_size`). A key in
//! the right section wins over an equally close one elsewhere.

use super::raw::SECTIONS;

/// The known key most likely meant by `written` in `section` (`None` = top level), as it
/// should be written: the bare key within the same section, `section.key` otherwise.
pub(crate) fn suggest(section: Option<&str>, written: &str) -> Option<String> {
    let written = written.to_ascii_lowercase().replace('-', "_");
    let mut best: Option<(usize, bool, String)> = None;
    let mut consider = |score: Option<usize>, same_section: bool, name: String| {
        let Some(score) = score else { return };
        let better = match &best {
            None => true,
            Some((s, same, _)) => score < *s || (score == *s && same_section && !same),
        };
        if better {
            best = Some((score, same_section, name));
        }
    };
    for (sec, keys) in SECTIONS {
        if section.is_none() {
            consider(closeness(&written, sec), false, sec.to_string());
        }
        for key in *keys {
            let same = section == Some(*sec);
            let name = if same {
                key.to_string()
            } else {
                format!("{sec}.{key}")
            };
            consider(closeness(&written, key), same, name);
        }
    }
    best.map(|(_, _, name)| name)
}

/// The name in `names` closest to `written` (for enum values such as `randm`).
pub(crate) fn closest<'a>(
    written: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let written = written.trim().to_ascii_lowercase().replace('_', "-");
    names
        .into_iter()
        .filter_map(|n| closeness(&written, n).map(|d| (d, n)))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// How far `written` is from `known`; `None` when too far to be a typo.
fn closeness(written: &str, known: &str) -> Option<usize> {
    let stripped = written.strip_suffix("_timeout").unwrap_or(written);
    let d = distance(written, known).min(distance(stripped, known));
    let limit = (known.len() / 3).max(1);
    if d <= limit {
        Some(d)
    } else if written.len() >= 3 && known.starts_with(&format!("{written}_")) {
        Some(limit + 1)
    } else {
        None
    }
}

/// Levenshtein distance over chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }

    #[test]
    fn suggestions() {
        let s = |sec, w| suggest(sec, w);
        assert_eq!(
            s(Some("capture"), "interface").as_deref(),
            Some("interfaces")
        );
        assert_eq!(
            s(Some("capture"), "promiscous").as_deref(),
            Some("promiscuous")
        );
        assert_eq!(s(Some("cache"), "max-flows").as_deref(), Some("max_flows"));
        assert_eq!(
            s(Some("timeouts"), "active_timeout").as_deref(),
            Some("active")
        );
        assert_eq!(
            s(Some("capture"), "idle_timeout").as_deref(),
            Some("timeouts.idle")
        );
        assert_eq!(
            s(Some("capture"), "ring").as_deref(),
            Some("ring_block_size")
        );
        assert_eq!(s(None, "timeout").as_deref(), Some("timeouts"));
        assert_eq!(s(None, "idle").as_deref(), Some("timeouts.idle"));
        assert_eq!(s(Some("export"), "colector").as_deref(), Some("collectors"));
        assert_eq!(s(Some("capture"), "zzzzzz"), None);
        assert_eq!(closest("randm", ["none", "random"]), Some("random"));
        assert_eq!(
            closest("af_packet", ["af-packet", "libpcap"]),
            Some("af-packet")
        );
        assert_eq!(closest("sflow", ["none", "random"]), None);
    }
}
