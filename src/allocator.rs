//! The Python extension's allocator: mimalloc (see Cargo.toml), and how soon it gives freed memory back to the
//! system.

use std::ffi::{c_int, c_long};

/// The extension allocates with mimalloc; `cargo test` keeps the system's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option for how long freed pages are kept before they go back to the system
/// (`mi_option_purge_delay` of `mi_option_t` in mimalloc.h: the same position in its versions 2 and 3).
const PURGE_DELAY_OPTION: c_int = 15;

/// mimalloc's option for asking the system for transparent huge pages (`mi_option_allow_thp` of `mi_option_t`
/// in mimalloc 3's mimalloc.h, the version libmimalloc-sys builds by default; it sits elsewhere in version 2).
/// mimalloc reads it each time it maps memory from the system: memory it maps while the option is off is not
/// advised as huge pages, memory mapped before keeps its advice.
const HUGE_PAGES_OPTION: c_int = 43;

/// Milliseconds freed pages are kept before they go back to the system. mimalloc 3 keeps them a second, and the
/// audience stage frees gigabytes at the end of one phase while the next allocates as much: measured at 10M
/// members, a second's delay held about 0.3 GiB more at the peak (6.27 against 5.94-5.96 GiB at 100-250 ms);
/// 250 ms cost about 2.5 s of system time over 65 s of CPU, immediate purging (0) 25 s.
///
/// Transparent huge pages: see [`tune`] and [`HugePages`].
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

/// Shorten mimalloc's purge delay to [`PURGE_DELAY_MS`] and map memory without transparent huge pages, each
/// unless its `MIMALLOC_` variable in the environment sets it. Called once, when the extension module is loaded.
///
/// Huge pages are off but while identity resolution runs (see [`HugePages`]). Where the kernel gives them only
/// on request (`madvise`, as on this machine), a fault in an advised region zeroes and
/// often first compacts 2 MiB, and a region partly freed stays resident whole. Measured on one 10M-member lake,
/// first runs interleaved (`MIMALLOC_ALLOW_THP`): the audience stage 30.5-33.7 s and a 4.59-4.66 GiB peak
/// without them against 33.0-39.2 s and 5.30-5.41 GiB with them (12-25 s of system time, most of it clearing
/// and compacting huge pages). Earlier, care gaps at 1M ran about 10% faster without them; identity resolution
/// at 21M records ran 15-25% slower (325-359 s against 256-320 s: its sort, compare and cluster phases index
/// gigabytes at random, which small pages serve with many more TLB misses).
pub fn tune() {
    if !set_by_environment("MIMALLOC_PURGE_DELAY") {
        // SAFETY: the option is an integer mimalloc reads when it purges; setting it has no other effect. It is
        // set while the module is imported, before any thread of ours allocates.
        unsafe { mi_option_set(PURGE_DELAY_OPTION, PURGE_DELAY_MS) }
    }
    if !set_by_environment("MIMALLOC_ALLOW_THP") {
        // SAFETY: an integer option mimalloc reads when it maps memory from the system; no other effect.
        unsafe { mi_option_set(HUGE_PAGES_OPTION, 0) }
    }
}

/// Whether the mimalloc option of this environment variable is set there (mimalloc reads it; we then leave it
/// be).
fn set_by_environment(variable: &str) -> bool {
    std::env::var_os(variable).is_some()
}

/// While alive, a mimalloc option holds another value; the value before is restored on drop. Does nothing
/// when the option's variable in the environment sets it.
#[must_use = "the option is restored when this is dropped"]
struct OptionHeld {
    option: c_int,
    previous: Option<c_long>,
}

impl OptionHeld {
    fn hold(option: c_int, variable: &str, value: c_long) -> Self {
        if set_by_environment(variable) {
            return OptionHeld {
                option,
                previous: None,
            };
        }
        // SAFETY: as in `tune`: integer options mimalloc reads when it purges or maps memory.
        let previous = unsafe { mi_option_get(option) };
        unsafe { mi_option_set(option, value) };
        OptionHeld {
            option,
            previous: Some(previous),
        }
    }
}

impl Drop for OptionHeld {
    fn drop(&mut self) {
        if let Some(previous) = self.previous {
            // SAFETY: as in `tune`.
            unsafe { mi_option_set(self.option, previous) }
        }
    }
}

/// While alive, freed pages are kept `ms` milliseconds before they go back to the system; the delay before is
/// restored on drop. Does nothing when `MIMALLOC_PURGE_DELAY` in the environment sets the delay.
#[must_use = "the delay is restored when this is dropped"]
pub struct PurgeDelay {
    _held: OptionHeld,
}

impl PurgeDelay {
    /// Keep freed pages `ms` milliseconds from now until the returned value is dropped.
    pub fn hold(ms: c_long) -> Self {
        PurgeDelay {
            _held: OptionHeld::hold(PURGE_DELAY_OPTION, "MIMALLOC_PURGE_DELAY", ms),
        }
    }
}

/// While alive, memory mapped from the system is advised as transparent huge pages (off otherwise, see
/// [`tune`]); the setting before is restored on drop. Does nothing when `MIMALLOC_ALLOW_THP` in the environment
/// sets it. Identity resolution holds it: its phases index gigabytes at random, and huge pages spare it TLB misses.
#[must_use = "huge pages are turned back off when this is dropped"]
pub struct HugePages {
    _held: OptionHeld,
}

impl HugePages {
    /// Ask for huge pages from now until the returned value is dropped.
    pub fn allow() -> Self {
        HugePages {
            _held: OptionHeld::hold(HUGE_PAGES_OPTION, "MIMALLOC_ALLOW_THP", 1),
        }
    }
}
