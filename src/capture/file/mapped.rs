//! A regular capture file read through a read-only memory map: the reader walks the
//! kernel's page cache in place, where `read(2)` would copy every byte into the 1 MiB
//! buffer first (about 30% of `convert`'s CPU before this module existed).
//!
//! This is the capture reader's one `unsafe` island. Mapping a file is `unsafe` because
//! the bytes can change or vanish under the map when another process writes to or
//! truncates the file:
//! - Written in place: the reader sees bytes that change between two reads. Every length
//!   and offset is checked against the map's length before use, as for the buffered path,
//!   so changed bytes give wrong packets or a format error, never an access outside the map;
//!   the reader never creates a `&mut` to the map and never assumes two reads agree.
//! - Appended to (a capture still being written): the map covers the length the file had
//!   when it was opened; later packets are not read. `read(2)` would read on to wherever
//!   the end is at that moment, which is as racy; both end with the last whole record or a
//!   `Truncated` error.
//! - Truncated (`logrotate copytruncate`, `> file`), or the disk fails: touching a page
//!   beyond the new end raises SIGBUS, which by default kills the process without a word.
//!   [`Mapped::new`] installs (once per process) a SIGBUS handler that checks whether the
//!   faulting address lies in a map this module registered: if it does, it writes one line
//!   to stderr naming the cause and the byte offset, and exits with status 1 (the runtime
//!   error status) at once; records not yet exported are lost, as in any crash, which the
//!   message says. A fault anywhere else is handed back to the default action (the handler
//!   resets it and returns, so the faulting access repeats and the kernel kills the process
//!   with SIGBUS as before). Reading a file that may be truncated while it is converted
//!   goes through a pipe instead (`cat f.pcap | flowprobe convert /dev/stdin`): non-regular
//!   files always take the `read(2)` path.
//!
//! The handler only reads atomics, formats an integer on its stack, and calls `write(2)`
//! and `_exit(2)`, all async-signal-safe.

// The map, and the SIGBUS handler that makes a truncation under it a clear exit.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

/// Most maps registered for the SIGBUS handler at once. A map that finds no free slot
/// works the same; only a truncation under it would die by the default SIGBUS action.
const SLOTS: usize = 64;

/// `[start, end)` address ranges of the live maps; `start == 0` is a free slot.
static RANGES: [(AtomicUsize, AtomicUsize); SLOTS] =
    [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; SLOTS];

/// Pages behind the cursor are handed back ([`Mapped::release_before`]) in steps of
/// this many bytes (a multiple of every page size Linux uses).
pub(super) const RELEASE_STEP: usize = 8 << 20;

/// A read-only map of a whole regular file.
pub(super) struct Mapped {
    map: memmap2::Mmap,
    /// The slot in [`RANGES`] this map holds, if one was free.
    slot: Option<usize>,
    /// Bytes from the start whose pages were handed back.
    released: usize,
    /// Bytes from the start whose page table entries were filled in ahead of the cursor.
    populated: usize,
}

impl Mapped {
    /// Maps `len` bytes of `file` (its length when opened; `len > 0`), advises sequential
    /// access, and registers the range with the SIGBUS handler.
    pub(super) fn new(file: &File, len: u64) -> io::Result<Mapped> {
        let len = usize::try_from(len).map_err(|_| io::Error::other("file too large to map"))?;
        install_sigbus_handler();
        // SAFETY: the map is read-only and private to this reader, which only ever reads it
        // through `&[u8]` with every index bounds-checked against `len`. What another
        // process can do to the file underneath is covered in the module doc: changed bytes
        // are just bytes (checked like any untrusted input), and a truncation raises
        // SIGBUS, which the handler installed above turns into a clear exit.
        let map = unsafe { memmap2::MmapOptions::new().len(len).map(file)? };
        // Read-ahead in large steps and drop pages behind us sooner; advice only.
        let _ = map.advise(memmap2::Advice::Sequential);
        let slot = register(map.as_ptr() as usize, len);
        let mut mapped = Mapped {
            map,
            slot,
            released: 0,
            populated: 0,
        };
        mapped.populate_ahead(0);
        Ok(mapped)
    }

    /// Fills in the page table entries up to two [`RELEASE_STEP`]s past `offset` with one
    /// `MADV_POPULATE_READ` call, rather than one page fault every 64 KiB (fault-around)
    /// as the reader moves on: in a VM each fault is an exit to the hypervisor. Advice
    /// only: where it fails (kernels before 5.14), pages fault in as they are read.
    pub(super) fn populate_ahead(&mut self, offset: usize) {
        let end = (offset - offset % RELEASE_STEP)
            .saturating_add(2 * RELEASE_STEP)
            .min(self.map.len());
        if end <= self.populated {
            return;
        }
        let start = self.populated.max(offset - offset % RELEASE_STEP);
        if self
            .map
            .advise_range(memmap2::Advice::PopulateRead, start, end - start)
            .is_ok()
        {
            self.populated = end;
        }
    }

