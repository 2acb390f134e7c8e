//! Memory per active flow: fills one cache shard with 1M flows and reports the growth of
//! the process's peak resident set (VmHWM), divided by the flows held.
//!
//! Not a criterion bench (there is nothing to time): run it with
//! `cargo bench --bench memory`. Issue 5 sets the target at 128 bytes a flow at 1M active
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
}
