//! `--rotate`: one file a window of export time, complete when it has its name.
//!
//! Offline, export time is packet time: a 10-minute generated capture converted with
//! `--rotate 1m` gives one file per minute that had records, named by the minute's
//! start, each ended (no `.part` left), and together they hold exactly the rows of the
//! same conversion without rotation, in the same order; no record in a window's file
//! ended after the window (a record is exported once it has ended). For Parquet too.
//!
//! A conversion killed (SIGKILL) while it reads leaves every file that has its name
//! byte-identical to the same window's file of the complete run, and at most one `.part`.
//! The capture goes down a FIFO that the test holds open, so the conversion is certainly
//! still running, waiting for input, when it is killed.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_flowprobe");

/// A generated capture whose conversations start over 10 minutes.
fn capture(dir: &Path) -> PathBuf {
    let path = dir.join("ten-minutes.pcap");
    let status = Command::new(EXE)
        .args(["generate", "--conversations", "3000", "--span", "10m", "-o"])
        .arg(&path)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    path
}

fn convert(args: &[&str]) -> String {
    let out = Command::new(EXE)
        .arg("convert")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "convert {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// Converts `pcap` into one file a minute named by `pattern`.
fn convert_by_minute(pcap: &Path, pattern: &Path) {
    convert(&[
        pcap.to_str().unwrap(),
        "-o",
        pattern.to_str().unwrap(),
        "--rotate",
        "1m",
    ]);
}

/// The files of `dir` whose names start with `prefix`, by name.
fn files(dir: &Path, prefix: &str) -> BTreeMap<String, PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            name.starts_with(prefix).then_some((name, p))
        })
        .collect()
}

/// Seconds since the epoch of an RFC 3339 UTC time (`2023-11-14T22:13:23.5Z`), whole.
fn epoch_secs(t: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (Howard Hinnant), as in the probe, written again here.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) as u64
}

#[test]
fn a_file_a_minute_of_packet_time_holds_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = capture(dir.path());
    let whole = dir.path().join("whole.csv");
    convert(&[pcap.to_str().unwrap(), "-o", whole.to_str().unwrap()]);
    let whole = fs::read_to_string(&whole).unwrap();
    let header = whole.lines().next().unwrap();
    let end_col = header.split(',').position(|c| c == "end").unwrap();

    let rotated = dir.path().join("out");
    let pattern = rotated.join("flows-%Y%m%d-%H%M.csv");
    convert_by_minute(&pcap, &pattern);
    let parts = files(&rotated, "");
    assert!(parts.len() >= 10, "one file a minute: {:?}", parts.keys());
    let mut rows = vec![header.to_string()];
    for (name, path) in &parts {
        assert!(!name.ends_with(".part"), "{name} left unfinished");
        // flows-YYYYmmdd-HHMM.csv: the window's start.
        let stamp = &name["flows-".len().."flows-".len() + 13];
        let start = epoch_secs(&format!(
            "{}-{}-{}T{}:{}:00Z",
            &stamp[0..4],
            &stamp[4..6],
            &stamp[6..8],
            &stamp[9..11],
            &stamp[11..13]
        ));
        let text = fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(header), "{name}: the header first");
        let mut n = 0;
        for line in lines {
            let end = line.split(',').nth(end_col).unwrap();
            assert!(
                epoch_secs(end) < start + 60,
                "{name}: a record that ended at {end} is in the window from {start}"
            );
            rows.push(line.to_string());
            n += 1;
        }
        assert!(n > 0, "{name}: a file only for a window with records");
    }
    let whole: Vec<&str> = whole.lines().collect();
    assert_eq!(rows.len(), whole.len(), "the same number of rows");
    assert!(
        rows.iter().zip(&whole).all(|(a, b)| a == b),
        "the same rows in order"
    );

    // Parquet: the same windows, each file complete (its footer's magic at the end).
    let pq = dir.path().join("pq");
    let pattern = pq.join("flows-%Y%m%d-%H%M.parquet");
    convert_by_minute(&pcap, &pattern);
    let pq_files = files(&pq, "");
    let csv_names: Vec<String> = parts
        .keys()
        .map(|n| n.replace(".csv", ".parquet"))
        .collect();
    assert_eq!(pq_files.keys().cloned().collect::<Vec<_>>(), csv_names);
    for path in pq_files.values() {
        let bytes = fs::read(path).unwrap();
        assert!(
            bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"),
            "{path:?}"
        );
    }
}

#[test]
fn a_killed_conversion_leaves_only_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = capture(dir.path());
    for ext in ["csv", "parquet"] {
        let complete = dir.path().join(format!("complete-{ext}"));
        let pattern = complete.join(format!("f-%s.{ext}"));
        convert(&[
            pcap.to_str().unwrap(),
            "-o",
            pattern.to_str().unwrap(),
            "--rotate",
            "1m",
        ]);
        let complete = files(&complete, "f-");

        // The first two thirds of the capture down a FIFO kept open.
        let fifo = dir.path().join(format!("in-{ext}.fifo"));
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let killed = dir.path().join(format!("killed-{ext}"));
        let pattern = killed.join(format!("f-%s.{ext}"));
        let mut child = Command::new(EXE)
            .args(["convert", "--no-progress"])
            .arg(&fifo)
            .arg("-o")
            .arg(&pattern)
            .args(["--rotate", "1m"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let bytes = fs::read(&pcap).unwrap();
        let mut writer = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        writer.write_all(&bytes[..bytes.len() * 2 / 3]).unwrap();
        writer.flush().unwrap();
        // Wait until some windows are closed, then kill it mid-capture.
        let deadline = Instant::now() + Duration::from_secs(30);
        while files(&killed, "f-")
            .keys()
            .filter(|n| !n.ends_with(".part"))
            .count()
            < 3
        {
            assert!(Instant::now() < deadline, "no window closed in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        child.kill().unwrap();
        child.wait().unwrap();
        drop(writer);

        let left = files(&killed, "f-");
        let parts: Vec<&String> = left.keys().filter(|n| n.ends_with(".part")).collect();
        assert!(
            parts.len() <= 1,
            "at most the file being written: {parts:?}"
        );
        let whole: Vec<&String> = left.keys().filter(|n| !n.ends_with(".part")).collect();
        assert!(
            whole.len() >= 3 && whole.len() < complete.len(),
            "{whole:?}"
        );
        for name in whole {
            assert_eq!(
                fs::read(&left[name]).unwrap(),
                fs::read(&complete[name]).unwrap(),
                "{name}: a named file is the complete run's, byte for byte"
            );
        }
    }
}

#[test]
fn bad_rotation_requests_are_usage_errors() {
    for (args, says) in [
        (&["--rotate", "1h"][..], "give -o a pattern"),
        (
            &["--rotate", "1h", "-o", "flows.csv"][..],
            "names of their own",
        ),
        (&["--rotate", "1h", "-o", "flows-%q.csv"][..], "%q"),
        (&["--rotate", "soon", "-o", "f-%s.csv"][..], "--rotate"),
        (&["-f", "parquet"][..], "-o FILE.parquet"),
    ] {
        let out = Command::new(EXE)
            .args([
                "convert",
                concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps/generated-small.pcap"),
            ])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
