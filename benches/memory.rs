//! Memory per active flow: fills one cache shard with 1M flows and reports the growth of
//! the process's peak resident set (VmHWM), divided by the flows held.
//!
//! Not a criterion bench (there is nothing to time): run it with
//! `cargo bench --bench memory` (and `cargo bench --bench memory -- inspect` for the
//! payload inspection table's bytes a connection, `-- shape` for the cache with
//! `--inspect tcp,splt`, `-- tcp` for the TCP analysis table). Issue 5 sets the target at 128 bytes a flow at 1M active
//! flows. The shard is created with the default `max_flows` (1,048,576), as `convert`
//! does, and the flows are the benches' traffic mix.

use flowprobe::decode::PacketMeta;
use flowprobe::flow::cache::{CacheConfig, FlowCache};
use flowprobe::flow::key::FlowKey;
use flowprobe::flow::record::FlowRecord;

mod support;
use support::{flow_meta, proc_status_kb, T0};

fn main() {
    // `cargo bench` passes `--bench`; any number given sets the flow count.
    let flows: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    // `cargo bench --bench memory -- inspect`: the inspection table instead (a process
    // of its own, so the cache's freed pages do not hide its growth).
    if std::env::args().any(|a| a == "inspect") {
        inspect_memory(flows);
    } else if std::env::args().any(|a| a == "shape") {
        shape_memory(flows);
    } else if std::env::args().any(|a| a == "tcp") {
        tcp_memory(flows);
    } else {
        cache_memory(flows);
    }
}

/// The flow cache's bytes a flow with `--inspect tcp,splt`: the shape side table
/// (`inspect::splt::Shape`) and each record's `splt` sequence (10 packets), beside the
/// slot. Run with `cargo bench --bench memory -- shape`.
fn shape_memory(flows: u32) {
    use flowprobe::inspect::splt::ShapeConfig;
    let before_kb = proc_status_kb("VmHWM");
    let mut cache = FlowCache::new(CacheConfig {
        shape: Some(ShapeConfig { splt_packets: 10 }),
        ..CacheConfig::default()
    });
    let mut meta = PacketMeta::default();
    let mut out = Vec::new();
    let mut ts = T0;
    for i in 0..flows {
        flow_meta(i, &mut meta);
        meta.payload = 100;
        cache.meter(&meta, ts, &mut out);
        ts.0 += 100;
    }
    assert_eq!(cache.len(), flows as usize);
    let after_kb = proc_status_kb("VmHWM");
    let per_flow = (after_kb - before_kb) as f64 * 1024.0 / f64::from(flows);
    println!("flow cache with shapes (--inspect tcp,splt, splt_packets 10), {flows} flows:");
    println!("  peak RSS per flow:       {per_flow:.1} bytes (slot, table and shape)");
    std::hint::black_box(&cache);
}

/// The TCP analysis table's bytes a connection (`--inspect tcp`): `flows` connections
/// whose SYN was seen. Run with `cargo bench --bench memory -- tcp`.
fn tcp_memory(flows: u32) {
    use flowprobe::inspect::tcp::TcpAnalyzer;
    use flowprobe::time::Timestamp;
    let before_kb = proc_status_kb("VmRSS");
    let mut analyzer = TcpAnalyzer::new();
    let mut meta = PacketMeta::default();
    // A SYN's header: MSS, SACK-permitted, timestamps, window scale.
    let mut header = vec![0u8; 40];
    header[12] = 0xa0;
    header[13] = 0x02;
    header[14..16].copy_from_slice(&64240u16.to_be_bytes());
    header[20..40].copy_from_slice(&[
        2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ]);
    for i in 0..flows {
        flow_meta(i, &mut meta);
        meta.key.proto = 6;
        header[4..8].copy_from_slice(&i.to_be_bytes());
        analyzer.packet(&meta.key, Timestamp(T0.0 + u64::from(i)), &header, 0);
    }
    let after_kb = proc_status_kb("VmRSS");
    assert_eq!(analyzer.connections(), flows as usize);
    let per = (after_kb - before_kb) as f64 * 1024.0 / f64::from(flows);
    println!("TCP analysis table, {flows} connections (--inspect tcp):");
    println!("  after their SYN:         {per:.1} bytes a connection (RSS)");
    std::hint::black_box(&analyzer);
}

