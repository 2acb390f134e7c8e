//! Fuzz target: the config file reader and resolver over arbitrary text.
//!
//! `RawConfig::parse` then `resolve` must never panic; every error must render to a
//! message, and a config that resolves must render back to TOML (`Config::to_toml`) that reads back the same `Config`.
#![no_main]

use libfuzzer_sys::fuzz_target;

use flowprobe::config::RawConfig;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (raw, errors) = RawConfig::parse_partial(&text, "fuzz.toml");
    for e in &errors {
        let _ = e.to_string();
    }
    match raw.resolve() {
        Ok(config) => {
            let again = config.to_toml();
            let raw2 = RawConfig::parse(&again, "again.toml")
                .unwrap_or_else(|e| panic!("to_toml output does not parse: {e}\n{again}"));
            let config2 = raw2
                .resolve()
                .unwrap_or_else(|e| panic!("to_toml output does not resolve: {e}\n{again}"));
            assert_eq!(
                config, config2,
                "to_toml does not read back the same\n{again}"
            );
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let _ = RawConfig::parse(&text, "fuzz.toml");
});