    /// Unmaps the pages wholly before `offset` (rounded down to [`RELEASE_STEP`]) from
    /// this process: without it, every page read stays mapped until the end, and the
    /// resident set of a conversion grows to the size of the file (page cache, but counted
    /// as the process's). The reader calls it as its cursor moves on.
    pub(super) fn release_before(&mut self, offset: usize) {
        let end = offset - offset % RELEASE_STEP;
        if end <= self.released {
            return;
        }
        // SAFETY: MADV_DONTNEED on a shared, read-only file mapping drops the page table
        // entries only: the next access (there is none: the reader only moves forward, and
        // `next_packet` takes `&mut self`, so no packet borrowed from before `offset`
        // lives) would fault the same bytes back in from the page cache. No content any
        // reference could see changes.
        let r = unsafe {
            self.map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                self.released,
                end - self.released,
            )
        };
        if r.is_ok() {
            self.released = end;
        }
    }
}

impl Deref for Mapped {
    type Target = [u8];
    #[inline(always)]
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // Unregistered before `map` is unmapped (fields drop after this body).
        if let Some(i) = self.slot {
            if let Some((start, end)) = RANGES.get(i) {
                end.store(0, Ordering::SeqCst);
                start.store(0, Ordering::SeqCst);
            }
        }
    }
}

/// A hint to the CPU to load the cache line at `p`: any address, in the map or not.
#[inline(always)]
pub(super) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 only hints the cache; it never faults or reads into a register,
    // whatever the address. SSE, which it needs, is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

fn register(start: usize, len: usize) -> Option<usize> {
    for (i, (s, e)) in RANGES.iter().enumerate() {
        if s.compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            e.store(start.saturating_add(len), Ordering::SeqCst);
            return Some(i);
        }
    }
    None
}

/// The offset of `addr` in a registered map, if it lies in one.
fn offset_in_a_map(addr: usize) -> Option<usize> {
    RANGES.iter().find_map(|(s, e)| {
        let start = s.load(Ordering::SeqCst);
        let end = e.load(Ordering::SeqCst);
        (start != 0 && (start..end).contains(&addr)).then(|| addr - start)
    })
}

fn install_sigbus_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed `sigaction` is a valid "no flags, empty mask" value; the handler
        // has the three-argument signature SA_SIGINFO requires and is async-signal-safe
        // (module doc). If installing fails, SIGBUS keeps its default action.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                on_sigbus;
            action.sa_sigaction = handler as usize;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}

extern "C" fn on_sigbus(_signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers; si_addr is the
    // faulting address for SIGBUS.
    let addr = unsafe { info.as_ref().map_or(0, |i| i.si_addr() as usize) };
    let Some(offset) = offset_in_a_map(addr) else {
        // Not ours: restore the default action and return; the access faults again and
        // the kernel ends the process with SIGBUS, as without this handler.
        // SAFETY: plain signal(2) call with a valid signal number and SIG_DFL.
        unsafe { libc::signal(libc::SIGBUS, libc::SIG_DFL) };
        return;
    };
    let mut line = [0u8; 256];
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        for &b in bytes {
            if let Some(slot) = line.get_mut(n) {
                *slot = b;
                n += 1;
            }
        }
    };
    put(
        b"flowprobe: the capture file shrank or could not be read while it was being read \
          (SIGBUS at byte ",
    );
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = offset;
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    put(digits.get(i..).unwrap_or_default());
    put(
        b" of its mapping); records not yet exported are lost. Read a file that may be \
          truncated through a pipe (cat FILE | flowprobe convert /dev/stdin)\n",
    );
    // SAFETY: write(2) from a stack buffer of `n` initialised bytes, then _exit(2); both
    // async-signal-safe.
    unsafe {
        libc::write(2, line.as_ptr().cast(), n);
        libc::_exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_registered_while_mapped_and_freed_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.bin");
        std::fs::write(&path, vec![7u8; 10_000]).unwrap();
        let file = File::open(&path).unwrap();
        let m = Mapped::new(&file, 10_000).unwrap();
        let base = m.as_ptr() as usize;
        assert_eq!(m.len(), 10_000);
        assert_eq!(m[9_999], 7);
        assert_eq!(offset_in_a_map(base), Some(0));
        assert_eq!(offset_in_a_map(base + 9_999), Some(9_999));
        assert_eq!(offset_in_a_map(base + 10_000), None);
        drop(m);
        assert_eq!(offset_in_a_map(base), None);
    }

    #[test]
    fn pages_ahead_are_populated_and_pages_behind_released_and_read_back_the_same() {
        let len = 3 * RELEASE_STEP + 100;
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.bin");
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        let mut m = Mapped::new(&file, len as u64).unwrap();
        // Opening fills in the first two steps' page tables; moving on, the next ones.
        assert_eq!(m.populated, 2 * RELEASE_STEP);
        m.populate_ahead(RELEASE_STEP + 7);
        assert_eq!(m.populated, 3 * RELEASE_STEP);
        m.populate_ahead(2 * RELEASE_STEP);
        assert_eq!(m.populated, len, "never past the end");
        assert_eq!(m[..], bytes[..]);
        m.release_before(RELEASE_STEP - 1);
        assert_eq!(m.released, 0, "nothing before a whole step");
        m.release_before(2 * RELEASE_STEP + 5);
        assert_eq!(m.released, 2 * RELEASE_STEP);
        m.release_before(RELEASE_STEP);
        assert_eq!(m.released, 2 * RELEASE_STEP, "never backwards");
        // Released pages fault back in with the file's bytes.
        assert_eq!(m[..], bytes[..]);
    }
}
