//! `CaptureFile` against tshark, packet by packet: timestamp (ns), captured and original
//! length, interface, on the captures of `../shared/pcaps` whose format is not the plain
//! little-endian microsecond kind: nanosecond and big-endian pcap, pcapng with other
//! resolutions (including 2^-k), several sections or several interfaces.
//!
//! Interface ids restart at 0 in each pcapng section for tshark as for us; the section
//! number is compared too. tshark also lists custom blocks as frames (no interface, no
//! encapsulation): those are not packets and are left out. Simple Packet Blocks have no
//! time (tshark shows 0, we repeat the previous packet's), so a tshark time of 0 is not
//! compared. Clamping is off: times are raw.

use std::path::Path;
use std::process::Command;

use flowprobe::capture::file::{CaptureFile, ReadMode};

const ROOT: &str = "../shared/pcaps";

fn tshark_available() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "tshark is not installed");
        eprintln!("skipped: tshark not installed");
    }
    ok
}

/// tshark's `frame.time_epoch` ("1422527998.578402281", maybe negative) in ns, clamped
/// to the u64 range as the reader clamps; `None` when tshark shows no time.
fn epoch_ns(s: &str) -> Option<u64> {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut frac = frac.to_string();
    frac.truncate(9);
    while frac.len() < 9 {
        frac.push('0');
    }
    let ns = secs.parse::<i128>().ok()? * 1_000_000_000 + frac.parse::<i128>().ok()?;
    let ns = if neg { -ns } else { ns };
    (ns != 0).then(|| ns.clamp(0, i128::from(u64::MAX)) as u64)
}

/// The files to compare, from MANIFEST.tsv.
fn selection() -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (file, format, ifs, notes) = (col("file"), col("format"), col("interfaces"), col("notes"));
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("");
            let plain = matches!(get(format), "pcap-LE-us" | "pcapng(LE,us)" | "snoop");
            let several_ifs = get(ifs).parse::<u32>().is_ok_and(|n| n > 1);
            let readable =
                !get(notes).contains("capinfos") && !get(notes).contains("linktype unsupported");
            let wanted =
                (!plain || several_ifs) && readable && !get(file).starts_with("malformed/");
            wanted.then(|| get(file).to_string())
        })
        .collect()
}

#[test]
fn packets_match_tshark() {
    if !Path::new(ROOT).is_dir() {
        assert!(std::env::var_os("CI").is_none(), "{ROOT} missing");
        eprintln!("skipped: {ROOT} not present");
        return;
    }
    if !tshark_available() {
        return;
    }
    let files = selection();
    assert!(files.len() > 100, "only {} files selected", files.len());
    let (mut packets, mut untimed, mut mismatches) = (0usize, 0usize, Vec::new());
    for rel in &files {
        let path = Path::new(ROOT).join(rel);
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args(["-T", "fields", "-E", "separator=,"])
            .args([
                "-e",
                "frame.interface_id",
                "-e",
                "frame.time_epoch",
                "-e",
                "frame.cap_len",
                "-e",
                "frame.len",
            ])
            .args(["-e", "frame.section_number", "-e", "frame.encap_type"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tshark failed on {rel}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Vec<(u32, Option<u64>, u32, u32, u32)> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                let num = |i: usize| f[i].parse::<u32>().unwrap_or(0);
                // No encapsulation: a custom block shown as a frame, not a packet.
                (!f[5].is_empty()).then(|| (num(0), epoch_ns(f[1]), num(2), num(3), num(4).max(1)))
            })
            .collect();

        // Both ways of reading a file (mapped, `read(2)`) give the same packets.
        let [ours, streamed] = [ReadMode::Auto, ReadMode::Read].map(|mode| {
            let mut reader = CaptureFile::open_with(&path, mode).unwrap();
            assert_eq!(reader.is_mapped(), mode == ReadMode::Auto, "{rel}");
            reader.set_clamp_timestamps(false);
            let mut ours = Vec::new();
            loop {
                let p = match reader.next_packet() {
                    Ok(Some(p)) => (p.interface, p.ts.0, p.data.len() as u32, p.orig_len),
                    Ok(None) => break,
                    Err(e) => panic!("{rel}: {e}"),
                };
                let section = (reader.stats().sections as u32).max(1);
                ours.push((p.0, p.1, p.2, p.3, section));
            }
            ours
        });
        assert_eq!(ours, streamed, "{rel}: mapped and read(2) paths differ");
        if ours.len() != theirs.len() {
            mismatches.push(format!(
                "{rel}: {} packets, tshark {}",
                ours.len(),
                theirs.len()
            ));
            continue;
        }
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            packets += 1;
            let time_ok = t.1.is_none_or(|t| t == o.1);
            untimed += usize::from(t.1.is_none());
            if (o.0, o.2, o.3, o.4) != (t.0, t.2, t.3, t.4) || !time_ok {
                mismatches.push(format!("{rel}: packet {}: ours {o:?}, tshark {t:?}", i + 1));
                break;
            }
        }
    }
    eprintln!(
        "{} files, {packets} packets compared with tshark ({untimed} without a time)",
        files.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
