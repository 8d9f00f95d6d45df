//! Software prefetch: a hint that a loop will read some memory a few iterations from now.
//!
//! Comparing candidate pairs reads the right-hand record of each pair at random among millions (some gigabytes
//! at 10M records), and each read waits on main memory. Asking for the record a few pairs ahead lets those
//! waits overlap with the comparisons in between instead of adding up.

/// Ask the CPU to bring the cache line holding `value` into cache. A hint only: it never faults, and where the
/// target has no stable prefetch instruction it does nothing.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 only loads a cache line; it cannot fault or write, and the pointer comes from a live
    // reference. The instruction is part of SSE, which every x86_64 CPU has.
    unsafe {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
