//! Classic BPF capture filters: tcpdump syntax compiled by libpcap, attached by the live
//! sources.
//!
//! Compiling a tcpdump expression needs libpcap's compiler, so `BpfProgram::compile` works
//! only in builds with the `libpcap` feature; without it the call fails with
//! [`LiveError::FilterNeedsLibpcap`], which tells the user what to build. The compiled
//! program is kept as plain instructions (`BpfInsn`, the kernel's `struct sock_filter`
//! layout) so the AF_PACKET source can attach it with `SO_ATTACH_FILTER` to every ring
//! socket, without holding on to any libpcap state.
//!
//! Caveat, as with tcpdump on Linux: the kernel runs the filter on the frame *after* it
//! stripped an 802.1Q tag into metadata, so `vlan 100` does not match such frames, while
//! `udp port 53` matches tagged and untagged frames alike. The program is compiled with
//! the pcap crate's snap length of 65535: an accepted frame is cut there, which only a
//! GRO/BIG TCP super-frame could exceed (see `iface::offloads`).

use super::live::LiveError;

/// Kernel limit on a classic BPF program (`BPF_MAXINSNS` in linux/bpf_common.h).
pub const MAX_INSNS: usize = 4096;

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`
/// (linux/filter.h): `__u16 code; __u8 jt; __u8 jf; __u32 k;`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInsn {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Generic operand.
    pub k: u32,
}

/// A compiled classic BPF program, ready to attach to a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BpfProgram {
    expr: String,
    insns: Vec<BpfInsn>,
}

impl BpfProgram {
    /// A program from hand-written instructions; `expr` only labels it in messages.
    pub fn from_insns(expr: &str, insns: Vec<BpfInsn>) -> Result<BpfProgram, LiveError> {
        if insns.is_empty() || insns.len() > MAX_INSNS {
            return Err(LiveError::FilterCompile {
                expr: expr.to_string(),
                message: format!(
                    "a BPF program has 1 to {MAX_INSNS} instructions, this one has {}",
                    insns.len()
                ),
            });
        }
        Ok(BpfProgram {
            expr: expr.to_string(),
            insns,
        })
    }

    /// Compiles a tcpdump filter expression for frames of LINKTYPE `link_type`
    /// (1 = Ethernet), optimized, as libpcap would for a live capture.
    #[cfg(feature = "libpcap")]
    pub fn compile(expr: &str, link_type: u32) -> Result<BpfProgram, LiveError> {
        let compile_err = |message: String| LiveError::FilterCompile {
            expr: expr.to_string(),
            message,
        };
        let lt = i32::try_from(link_type)
            .map_err(|_| compile_err(format!("link type {link_type} is out of range")))?;
        let dead = pcap::Capture::dead_with_precision(pcap::Linktype(lt), pcap::Precision::Nano)
            .map_err(|e| compile_err(e.to_string()))?;
        let program = dead
            .compile(expr, true)
            .map_err(|e| compile_err(e.to_string()))?;
        let mut insns = Vec::with_capacity(program.get_instructions().len());
        for insn in program.get_instructions() {
            // The pcap crate keeps the instruction's fields private but documents its
            // Display as "code jt jf k"; parsing that keeps this module free of unsafe.
            let text = insn.to_string();
            insns.push(parse_insn(&text).ok_or_else(|| {
                compile_err(format!(
                    "unexpected instruction text {text:?} from the pcap crate"
                ))
            })?);
        }
        BpfProgram::from_insns(expr, insns)
    }

    /// Without libpcap no expression can be compiled: always
    /// [`LiveError::FilterNeedsLibpcap`].
    #[cfg(not(feature = "libpcap"))]
    pub fn compile(expr: &str, _link_type: u32) -> Result<BpfProgram, LiveError> {
        Err(LiveError::FilterNeedsLibpcap {
            expr: expr.to_string(),
        })
    }

    /// The expression this program was compiled from.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The instructions, in the kernel's `struct sock_filter` layout.
    pub fn insns(&self) -> &[BpfInsn] {
        &self.insns
    }
}

/// Parses "code jt jf k" (decimal), the pcap crate's Display of an instruction.
#[cfg_attr(not(feature = "libpcap"), allow(dead_code))]
fn parse_insn(text: &str) -> Option<BpfInsn> {
    let mut it = text.split_ascii_whitespace();
    let insn = BpfInsn {
        code: it.next()?.parse().ok()?,
        jt: it.next()?.parse().ok()?,
        jf: it.next()?.parse().ok()?,
        k: it.next()?.parse().ok()?,
    };
    it.next().is_none().then_some(insn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_instruction_text() {
        // ldh [12] = BPF_LD|BPF_H|BPF_ABS (0x28 = 40), k = 12.
        assert_eq!(
            parse_insn("40 0 0 12"),
            Some(BpfInsn {
                code: 40,
                jt: 0,
                jf: 0,
                k: 12
            })
        );
        assert_eq!(parse_insn("40 0 0"), None);
        assert_eq!(parse_insn("40 0 0 12 1"), None);
        assert_eq!(parse_insn("40 0 300 12"), None);
    }

    #[test]
    fn rejects_empty_and_oversized_programs() {
        assert!(BpfProgram::from_insns("x", Vec::new()).is_err());
        let ret = BpfInsn {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0,
        };
        assert!(BpfProgram::from_insns("x", vec![ret; MAX_INSNS + 1]).is_err());
        assert!(BpfProgram::from_insns("x", vec![ret; MAX_INSNS]).is_ok());
    }

    #[cfg(not(feature = "libpcap"))]
    #[test]
    fn filter_without_libpcap_says_what_to_build() {
        let err = BpfProgram::compile("udp port 53", 1).unwrap_err();
        assert!(matches!(err, LiveError::FilterNeedsLibpcap { .. }));
        assert!(err.to_string().contains("--features libpcap"), "{err}");
    }

    #[cfg(feature = "libpcap")]
    #[test]
    fn compiles_tcpdump_syntax_like_tcpdump_does() {
        // `tcpdump -d ip` on Ethernet: ldh [12]; jeq #0x800 jt 2 jf 3; ret #262144; ret #0
        let p = BpfProgram::compile("ip", 1).unwrap();
        let insns = p.insns();
        assert_eq!(insns.len(), 4);
        assert_eq!(
            insns[0],
            BpfInsn {
                code: 0x28,
                jt: 0,
                jf: 0,
                k: 12
            }
        );
        assert_eq!(
            insns[1],
            BpfInsn {
                code: 0x15,
                jt: 0,
                jf: 1,
                k: 0x800
            }
        );
        assert_eq!(insns[2].code, 0x06);
        assert!(insns[2].k >= 65535);
        assert_eq!(
            insns[3],
            BpfInsn {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: 0
            }
        );
        let err = BpfProgram::compile("udp port", 1).unwrap_err();
        assert!(matches!(err, LiveError::FilterCompile { .. }), "{err}");
    }
}
