//! Measurements, not checks (ignored by default): run with
//! `cargo test --release --test export measure -- --ignored --nocapture`.

use super::helpers::*;
use flowprobe::export::ExportOptions;
#[test]
#[ignore]
fn measure_unpaced_and_paced() {
    let records = synthetic(200_000, 31, true);
    for pacing in [None, Some(4000), Some(20000)] {
        let opts = ExportOptions {
            observation_domain_id: 77,
            pacing,
            ..ExportOptions::default()
        };
        let t = std::time::Instant::now();
        let (msgs, stats) = export_udp("ipfix", &records, &opts);
        eprintln!(
            "pacing {pacing:?}: sent {} received {} errors {} in {:?}",
            stats.messages,
            msgs.len(),
            stats.send_errors,
            t.elapsed()
        );
    }
}
struct Discard;
impl flowprobe::export::transport::Transport for Discard {
    fn send(
        &mut self,
        m: &[u8],
        f: u32,
        _: u32,
        s: &mut flowprobe::export::SinkStats,
    ) -> std::io::Result<()> {
        s.messages += 1;
        s.records += f as u64;
        s.bytes += m.len() as u64;
        Ok(())
    }
    fn finish(&mut self, _: &mut flowprobe::export::SinkStats) -> std::io::Result<()> {
        Ok(())
    }
    fn template_policy(&self) -> flowprobe::export::transport::TemplatePolicy {
        flowprobe::export::transport::TemplatePolicy::Refresh
    }
}
#[test]
#[ignore]
fn measure_encoder() {
    use flowprobe::export::RecordSink;
    let records = synthetic(200_000, 31, true);
    for d in [
        flowprobe::export::template::Dialect::Ipfix,
        flowprobe::export::template::Dialect::NetflowV9,
    ] {
        let mut sink = flowprobe::export::sink::TemplateSink::new(
            d,
            Box::new(Discard),
            &ExportOptions::default(),
        );
        let t = std::time::Instant::now();
        for _ in 0..5 {
            for c in records.chunks(1000) {
                sink.export(
                    c,
                    flowprobe::time::Timestamp::from_secs_nanos(BASE_SECS + 200, 0),
                )
                .unwrap();
            }
        }
        let e = t.elapsed();
        eprintln!(
            "{d:?}: 1M records in {e:?} = {:.1} M records/s, {:?}",
            1.0 / e.as_secs_f64(),
            sink.stats()
        );
    }
}
