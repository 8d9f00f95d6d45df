//! The process-wide async runtime that the synchronous kernels and the Python bindings block on.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .enable_all()
            .thread_name("carelake-io")
            .build()
            .expect("the carelake I/O runtime could not start (no threads available?)")
    })
}

/// Run a future to completion on the shared runtime.
///
/// Must not be called from inside the runtime itself (kernels are synchronous; only the lake layer is async).
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}
