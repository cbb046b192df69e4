//! Versions the shared library: on ELF systems its soname is
//! `libgenkit_azure.so.<ABI major>`, so a program linked against it asks
//! for that ABI at run time, and a library of another ABI is never loaded
//! in its place. Cargo names the file `libgenkit_azure.so`; a symlink
//! `libgenkit_azure.so.<N>` next to it (in the profile directory) lets
//! programs built against `target/<profile>` run from there.
//! `ffi/install.sh` (`make install`) installs the usual set of names.

use std::path::{Path, PathBuf};

/// The ABI major, read from `GENKIT_AZURE_ABI_MAJOR` in src/version.rs, so
/// the header's constant and the soname cannot disagree.
fn abi_major() -> u32 {
    let source = std::fs::read_to_string("src/version.rs").expect("read src/version.rs");
    source
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("pub const GENKIT_AZURE_ABI_MAJOR: u32 = ")
        })
        .and_then(|rest| rest.trim_end_matches(';').trim().parse().ok())
        .expect("src/version.rs declares `pub const GENKIT_AZURE_ABI_MAJOR: u32 = N;`")
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/version.rs");
    let major = abi_major();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let elf = matches!(
        os.as_str(),
        "linux"
            | "android"
            | "freebsd"
            | "netbsd"
            | "openbsd"
            | "dragonfly"
            | "illumos"
            | "solaris"
    );
    if !elf {
        return;
    }
    let soname = format!("libgenkit_azure.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    // OUT_DIR is <profile dir>/build/<package>-<hash>/out.
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Some(profile_dir) = out_dir.ancestors().nth(3) {
        link_soname(profile_dir, &soname);
    }
}

/// `<dir>/<soname>` -> `libgenkit_azure.so` (relative, so it may dangle
/// until the library is linked).
fn link_soname(dir: &Path, soname: &str) {
    let link = dir.join(soname);
    let target = Path::new("libgenkit_azure.so");
    if std::fs::read_link(&link).is_ok_and(|t| t == target) {
        return;
    }
    // Made under another name and renamed into place: a program loading
    // the library meanwhile never finds the link missing.
    let temporary = dir.join(format!("{soname}.{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    #[cfg(unix)]
    if let Err(e) = std::os::unix::fs::symlink(target, &temporary)
        .and_then(|()| std::fs::rename(&temporary, &link))
    {
        println!("cargo:warning=cannot create {}: {e}", link.display());
    }
}
