//! Building a trigger library for `wasm32-wasip2`, from a test.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

/// Builds the library crate at `manifest_dir` with `cargo build --release
/// --target wasm32-wasip2` and returns the component's bytes. The build
/// goes to `target/wasm-triggers-harness` of the crate's workspace, so it
/// never waits for the lock of the `cargo test` that runs it; cargo's
/// variables for the test (its flags, its target directory) are not
/// passed on.
///
/// ```no_run
/// use std::path::Path;
/// use wasm_triggers_harness::{build_library, Server};
///
/// let code = build_library(Path::new("../my_triggers"))?;
/// Server::start()?.load(&code)?;
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn build_library(manifest_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = workspace_target(manifest_dir).join("wasm-triggers-harness");
    let mut command = Command::new(cargo);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let keep = [
            "CARGO_HOME",
            "CARGO_NET_OFFLINE",
            "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
        ];
        if (name.starts_with("CARGO_") && !keep.contains(&name.as_str()))
            || name.starts_with("RUSTFLAGS")
            || name == "RUSTC_WRAPPER"
        {
            command.env_remove(&name);
        }
    }
    let output = command
        .current_dir(manifest_dir)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .args(["--message-format", "json-render-diagnostics"])
        .arg("--target-dir")
        .arg(&target_dir)
        .output()
        .context("cannot run cargo")?;
    if !output.status.success() {
        bail!(
            "cargo build --release --target wasm32-wasip2 failed in {}:\n{}",
            manifest_dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // The crate's own artifact: the last `.wasm` cargo reports.
    let wasm = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .flat_map(|message| message["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|file| file.as_str().map(str::to_owned))
        .rfind(|file| file.ends_with(".wasm"))
        .context("cargo built no .wasm: is the crate a `cdylib`?")?;
    std::fs::read(&wasm).with_context(|| format!("cannot read {wasm}"))
}

/// The `target` directory of the workspace `manifest_dir` belongs to.
fn workspace_target(manifest_dir: &Path) -> std::path::PathBuf {
    manifest_dir
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").exists())
        .unwrap_or(manifest_dir)
        .join("target")
}
