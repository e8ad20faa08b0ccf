//! Build script: burn's version (from Cargo.lock) and rustc's, as compile-time env vars.

include!("../protocol/build_support.rs");

fn main() {
    engine_build_env("burn");
}
