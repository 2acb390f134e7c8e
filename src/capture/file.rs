//! pcap and pcapng file reader (being written).
