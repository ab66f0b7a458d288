//! Reading CloudTrail: identity types, mapping exceptions, denials, gzip and plain files,
//! windows, bad files, and the generator → disk → parser round trip.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::path::{Path, PathBuf};

use latch_trail::fs::{load_dir, write_generated, LoadOptions, OnBadFile, TrailError};
use latch_trail::generate::{Activity, Options};
use latch_trail::{parse_log, Date, PrincipalKind, Timestamp, UsageTable, Window};

const A: &str = "111122223333";
const DEPLOY: &str = "arn:aws:iam::111122223333:role/ci/deploy";
const SSO: &str =
    "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail")
}

fn fixture_file() -> PathBuf {
    fixture_dir().join(
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/30/111122223333_CloudTrail_us-east-1_20260330T0915Z_fixture000000001.json",
    )
}

fn fixture_table(window: Window) -> UsageTable {
    parse_log(&std::fs::read(fixture_file()).unwrap(), &window).unwrap()
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

#[test]
fn every_identity_type_is_attributed_or_counted() {
    let u = fixture_table(Window::all());
    assert_eq!(u.events, 13);

    let alice = u
        .principal("arn:aws:iam::111122223333:user/people/alice")
        .unwrap();
    assert_eq!(alice.kind, PrincipalKind::User);
    assert_eq!(alice.action("iam:ListUsers").unwrap().count, 1);

    // Sessions build-1..5 and `old` are all the one role, with its path from the issuer.
    let deploy = u.principal(DEPLOY).unwrap();
    assert_eq!(deploy.kind, PrincipalKind::Role);
    assert!(deploy.sessions.is_empty(), "role sessions are not people");
    assert_eq!(
        deploy
            .actions
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        vec![
            "ec2:DescribeInstances",
            "ec2:RunInstances",
            "lambda:UpdateFunctionCode",
            "s3:GetObject",
            "s3:ListAllMyBuckets",
            "s3:ListBucket",
        ]
    );

    let root = u.principal("arn:aws:iam::111122223333:root").unwrap();
    assert_eq!(root.kind, PrincipalKind::Root);
    assert_eq!(root.sign_ins, 1);
    assert!(
        root.actions.is_empty(),
        "console sign-in is not an IAM action"
    );
    assert_eq!(root.last_activity, Some(t("2026-03-30T09:07:00Z")));

    let sso = u.principal(SSO).unwrap();
    assert_eq!(sso.kind, PrincipalKind::IdentityCenterRole);
    assert_eq!(
        sso.sessions.keys().map(String::as_str).collect::<Vec<_>>(),
        vec!["alice@example.com", "bob@example.com"]
    );
    assert_eq!(
        sso.sessions["alice@example.com"].actions["cloudwatch:PutMetricAlarm"].count,
        1
    );
    assert_eq!(
        sso.sessions["bob@example.com"].actions["iam:CreateUser"].denied,
        1
    );

    let broker = u
        .principal("arn:aws:iam::111122223333:user/broker")
        .unwrap();
    assert_eq!(broker.kind, PrincipalKind::User);
    assert!(broker.sessions.contains_key("bob"));
    assert_eq!(broker.action("sts:GetCallerIdentity").unwrap().count, 1);

    assert_eq!(u.other.aws_service, 1);
    assert_eq!(u.other.unattributed.get("SAMLUser"), Some(&1));
    assert!(u.other.unmapped_sources.is_empty());
}

#[test]
fn event_names_map_to_iam_actions() {
    let u = fixture_table(Window::all());
    // ListObjects needs s3:ListBucket; ListBuckets needs s3:ListAllMyBuckets.
    assert!(u.last_used(DEPLOY, "s3:ListBucket").is_some());
    assert!(u.last_used(DEPLOY, "s3:ListAllMyBuckets").is_some());
    // Lambda's versioned event name.
    assert!(u.last_used(DEPLOY, "lambda:UpdateFunctionCode").is_some());
    // CloudWatch logs as `monitoring`.
    assert!(u.last_used(SSO, "cloudwatch:PutMetricAlarm").is_some());
    // An escaped event name is decoded.
    assert!(u.last_used(DEPLOY, "ec2:DescribeInstances").is_some());
    assert_eq!(
        u.services_used(A).into_iter().collect::<Vec<_>>(),
        vec!["cloudwatch", "ec2", "iam", "lambda", "s3", "sts"]
    );
}

#[test]
fn denied_attempts_are_counted_apart_from_use() {
    let u = fixture_table(Window::all());
    let run = u.action(DEPLOY, "ec2:RunInstances").unwrap();
    assert_eq!((run.count, run.denied), (0, 1));
    assert_eq!(run.last_seen, None, "a denied attempt is not use");
    assert_eq!(run.last_denied, Some(t("2026-03-30T09:12:00Z")));
    // An error that is not a denial is an authorised call.
    let get = u.action(DEPLOY, "s3:GetObject").unwrap();
    assert_eq!((get.count, get.errors, get.denied), (1, 1, 0));
    let denied: Vec<(&str, &str)> = u.denied().map(|(p, a, _)| (p, a)).collect();
    assert_eq!(
        denied,
        vec![(SSO, "iam:CreateUser"), (DEPLOY, "ec2:RunInstances")],
        "sorted by ARN"
    );
    // Denied attempts still show the identity is alive.
    assert_eq!(u.last_activity(DEPLOY), Some(t("2026-03-30T09:15:00Z")));
}

#[test]
fn window_filters_events() {
    let w = Window {
        since: Some(t("2026-03-15T00:00:00Z")),
        until: None,
    };
    let u = fixture_table(w);
    assert_eq!(u.events, 12);
    assert_eq!(u.last_used(DEPLOY, "s3:ListAllMyBuckets"), None);
    let w = Window {
        since: None,
        until: Some(t("2026-03-30T09:06:00Z")),
    };
    let u = fixture_table(w);
    assert_eq!(u.events, 3, "until is exclusive");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn put(root: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn reads_gzip_and_plain_files_and_skips_digests() {
    let dir = tempfile::tempdir().unwrap();
    let json = std::fs::read(fixture_file()).unwrap();
    let day = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/30";
    put(dir.path(), &format!("{day}/a.json"), &json);
    put(dir.path(), &format!("{day}/b.json.gz"), &gzip(&json));
    // Digest files are not API calls, even though they are `.json.gz`.
    put(
        dir.path(),
        "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/03/30/d.json.gz",
        &gzip(b"{\"digestStartTime\":\"x\"}"),
    );
    let r = load_dir(dir.path(), &LoadOptions::default(), &|_| {}).unwrap();
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    assert_eq!((r.files_found, r.files_read), (2, 2));
    // The fixture's 2026-03-01 event lies four weeks before its file's day folder: not believed.
    assert_eq!(r.usage.events, 24);
    assert_eq!(r.events_out_of_bounds, 2);
    assert_eq!(r.out_of_bounds.len(), 2);
    assert_eq!(
        r.usage.action(DEPLOY, "ec2:RunInstances").unwrap().denied,
        2
    );
}

#[test]
fn day_folders_outside_the_window_are_not_opened() {
    let dir = tempfile::tempdir().unwrap();
    let json = std::fs::read(fixture_file()).unwrap();
    put(
        dir.path(),
        "AWSLogs/1/CloudTrail/r/2026/03/30/a.json",
        &json,
    );
    // Not valid JSON: it would be reported if it were opened.
    put(
        dir.path(),
        "AWSLogs/1/CloudTrail/r/2026/01/01/old.json",
        b"not json",
    );
    let opts = LoadOptions {
        window: Window {
            since: Some(t("2026-03-15T00:00:00Z")),
            until: None,
        },
        ..LoadOptions::default()
    };
    let r = load_dir(dir.path(), &opts, &|_| {}).unwrap();
    assert_eq!((r.files_found, r.files_pruned, r.files_read), (2, 1, 1));
    assert!(r.skipped.is_empty());
    assert_eq!(r.usage.events, 12);
}

#[test]
fn bad_files_are_reported_by_name_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let json = std::fs::read(fixture_file()).unwrap();
    let day = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/30";
    put(dir.path(), &format!("{day}/good.json.gz"), &gzip(&json));
    let gz = gzip(&json);
    let truncated = put(
        dir.path(),
        &format!("{day}/truncated.json.gz"),
        &gz[..gz.len() / 2],
    );
    let no_source = put(
        dir.path(),
        &format!("{day}/no-source.json"),
        br#"{"Records":[{"eventTime":"2026-03-30T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject"},{"eventTime":"2026-03-30T00:00:00Z","eventName":"GetObject"}]}"#,
    );
    let bad_time = put(
        dir.path(),
        &format!("{day}/bad-time.json"),
        br#"{"Records":[{"eventTime":"yesterday","eventSource":"s3.amazonaws.com","eventName":"GetObject"}]}"#,
    );
    let not_a_log = put(
        dir.path(),
        &format!("{day}/not-a-log.json"),
        br#"{"foo": 1}"#,
    );

    let progress = std::sync::Mutex::new(Vec::new());
    let r = load_dir(dir.path(), &LoadOptions::default(), &|p| {
        progress.lock().unwrap().push(p.files_done);
    })
    .unwrap();
    // Only the good file counts; nothing of a bad file is half-applied. (Its 2026-03-01 event
    // lies outside its day folder's bound, so the table is the fixture's from 2026-03-29.)
    assert_eq!(r.files_read, 1);
    assert_eq!(
        r.usage,
        fixture_table(Window {
            since: Some(t("2026-03-29T00:00:00Z")),
            until: None
        })
    );
    let mut seen = progress.into_inner().unwrap();
    seen.sort_unstable();
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);

    let skipped: Vec<(&Path, String)> = r
        .skipped
        .iter()
        .map(|s| (s.path.as_path(), s.error.to_string()))
        .collect();
    assert_eq!(skipped.len(), 4, "{skipped:#?}");
    let msg = |p: &Path| skipped.iter().find(|(q, _)| *q == p).unwrap().1.clone();
    let m = msg(&no_source);
    assert!(
        m.contains("no-source.json") && m.contains("record 1") && m.contains("eventSource"),
        "{m}"
    );
    let m = msg(&bad_time);
    assert!(m.contains("record 0") && m.contains("`yesterday`"), "{m}");
    let m = msg(&truncated);
    assert!(m.contains("truncated.json.gz"), "{m}");
    let m = msg(&not_a_log);
    assert!(m.contains("no `Records` array"), "{m}");

    // The caller may choose to stop at the first bad file instead.
    let opts = LoadOptions {
        on_bad_file: OnBadFile::Fail,
        threads: 1,
        ..LoadOptions::default()
    };
    match load_dir(dir.path(), &opts, &|_| {}) {
        Err(TrailError::Parse { path, .. } | TrailError::Read { path, .. }) => {
            assert!(skipped.iter().any(|(p, _)| *p == path));
        }
        other => panic!("expected a file error, got {other:?}"),
    }
}

/// One record dated far from its file's day folder, or after the current time, would become
/// "the newest activity" and move every usage window past all real calls: it is counted and
/// ignored, and it changes nothing else.
#[test]
fn events_outside_their_day_folder_or_after_now_are_counted_and_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let json = std::fs::read(fixture_file()).unwrap();
    let day = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/30";
    put(dir.path(), &format!("{day}/a.json"), &json);
    let poisoned = |time: &str| {
        format!(
            r#"{{"Records":[{{"eventTime":"{time}","eventSource":"iam.amazonaws.com","eventName":"ListUsers","recipientAccountId":"111122223333","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/people/alice","accountId":"111122223333"}}}}]}}"#
        )
    };
    // Near midnight either side of the folder's day is fine; the year 9999 is not.
    put(
        dir.path(),
        &format!("{day}/edge.json"),
        poisoned("2026-03-31T00:05:00Z").as_bytes(),
    );
    let far = put(
        dir.path(),
        &format!("{day}/far.json"),
        poisoned("9999-12-31T23:59:59Z").as_bytes(),
    );
    // A day folder in the future passes the folder check but not the clock.
    let future = put(
        dir.path(),
        "AWSLogs/111122223333/CloudTrail/us-east-1/9999/12/31/future.json",
        poisoned("9999-12-31T12:00:00Z").as_bytes(),
    );
    let opts = LoadOptions {
        now: Some(t("2026-04-02T00:00:00Z")),
        ..LoadOptions::default()
    };
    let r = load_dir(dir.path(), &opts, &|_| {}).unwrap();
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    assert_eq!(r.files_read, 4);
    assert_eq!(r.usage.last_event, Some(t("2026-03-31T00:05:00Z")));
    assert_eq!(
        r.usage
            .last_activity("arn:aws:iam::111122223333:user/people/alice"),
        Some(t("2026-03-31T00:05:00Z"))
    );
    // The fixture's own 2026-03-01 event, the 9999 one beside it, and the one in 9999/12/31.
    assert_eq!(r.events_out_of_bounds, 3);
    let files: Vec<(&Path, u64)> = r
        .out_of_bounds
        .iter()
        .map(|o| (o.path.as_path(), o.events))
        .collect();
    assert_eq!(
        files,
        vec![
            (dir.path().join(format!("{day}/a.json")).as_path(), 1),
            (far.as_path(), 1),
            (future.as_path(), 1)
        ]
    );
    // Events per account and day: what the per-account floor reads.
    let days: Vec<(String, u64)> = r.usage.account_days["111122223333"]
        .iter()
        .map(|(d, n)| (d.to_string(), *n))
        .collect();
    assert_eq!(
        days,
        vec![("2026-03-30".to_owned(), 12), ("2026-03-31".to_owned(), 1)]
    );
    let march = Window {
        since: Some(t("2026-03-31T00:00:00Z")),
        until: Some(t("2026-04-01T00:00:00Z")),
    };
    assert_eq!(r.usage.account_events("111122223333", &march), 1);
    assert_eq!(r.usage.account_events("444455556666", &march), 0);
}

