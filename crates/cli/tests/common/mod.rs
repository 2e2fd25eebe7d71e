//! What the command-line tests share: the binary under test and a scratch folder per test.

use std::path::PathBuf;
use std::process::Command;

/// The `bandmate` binary this package builds.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bandmate"))
}

/// A fresh folder for one test, named after it and this process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bandmate-cli-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
