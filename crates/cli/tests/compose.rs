//! The container deployment (`Dockerfile`, `docker-compose.yml`, `deploy/compose/latch.toml`)
//! run as processes: Docker is not available where the tests run, so the compose file is read,
//! and each of its Latch services is started as the `latch` binary under test with the
//! service's own command line, environment and host name and the compose configuration file —
//! on the machine's PostgreSQL (a schema of its own) instead of the `postgres` service, on
//! free loopback ports instead of the published ones, and with `--cloud memory` instead of AWS.
//! What the image adds — the release build (`scripts/release-build`), the distroless base, the
//! non-root user — is not exercised here.
//!
//! The scenario: both servers become ready (probed with the image's HEALTHCHECK command), one
//! leads the scheduler, SIGTERM stops the leader gracefully within the compose file's grace
//! period, and the other takes the scheduler over at once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_yaml_ng::Value;

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("not a list: {v:?}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// `${NAME:-default}` and `${NAME:?message}` as compose expands them, from `vars`.
fn expand(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let inner = &rest[start + 2..end];
        let (name, fallback) = match inner.find([':']) {
            Some(i) if inner[i..].starts_with(":-") => (&inner[..i], Some(&inner[i + 2..])),
            Some(i) => (&inner[..i], None),
            None => (inner, None),
        };
        match vars.iter().find(|(n, _)| *n == name) {
            Some((_, v)) => out.push_str(v),
            None => out.push_str(
                fallback.unwrap_or_else(|| panic!("compose needs {name}, which the test sets")),
            ),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The HEALTHCHECK command of the Dockerfile, as an argument list.
fn healthcheck() -> Vec<String> {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let at = dockerfile
        .find("HEALTHCHECK")
        .expect("the Dockerfile has a HEALTHCHECK");
    let cmd = &dockerfile[at..];
    let json = &cmd[cmd.find("CMD [").unwrap() + 4..=cmd.find(']').unwrap()];
    let args: Vec<String> = serde_json::from_str(json).unwrap();
    assert_eq!(
        args[0], "/usr/local/bin/latch",
        "the image's binary probes itself"
    );
    args
}

struct Server {
    name: String,
    child: Child,
    api: u16,
    metrics: u16,
}

impl Server {
    fn probe(&self, path: &str) -> (bool, String) {
        let mut args = healthcheck();
        let url = args.pop().unwrap();
        assert!(url.starts_with("http://127.0.0.1:8080/"), "{url}");
        let out = Command::new(env!("CARGO_BIN_EXE_latch"))
            .args(&args[1..])
            .arg(format!("http://127.0.0.1:{}{path}", self.api))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Whether `/metrics` says this server leads the scheduler (`None`: no answer).
    fn leads(&self) -> Option<bool> {
        use std::io::{Read as _, Write as _};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.metrics)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        text.starts_with("HTTP/1.1 200")
            .then(|| text.lines().any(|l| l == "latch_scheduler_leader 1"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

#[test]
fn the_compose_deployment_runs_two_servers_that_hand_the_scheduler_over_on_sigterm() {
    let mut compose: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap(),
    )
    .unwrap();
    compose.apply_merge().unwrap();
    let services = compose["services"].as_mapping().unwrap();
    let names: Vec<String> = services
        .iter()
        .filter(|(_, s)| s.get("build").is_some())
        .map(|(k, _)| k.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["latch-a", "latch-b"],
        "two Latch services built from the Dockerfile"
    );
    assert!(services.contains_key("postgres"));

    // One schema of the machine's PostgreSQL stands for the `postgres` service.
    let schema = format!("latch_compose_{}", std::process::id());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(async {
        latch_store::PostgresStore::connect(POSTGRES, Some(&schema))
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (database test)")
    });
    let database = format!("{POSTGRES}?options=-c%20search_path%3D{schema}");

    let dir = tempfile::tempdir().unwrap();
    let config_text = std::fs::read_to_string(repo().join("deploy/compose/latch.toml")).unwrap();
    let mut servers = Vec::new();
    let mut hostnames = Vec::new();
    for name in &names {
        let service = &services[name.as_str()];
        let hostname = service["hostname"].as_str().unwrap().to_owned();
        hostnames.push(hostname.clone());
        // The configuration file is the one the compose file mounts.
        let volumes = strings(&service["volumes"]);
        assert!(
            volumes.contains(&"./deploy/compose/latch.toml:/etc/latch/latch.toml:ro".to_owned()),
            "{volumes:?}"
        );
        let (api, metrics) = (free_port(), free_port());
        let config = dir.path().join(format!("{name}.toml"));
        let moved = config_text
            .replace("0.0.0.0:8080", &format!("127.0.0.1:{api}"))
            .replace("0.0.0.0:9090", &format!("127.0.0.1:{metrics}"));
        assert_ne!(
            moved, config_text,
            "the compose configuration listens on 8080 and 9090"
        );
        std::fs::write(&config, moved).unwrap();
        let vars = [
            ("LATCH_DB_PASSWORD", "unused-by-trust-auth"),
            ("LATCH_CLOUD", "memory"),
        ];
        let command: Vec<String> = strings(&service["command"])
            .iter()
            .map(|a| expand(a, &vars))
            .map(|a| match a.as_str() {
                "/etc/latch/latch.toml" => config.display().to_string(),
                "postgres://latch@postgres:5432/latch" => database.clone(),
                _ => a,
            })
            .collect();
        assert_eq!(command[0], "serve");
        assert!(command.contains(&database), "{command:?}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_latch"));
        child
            .args(&command)
            .current_dir(dir.path())
            .env("HOSTNAME", &hostname)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in service["environment"].as_mapping().unwrap() {
            child.env(k.as_str().unwrap(), expand(v.as_str().unwrap(), &vars));
        }
        servers.push(Server {
            name: name.clone(),
            child: child.spawn().unwrap(),
            api,
            metrics,
        });
    }
    assert_ne!(hostnames[0], hostnames[1], "each server has its own id");

    for s in &servers {
        wait_for(
            &format!("{} ready", s.name),
            Duration::from_secs(60),
            || s.probe("/readyz").0,
        );
        let (ok, text) = s.probe("/healthz");
        assert!(ok && text.starts_with("healthy:"), "{text}");
    }
    wait_for("one leader", Duration::from_secs(30), || {
        servers.iter().filter(|s| s.leads() == Some(true)).count() == 1
    });
    let leader = servers
        .iter()
        .position(|s| s.leads() == Some(true))
        .unwrap();
    let other = 1 - leader;

    // SIGTERM, as `docker compose stop` sends it: a clean exit well within the grace period.
    let grace = services[names[leader].as_str()]["stop_grace_period"]
        .as_str()
        .unwrap()
        .trim_end_matches('s')
        .parse::<u64>()
        .unwrap();
    let pid = servers[leader].child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = servers[leader].child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(grace),
            "{} did not stop within {grace} s of SIGTERM",
            servers[leader].name
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut log = String::new();
    std::io::Read::read_to_string(servers[leader].child.stderr.as_mut().unwrap(), &mut log)
        .unwrap();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| {
            panic!("--log-format json wrote a line that is not JSON ({e}): {line}")
        });
    }
    assert!(log.contains("releasing the scheduler lease"), "{log}");

    // The other server leads at once (the lease was released, not left to lapse).
    let took = wait_for("the other server leading", Duration::from_secs(10), || {
        servers[other].leads() == Some(true)
    });
    assert!(
        took < Duration::from_secs(5),
        "{} took {took:?} to lead",
        servers[other].name
    );
    let (ok, text) = servers[leader].probe("/healthz");
    assert!(!ok && text.starts_with("unhealthy:"), "{text}");
    let (ok, _) = servers[other].probe("/readyz");
    assert!(ok);

    drop(servers);
    rt.block_on(async {
        store
            .execute_raw(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .await
            .unwrap();
    });
}