#[test]
fn missing_directory_is_an_error() {
    let e = load_dir(
        Path::new("/nonexistent/latch/cloudtrail"),
        &LoadOptions::default(),
        &|_| {},
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("/nonexistent/latch/cloudtrail"),
        "{e}"
    );
}

fn activity() -> Activity {
    serde_json::from_str(
        r#"{
        "arn:aws:iam::111122223333:role/ci-deploy": {"actions": ["s3:PutObject", "s3:ListBucket", "lambda:UpdateFunctionCode", "cloudwatch:PutMetricData", "ec2:RunInstances"], "daily_calls": 60, "last_active_days_ago": 0, "denied_actions": ["iam:CreateUser"], "regions": ["eu-west-1", "us-east-1"]},
        "arn:aws:iam::111122223333:user/alice": {"actions": ["ec2:DescribeInstances"], "daily_calls": 8, "last_active_days_ago": 3, "denied_actions": ["ec2:TerminateInstances"]},
        "arn:aws:iam::444455556666:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd": {"actions": ["iam:ListRoles", "sts:GetCallerIdentity", "iam:PassRole"], "daily_calls": 5, "last_active_days_ago": 1, "sessions": ["bob@example.com", "carol@example.com"]},
        "arn:aws:iam::444455556666:root": {"actions": ["iam:CreateAccessKey"], "daily_calls": 1, "last_active_days_ago": 20}
    }"#,
    )
    .unwrap()
}