/// The flow cache's bytes a flow.
fn cache_memory(flows: u32) {
    let before_kb = proc_status_kb("VmHWM");
    let mut cache = FlowCache::new(CacheConfig::default());
    let mut meta = PacketMeta::default();
    let mut out = Vec::new();
    let mut ts = T0;
    for i in 0..flows {
        flow_meta(i, &mut meta);
        cache.meter(&meta, ts, &mut out);
        ts.0 += 100;
    }
    assert_eq!(cache.len(), flows as usize);
    assert!(out.is_empty());
    let after_kb = proc_status_kb("VmHWM");
    let rss_kb = proc_status_kb("VmRSS");
    let per_flow = (after_kb - before_kb) as f64 * 1024.0 / f64::from(flows);
    println!("flows held:              {flows}");
    println!("peak RSS before filling: {before_kb} kB");
    println!("peak RSS after filling:  {after_kb} kB (RSS now {rss_kb} kB)");
    println!("peak RSS per flow:       {per_flow:.1} bytes (target <= 128)");
    println!(
        "for scale: size_of FlowRecord {} bytes, FlowKey {} bytes",
        std::mem::size_of::<FlowRecord>(),
        std::mem::size_of::<FlowKey>()
    );
    std::hint::black_box(&cache);
    drop(cache);
}

/// The inspection table's bytes a connection (`--inspect all`), beside the cache's:
/// `flows` TCP connections whose SYN was seen (each under inspection, waiting for its
/// first payload), then the same after each showed a TLS ClientHello (inspection ended
/// in the client's direction; the server's still waits).
fn inspect_memory(flows: u32) {
    use flowprobe::decode::{decode_payload, Decap};
    use flowprobe::inspect::{InspectConfig, Inspector, ProtocolSet};
    use flowprobe::time::Timestamp;

    let frame = |i: u32, flags: u8, seq: u32, payload: &[u8]| {
        let total = (40 + payload.len()) as u16;
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[198, 18, (i >> 8) as u8, i as u8]);
        p.extend_from_slice(&[198, 19, 0, 1]);
        p.extend_from_slice(&((i >> 16) as u16 | 1024).to_be_bytes());
        p.extend_from_slice(&443u16.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        p
    };
    // A ClientHello record with a server name (what browsers send, less the padding).
    let hello: Vec<u8> = {
        let sni = b"flows.example.com";
        let mut ext = Vec::new();
        ext.extend_from_slice(&[0, 0]);
        ext.extend_from_slice(&((sni.len() + 5) as u16).to_be_bytes());
        ext.extend_from_slice(&((sni.len() + 3) as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        ext.extend_from_slice(sni);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut msg = vec![1, 0];
        msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
        msg.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        rec.extend_from_slice(&msg);
        rec
    };
    let config = InspectConfig {
        protocols: ProtocolSet::all(),
        ..InspectConfig::default()
    };
    let mut inspector = Inspector::new(config);
    let mut meta = PacketMeta::default();
    let mut feed = |inspector: &mut Inspector, f: &[u8]| {
        let t = decode_payload(101, f, f.len() as u32, &Decap::NONE, &mut meta).unwrap();
        inspector.inspect(&meta, f, &t, Timestamp(T0.0 + 1))
    };
    let before_kb = proc_status_kb("VmRSS");
    for i in 0..flows {
        feed(&mut inspector, &frame(i, 0x02, 1000, &[]));
    }
    let syn_kb = proc_status_kb("VmRSS");
    let mut found = 0u32;
    for i in 0..flows {
        found += u32::from(feed(&mut inspector, &frame(i, 0x10, 1001, &hello)).is_some());
    }
    let hello_kb = proc_status_kb("VmRSS");
    assert_eq!(inspector.len(), flows as usize);
    assert_eq!(found, flows);
    let per = |kb: u64| (kb - before_kb) as f64 * 1024.0 / f64::from(flows);
    println!("inspection table, {flows} TCP connections (--inspect all):");
    println!(
        "  after their SYN:          {:.1} bytes a connection (RSS)",
        per(syn_kb)
    );
    println!(
        "  after their ClientHello:  {:.1} bytes a connection (RSS)",
        per(hello_kb)
    );
    std::hint::black_box(&inspector);
}
