//! The Python extension's allocator: mimalloc (see Cargo.toml), and how soon it gives freed memory back to the
//! system.

use std::ffi::{c_int, c_long};

/// The extension allocates with mimalloc; `cargo test` keeps the system's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option for how long freed pages are kept before they go back to the system
/// (`mi_option_purge_delay` of `mi_option_t` in mimalloc.h: the same position in its versions 2 and 3).
const PURGE_DELAY_OPTION: c_int = 15;

/// Milliseconds freed pages are kept before they go back to the system. mimalloc 3 keeps them a second, and the
/// audience stage frees gigabytes at the end of one phase while the next allocates as much: measured at 10M
/// members, a second's delay held about 0.3 GiB more at the peak (6.27 against 5.94-5.96 GiB at 100-250 ms);
/// 250 ms cost about 2.5 s of system time over 65 s of CPU, immediate purging (0) 25 s.
///
/// Transparent huge pages stay on (mimalloc asks for them with `madvise`). Without them (its `no_thp` feature,
/// tried with a 2.5 s delay) the 10M audience run peaked 0.3 GiB lower with 7 s less system time but no faster
/// (45.8-57.2 s against 52.3-54.5 s), care gaps at 1M ran about 10% faster, and identity resolution at 21M
/// records ran 15-25% slower (325-359 s against 256-320 s: its sort, compare and cluster phases index gigabytes
/// at random, which small pages serve with many more TLB misses).
const PURGE_DELAY_MS: c_long = 250;

extern "C" {
    /// mimalloc's `mi_option_set` (linked in with mimalloc itself).
    fn mi_option_set(option: c_int, value: c_long);
}

/// Shorten mimalloc's purge delay to [`PURGE_DELAY_MS`], unless `MIMALLOC_PURGE_DELAY` in the environment sets
/// it. Called once, when the extension module is loaded.
pub fn tune() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: the option is an integer mimalloc reads when it purges; setting it has no other effect. It is
        // set while the module is imported, before any thread of ours allocates.
        unsafe { mi_option_set(PURGE_DELAY_OPTION, PURGE_DELAY_MS) }
    }
}
