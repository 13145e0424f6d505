//! Chooses the dispatch backend: tail calls between instruction handlers in optimised builds on
//! targets where LLVM turns them into jumps (threaded code), a loop otherwise (debug builds would
//! grow the native stack with every instruction).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(keel_tail_dispatch)");
    println!("cargo::rerun-if-changed=build.rs");
    let opt = std::env::var("OPT_LEVEL").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let optimised = matches!(opt.as_str(), "2" | "3" | "s" | "z");
    if optimised && matches!(arch.as_str(), "x86_64" | "aarch64") {
        println!("cargo::rustc-cfg=keel_tail_dispatch");
    }
}