#[test]
fn generated_logs_on_disk_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        days: 30,
        end_date: Date::parse("2026-03-31").unwrap(),
        seed: 42,
        max_records_per_file: 200,
    };
    let summary = write_generated(dir.path(), &activity(), &opts, 2, &|_, _| {}).unwrap();
    assert!(summary.files > 30);
    let one = load_dir(
        &dir.path().join("cloudtrail"),
        &LoadOptions {
            threads: 1,
            ..LoadOptions::default()
        },
        &|_| {},
    )
    .unwrap();
    assert!(one.skipped.is_empty());
    assert_eq!(one.files_read, summary.files);
    assert_eq!(one.usage.events, summary.events);
    assert_eq!(one.usage, summary.expected);
    // Any number of threads gives the same bytes.
    let four = load_dir(
        &dir.path().join("cloudtrail"),
        &LoadOptions {
            threads: 4,
            ..LoadOptions::default()
        },
        &|_| {},
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&one.usage).unwrap(),
        serde_json::to_string(&four.usage).unwrap()
    );
    // The table survives JSON.
    let back: UsageTable =
        serde_json::from_str(&serde_json::to_string(&one.usage).unwrap()).unwrap();
    assert_eq!(back, one.usage);
    let root = one
        .usage
        .principal("arn:aws:iam::444455556666:root")
        .unwrap();
    assert_eq!(
        root.last_activity.unwrap().date(),
        Date::parse("2026-03-11").unwrap()
    );
}

