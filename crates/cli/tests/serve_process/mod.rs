//! A `latch serve` process for the tests that run the binary: started in a folder holding its
//! `latch.toml`, waited for until it listens, killed when dropped.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `latch serve`; its stderr goes to `serve.log` in its folder.
pub struct Serve(Child, PathBuf);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `latch serve --config latch.toml` in `dir` with `env`, and wait (up to 30 s) until
/// it listens on 127.0.0.1:`port`; a server that exits first fails the test with its log.
pub fn serve(dir: &Path, port: u16, env: &[(&str, String)]) -> Serve {
    let log = dir.join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_latch"))
        .current_dir(dir)
        .envs(env.iter().cloned())
        .env("RUST_LOG", "info")
        .args(["serve", "--config", "latch.toml"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut s = Serve(child, log);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = s.0.try_wait() {
            panic!(
                "latch serve exited ({status}): {}",
                std::fs::read_to_string(&s.1).unwrap_or_default()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    s
}
