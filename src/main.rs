//! The `flowprobe` command (thin: parse the command line, run, map errors to exit codes).

fn main() {
    println!("flowprobe {}", env!("CARGO_PKG_VERSION"));
}
