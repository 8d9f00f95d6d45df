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

/// Milliseconds freed pages are kept while the care-gap stage runs. Its phases free and allocate a few hundred
/// megabytes at a time (column chunks, decoded batches, per-member tables), so with the default delay much of
/// its memory came fresh from the system, zeroed page by page by the kernel: at 1M members (COL-E and CBP) the
/// kernel's page clearing was a third of the profile's samples. Interleaved runs, two seconds against 250 ms:
/// 2.45-3.7 s against 3.15-4.4 s, system time 0.2-1.6 s against 0.7-3.1 s, peak 1.13-1.22 GiB against
/// 0.80-1.0 GiB (the VM's page clearing varies a lot from run to run).
pub const CARE_GAPS_PURGE_DELAY_MS: c_long = 2_000;

/// Milliseconds freed pages are kept while the audience stage runs. Its phases hand gigabytes from one to the
/// next (member_profile's columns, the xref index, the ledger, the memberships), and pages returned at 250 ms are
/// soon asked for again and zeroed anew by the kernel. First runs at 10M members on one lake (the machine's speed
/// drifts by half from hour to hour, so the system time is the steadier measure): 250 ms 35.9-37.5 s with
/// 7.0-7.3 s of system time and a 5.42-5.44 GiB peak; 500 ms 33.7 s, 5.3 s, 5.46 GiB; one second 32.9-35.1 s,
/// 4.6-4.8 s, 5.48-5.82 GiB; two seconds 4.8 s and 5.66-5.71 GiB. Later, back to back on one build, 500 against
/// 250 ms: 24.9 against 26.8 s, 4.2 against 5.3 s of system time, both 5.4 GiB. 500 ms keeps most of the saving
/// and stays well inside the 6 GiB the stage is held to.
pub const AUDIENCES_PURGE_DELAY_MS: c_long = 500;

extern "C" {
    /// mimalloc's `mi_option_set` (linked in with mimalloc itself).
    fn mi_option_set(option: c_int, value: c_long);
    /// mimalloc's `mi_option_get`.
    fn mi_option_get(option: c_int) -> c_long;
}

/// Shorten mimalloc's purge delay to [`PURGE_DELAY_MS`], unless `MIMALLOC_PURGE_DELAY` in the environment sets
/// it. Called once, when the extension module is loaded.
pub fn tune() {
    if !delay_set_by_environment() {
        // SAFETY: the option is an integer mimalloc reads when it purges; setting it has no other effect. It is
        // set while the module is imported, before any thread of ours allocates.
        unsafe { mi_option_set(PURGE_DELAY_OPTION, PURGE_DELAY_MS) }
    }
}

/// Whether `MIMALLOC_PURGE_DELAY` in the environment sets the delay (mimalloc reads it; we then leave it be).
fn delay_set_by_environment() -> bool {
    std::env::var_os("MIMALLOC_PURGE_DELAY").is_some()
}

/// While alive, freed pages are kept `ms` milliseconds before they go back to the system; the delay before is
/// restored on drop. Does nothing when `MIMALLOC_PURGE_DELAY` in the environment sets the delay.
#[must_use = "the delay is restored when this is dropped"]
pub struct PurgeDelay {
    previous: Option<c_long>,
}

impl PurgeDelay {
    /// Keep freed pages `ms` milliseconds from now until the returned value is dropped.
    pub fn hold(ms: c_long) -> Self {
        if delay_set_by_environment() {
            return PurgeDelay { previous: None };
        }
        // SAFETY: as in `tune`: an integer option mimalloc reads when it purges.
        let previous = unsafe { mi_option_get(PURGE_DELAY_OPTION) };
        unsafe { mi_option_set(PURGE_DELAY_OPTION, ms) };
        PurgeDelay {
            previous: Some(previous),
        }
    }
}

impl Drop for PurgeDelay {
    fn drop(&mut self) {
        if let Some(previous) = self.previous {
            // SAFETY: as in `tune`.
            unsafe { mi_option_set(PURGE_DELAY_OPTION, previous) }
        }
    }
}
