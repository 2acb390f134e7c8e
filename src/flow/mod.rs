//! Flow metering: keys, records, the cache shard that accumulates them, and expiry.

pub mod cache;
pub mod direction;
pub mod fragments;
pub mod key;
pub mod record;
pub mod sampling;
pub mod tunnel;
