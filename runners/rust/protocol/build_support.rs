// Shared by the runners' build scripts (`include!`d): engine version from Cargo.lock,
// rustc version and enabled features, as compile-time env vars.
fn engine_build_env(package: &str) {
    let lock = std::fs::read_to_string("../Cargo.lock").unwrap_or_default();
    let needle = format!("name = \"{package}\"\nversion = \"");
    let version = lock.find(&needle).map(|i| {
        let rest = &lock[i + needle.len()..];
        rest[..rest.find('"').unwrap_or(0)].to_string()
    });
    println!("cargo:rustc-env=ENGINE_VERSION={}", version.unwrap_or_else(|| "unknown".into()));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = std::process::Command::new(rustc).arg("--version").output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    println!("cargo:rustc-env=RUSTC_VERSION={}", text.unwrap_or_default());
    println!("cargo:rerun-if-changed=../Cargo.lock");
}
