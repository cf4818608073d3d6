//! Drivers for end-to-end tests: the real `ibasho-sync-server` on 127.0.0.1 with a temp data dir,
//! and real `ibasho` devices, each with its own temp home.

pub mod tile_server;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A built binary of the workspace (`cargo build --bins` first; `scripts/test` does).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // Tests run from target/<profile>/deps, bench binaries from target/<profile>.
    let here = exe.parent().expect("a directory");
    let dir = if here.ends_with("deps") {
        here.parent().expect("target/<profile>")
    } else {
        here
    };
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first (scripts/test does)",
        path.display()
    );
    path
}

/// A running sync server.
pub struct Server {
    /// Its data directory.
    pub data: PathBuf,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Whether it serves TLS (`--tls-cert`).
    pub tls: bool,
    child: Option<Child>,
}

impl Server {
    /// Starts a server on a free loopback port over `data`.
    pub fn start(data: &Path) -> Server {
        Self::start_with(data, &[])
    }

    /// Starts with extra `serve` flags.
    pub fn start_with(data: &Path, flags: &[&str]) -> Server {
        Self::start_on(data, "127.0.0.1:0", flags)
    }

    /// Starts with extra `serve` flags, allowed to open at most `files` files (sockets included).
    pub fn start_with_open_files(data: &Path, flags: &[&str], files: u64) -> Server {
        Self::start_limited(data, "127.0.0.1:0", flags, Some(files))
    }

    /// Starts with extra `serve` flags, logging everything it logs (`RUST_LOG=debug`) to `log`.
    pub fn start_logging_to(data: &Path, flags: &[&str], log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("a log file");
        Self::start_full(data, "127.0.0.1:0", flags, None, Some(file))
    }

    fn start_on(data: &Path, listen: &str, flags: &[&str]) -> Server {
        Self::start_limited(data, listen, flags, None)
    }

    fn start_limited(data: &Path, listen: &str, flags: &[&str], files: Option<u64>) -> Server {
        Self::start_full(data, listen, flags, files, None)
    }

    fn start_full(
        data: &Path,
        listen: &str,
        flags: &[&str],
        files: Option<u64>,
        log: Option<std::fs::File>,
    ) -> Server {
        let mut command = Command::new(bin("ibasho-sync-server"));
        command
            .arg("--data")
            .arg(data)
            .args(["serve", "--listen", listen])
            .args(flags)
            .stdout(Stdio::piped());
        match log {
            Some(file) => command.env("RUST_LOG", "debug").stderr(file),
            None => command.env("RUST_LOG", "warn").stderr(Stdio::inherit()),
        };
        if let Some(files) = files {
            use std::os::unix::process::CommandExt;
            let limit = libc::rlimit {
                rlim_cur: files as libc::rlim_t,
                rlim_max: files as libc::rlim_t,
            };
            // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = command.spawn().expect("starting ibasho-sync-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let listening = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let (addr, tls) = match listening.strip_suffix(" (TLS)") {
            Some(addr) => (addr.to_string(), true),
            None => (listening.to_string(), false),
        };
        Server {
            data: data.to_path_buf(),
            addr,
            tls,
            child: Some(child),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` when it serves TLS.
    pub fn url(&self) -> String {
        if self.tls {
            let port = self.addr.rsplit(':').next().unwrap_or_default();
            format!("https://localhost:{port}")
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// Runs an admin command on the same data directory; returns stdout trimmed.
    pub fn admin(&self, args: &[&str]) -> String {
        admin(&self.data, args)
    }

    /// Creates team `name` in workspace `ws` with the admin CLI; returns its id.
    pub fn team(&self, ws: &str, name: &str) -> String {
        self.admin(&["team", "create", "--workspace", ws, "--name", name])
    }

    /// A single-use invite into workspace `ws` for `role` (and the worker's `team`).
    pub fn invite(&self, ws: &str, role: &str, team: Option<&str>) -> String {
        let mut args = vec!["invite", "--workspace", ws, "--role", role];
        if let Some(team) = team {
            args.extend(["--team", team]);
        }
        self.admin(&args)
    }

    /// A new device that joined workspace `ws` as `role` (and `team`) under the name `person`.
    pub fn join(&self, ws: &str, role: &str, team: Option<&str>, person: &str) -> Device {
        Device::joined(self, &self.invite(ws, role, team), person)
    }

    /// Kills the server with SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.restart_with(&[]);
    }

    /// Starts it again on the same port and data, with `serve` flags.
    pub fn restart_with(&mut self, flags: &[&str]) {
        self.kill9();
        let again = Self::start_on(&self.data, &self.addr.clone(), flags);
        *self = again;
    }

    /// Stops with SIGTERM and waits; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait().unwrap().success()
    }

    /// The value of a counter or gauge from `/metrics`.
    pub fn metric(&self, name: &str) -> u64 {
        let out = Command::new("curl")
            .args(["-sf", &format!("{}/metrics", self.url())])
            .output()
            .expect("curl");
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|rest| rest.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("no metric {name} in {text}"))
    }

    /// Bytes that crossed the server both ways, from its metrics.
    pub fn wire_bytes(&self) -> u64 {
        self.metric("ibasho_bytes_received_total ") + self.metric("ibasho_bytes_sent_total ")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs an admin command of the server binary on `data`; panics on failure.
pub fn admin(data: &Path, args: &[&str]) -> String {
    let out = Command::new(bin("ibasho-sync-server"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A device: the real `ibasho` binary with its own home.
pub struct Device {
    /// Its home directory.
    pub home: tempfile::TempDir,
}

impl Default for Device {
    fn default() -> Self {
        Self::new()
    }
}

impl Device {
    /// A device with an empty home.
    pub fn new() -> Device {
        Device {
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// A device that joined `server` with `invite`.
    pub fn joined(server: &Server, invite: &str, person: &str) -> Device {
        let d = Device::new();
        d.ok(&["join", &server.url(), invite, "--person", person]);
        d
    }

    /// Runs `ibasho ARGS` (English messages).
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(bin("ibasho"))
            .arg("--home")
            .arg(self.home.path())
            .args(args)
            .env("IBASHO_LANG", "en")
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "ibasho {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "ibasho {args:?} should have failed");
        String::from_utf8(out.stderr).unwrap()
    }

    /// Runs and parses stdout as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// `ibasho sync`.
    pub fn sync(&self) {
        self.ok(&["sync"]);
    }

    /// Adds a café; returns its id.
    pub fn add_place(&self, name: &str) -> String {
        self.ok(&[
            "place",
            "add",
            "--name",
            name,
            "--category",
            "cafe",
            "--lat",
            "35.4889",
            "--lon",
            "139.4075",
        ])
        .trim()
        .to_string()
    }

    /// The replica file.
    pub fn replica_file(&self) -> PathBuf {
        self.home.path().join("replica.sqlite3")
    }

    /// Every byte of the replica's files (database and WAL).
    pub fn replica_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(self.home.path()).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("replica.sqlite3")
            {
                bytes.extend(std::fs::read(path).unwrap());
            }
        }
        bytes
    }
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