#[test]
fn generation_is_deterministic_on_disk() {
    let opts = Options {
        days: 5,
        end_date: Date::parse("2026-03-31").unwrap(),
        seed: 1,
        max_records_per_file: 0,
    };
    let read_all = |root: &Path| {
        let mut files: Vec<(PathBuf, Vec<u8>)> = latch_trail::fs::discover(root)
            .unwrap()
            .into_iter()
            .map(|f| {
                (
                    f.path.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&f.path).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    write_generated(a.path(), &activity(), &opts, 1, &|_, _| {}).unwrap();
    write_generated(b.path(), &activity(), &opts, 3, &|_, _| {}).unwrap();
    let (fa, fb) = (read_all(a.path()), read_all(b.path()));
    assert!(!fa.is_empty());
    assert_eq!(fa, fb);
}

#[test]
fn each_unusable_log_file_is_named_with_its_problem() {
    let d = tempfile::tempdir().unwrap();
    let day = d
        .path()
        .join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/30");
    std::fs::create_dir_all(&day).unwrap();
    let good = std::fs::read(fixture_file()).unwrap();
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(&good);
    std::fs::write(day.join("a-bom.json"), &bom).unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    for u in String::from_utf8(good.clone()).unwrap().encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    std::fs::write(day.join("b-utf16.json"), &utf16).unwrap();
    std::fs::write(day.join("c-empty.json"), "").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("d-loop.json", day.join("d-loop.json")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(d.path(), day.join("e-folder.json")).unwrap();
    let opts = LoadOptions {
        threads: 1,
        ..LoadOptions::default()
    };
    let r = load_dir(d.path(), &opts, &|_| {}).unwrap();
    assert_eq!(r.files_read, 1, "the file with a byte-order mark is read");
    // 13 records, one dated four weeks before its file's day folder: not believed.
    assert_eq!(r.usage.events, 12);
    let said: Vec<String> = r.skipped.iter().map(|s| s.error.to_string()).collect();
    let expect = [
        (
            "b-utf16.json",
            "UTF-16 text (little-endian byte-order mark FF FE): save it as UTF-8",
        ),
        ("c-empty.json", "empty: expected a JSON document"),
        #[cfg(unix)]
        ("d-loop.json", "a symbolic link loop"),
        #[cfg(unix)]
        ("e-folder.json", "a folder, not a file"),
    ];
    assert_eq!(said.len(), expect.len(), "{said:#?}");
    for ((file, problem), e) in expect.iter().zip(&said) {
        assert!(
            e.contains(file) && e.contains(problem),
            "{file}: {problem}: {e}"
        );
    }
}
