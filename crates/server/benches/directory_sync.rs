//! The directory sync of 5,000 IAM Identity Center people into the store, as the leading
//! server runs it (`Core::sync_directory`): the plan (`latch_grant::directory::sync`, pure),
//! its commit (`Store::commit`: directory rows and one audit entry per person), then what
//! every server does after a sync (`StoreRead::directory`, `Rules::with_directory`).
//!
//! `cargo bench -p latch-server --bench directory_sync` runs on SQLite (a temporary file) and
//! on PostgreSQL (`LATCH_TEST_POSTGRES`, else `postgres://postgres@127.0.0.1:5432/test`, in a
//! schema of its own that is dropped afterwards; skipped when the server cannot be reached).
//! The people, groups, accounts and permission sets are generated from a fixed seed.
//! `cargo test --benches` runs it with 200 people.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use latch_grant::directory::{self, AccountRole, Directory, DirectoryPerson, SyncCounts};
use latch_grant::{
    ApprovalPolicy, Bundle, Identity, IdentityKind, Millis, Person, Rules, Store, Tier,
};

const GROUPS: usize = 300;
const ACCOUNTS: usize = 100;
const PERMISSION_SETS: usize = 40;
/// Runs of what can be repeated on the same state (plans, reads, `with_directory`).
const RUNS: usize = 5;
/// Fresh stores the first sync is committed to (its commit cannot be repeated on one store).
const FRESH_STORES: usize = 3;
/// Successive syncs with churn (each 1% changed groups, 0.5% left, 0.5% new).
const CHURN_ROUNDS: usize = 3;
const T0: Millis = 1_800_000_000_000;

/// splitmix64: deterministic, no dependency.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `k` distinct indices below `n`.
    fn distinct(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

const FIRST: &[&str] = &[
    "alex", "ana", "ben", "chen", "dana", "eli", "fatima", "gus", "hana", "ivan", "jo", "kemal",
    "lena", "mo", "nadia", "omar", "priya", "quinn", "rosa", "sam", "tariq", "uma", "vera", "wen",
    "yusuf", "zoe",
];
const LAST: &[&str] = &[
    "adams", "bauer", "costa", "diaz", "evans", "fischer", "garcia", "haddad", "ito", "jensen",
    "kim", "lopez", "moreau", "nguyen", "okafor", "patel", "rossi", "silva", "tanaka", "novak",
];

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The organization people are drawn from: accounts, permission sets (and each pair's
/// `AWSReservedSSO_*` role id, or none), groups and each group's account assignments.
#[derive(Debug)]
struct World {
    accounts: Vec<String>,
    sets: Vec<String>,
    role_ids: BTreeMap<(usize, usize), Option<String>>,
    groups: Vec<String>,
    assignments: Vec<Vec<(usize, usize)>>,
}

impl World {
    fn new(rng: &mut Rng) -> World {
        let accounts: Vec<String> = (0..ACCOUNTS)
            .map(|a| format!("{:012}", 210_000_000_000u64 + a as u64 * 7_919))
            .collect();
        let names = [
            "Admin",
            "ReadOnly",
            "PowerUser",
            "Billing",
            "DataEng",
            "Deploy",
        ];
        let sets: Vec<String> = (0..PERMISSION_SETS)
            .map(|s| format!("{}{s:02}", names[s % names.len()]))
            .collect();
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut role_ids = BTreeMap::new();
        for a in 0..ACCOUNTS {
            for s in 0..PERMISSION_SETS {
                // One pair in 25 is not provisioned in its account (yet).
                let id = (rng.below(25) != 0).then(|| {
                    let tail: String = (0..17)
                        .map(|_| ALNUM[rng.below(ALNUM.len())] as char)
                        .collect();
                    format!("AROA{tail}")
                });
                role_ids.insert((a, s), id);
            }
        }
        let teams = ["eng", "data", "ops", "sec", "fin", "support"];
        let groups: Vec<String> = (0..GROUPS)
            .map(|g| format!("{}-team-{g:03}", teams[g % teams.len()]))
            .collect();
        // Two or three assignments per group: a person in 2.5 groups on average reaches about
        // six (account, permission set) roles.
        let assignments = (0..GROUPS)
            .map(|_| {
                let n = 2 + rng.below(2);
                (0..n)
                    .map(|_| (rng.below(ACCOUNTS), rng.below(PERMISSION_SETS)))
                    .collect()
            })
            .collect();
        World {
            accounts,
            sets,
            role_ids,
            groups,
            assignments,
        }
    }

    fn roles_of(&self, groups: &BTreeSet<usize>) -> Vec<AccountRole> {
        let pairs: BTreeSet<(usize, usize)> = groups
            .iter()
            .flat_map(|g| self.assignments[*g].iter().copied())
            .collect();
        let mut roles: Vec<AccountRole> = pairs
            .into_iter()
            .map(|(a, s)| AccountRole {
                account: self.accounts[a].clone(),
                permission_set: self.sets[s].clone(),
                role_id: self.role_ids[&(a, s)].clone(),
            })
            .collect();
        roles.sort();
        roles
    }

    fn person(&self, rng: &mut Rng, i: usize) -> (DirectoryPerson, BTreeSet<usize>) {
        let first = FIRST[rng.below(FIRST.len())];
        let last = LAST[rng.below(LAST.len())];
        let user_name = format!("{first}.{last}.{i:05}@example.com");
        let n = 1 + rng.below(4);
        let groups: BTreeSet<usize> = rng.distinct(GROUPS, n).into_iter().collect();
        let (a, b, c) = (rng.next(), rng.next(), rng.next());
        let person = DirectoryPerson {
            user_id: format!(
                "{:010x}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                a >> 24,
                b >> 32,
                (b >> 16) & 0xffff,
                b & 0xffff,
                c >> 48,
                c & 0xffff_ffff_ffff
            ),
            display_name: Some(format!("{} {}", capitalized(first), capitalized(last))),
            email: Some(user_name.clone()),
            user_name,
            active: true,
            groups: BTreeSet::new(),
            roles: Vec::new(),
        };
        (self.with_groups(person, &groups), groups)
    }

    fn with_groups(&self, mut p: DirectoryPerson, groups: &BTreeSet<usize>) -> DirectoryPerson {
        p.groups = groups.iter().map(|g| self.groups[*g].clone()).collect();
        p.roles = self.roles_of(groups);
        p
    }
}

/// The directory as Identity Center would return it, with each person's group indices.
#[derive(Debug, Clone)]
struct People {
    people: Vec<(DirectoryPerson, BTreeSet<usize>)>,
    next: usize,
}

impl People {
    fn generate(world: &World, rng: &mut Rng, n: usize) -> People {
        People {
            people: (0..n).map(|i| world.person(rng, i)).collect(),
            next: n,
        }
    }

    fn read(&self) -> Directory {
        Directory {
            people: self.people.iter().map(|(p, _)| p.clone()).collect(),
            notes: Vec::new(),
        }
    }

    /// 1% of people change groups (one group swapped for another), 0.5% leave, 0.5% join.
    /// Returns the counts the sync must find.
    fn churn(&mut self, world: &World, rng: &mut Rng) -> SyncCounts {
        let n = self.people.len();
        let (changed, removed, added) = (n / 100, n / 200, n / 200);
        let picked = rng.distinct(n, changed + removed);
        for &i in &picked[..changed] {
            let (p, groups) = &mut self.people[i];
            let drop = *groups.iter().nth(rng.below(groups.len())).unwrap();
            let mut join = rng.below(GROUPS);
            while groups.contains(&join) {
                join = rng.below(GROUPS);
            }
            groups.remove(&drop);
            groups.insert(join);
            *p = world.with_groups(p.clone(), groups);
        }
        let leaving: BTreeSet<usize> = picked[changed..].iter().copied().collect();
        let mut i = 0;
        self.people.retain(|_| {
            i += 1;
            !leaving.contains(&(i - 1))
        });
        for _ in 0..added {
            let person = world.person(rng, self.next);
            self.next += 1;
            self.people.push(person);
        }
        SyncCounts {
            people: self.people.len(),
            added,
            removed,
            changed,
            ..SyncCounts::default()
        }
    }

    fn sorted(&self) -> Vec<DirectoryPerson> {
        let mut v: Vec<DirectoryPerson> = self.people.iter().map(|(p, _)| p.clone()).collect();
        v.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        v
    }
}

/// The configuration's rules: one configured person and bundles whose approver tiers name
/// directory groups.
fn base_rules(world: &World) -> Rules {
    let mut people = BTreeMap::new();
    people.insert(
        "oncall".to_owned(),
        Person {
            name: "oncall".into(),
            aws: Some(Identity {
                kind: IdentityKind::Role,
                id: "arn:aws:iam::210000000000:role/oncall".into(),
            }),
            email: None,
            chat: BTreeMap::new(),
            roles: Vec::new(),
            groups: BTreeSet::new(),
        },
    );
    let bundles = (0..8)
        .map(|b| {
            let name = format!("bundle-{b}");
            let tier = |k: usize| Tier {
                approvers: vec!["oncall".into()],
                directory_groups: vec![
                    world.groups[(b * 37 + k * 11) % GROUPS].clone(),
                    world.groups[(b * 53 + k * 7 + 1) % GROUPS].clone(),
                ],
                timeout_secs: 900,
            };
            let bundle = Bundle {
                name: name.clone(),
                max_duration_secs: 4 * 3600,
                max_total_secs: 4 * 3600,
                self_extend_secs: 0,
                on_call: None,
                policy: ApprovalPolicy {
                    auto_approve: false,
                    required_approvals: 1,
                    tiers: vec![tier(0), tier(1)],
                },
                scoped: Vec::new(),
                scope: None,
                description: None,
            };
            (name, bundle)
        })
        .collect();
    Rules {
        people,
        bundles,
        max_reason_chars: 1000,
        ..Rules::default()
    }
}

/// `31282` as `31,282`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// Runs `f` `runs` times; the median time and the last result (dropped outside the timing).
fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let out = f();
        times.push(start.elapsed());
        last = Some(out);
    }
    (median(times), last.unwrap())
}

/// Peak resident set of this process (`VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[derive(Debug, Default)]
struct Figures {
    first_plan: Duration,
    first_commit: Duration,
    first_commit_min: Duration,
    first_entries: usize,
    first_rows: usize,
    same_plan: Duration,
    same_writes: usize,
    churn_plan: Duration,
    churn_commit: Duration,
    churn_commit_min: Duration,
    churn_total: Duration,
    churn_entries: usize,
    churn_writes: usize,
    read_back: Duration,
    with_directory: Duration,
    audit_total: usize,
    peak_rss: Option<f64>,
}

async fn audit_after(store: &dyn Store, seq: i64) -> Vec<latch_grant::AuditRecord> {
    store.audit(seq, 0).await.unwrap()
}

/// The first sync into a fresh store: the plan's median time, the commit's time, and the
/// audit entries written.
async fn first_sync(
    label: &str,
    store: &dyn Store,
    people: &People,
    keep: &BTreeSet<String>,
) -> (Duration, Duration, usize) {
    let n = people.people.len();
    let stored = store.directory().await.unwrap();
    assert!(
        stored.is_empty(),
        "{label}: a fresh store holds no directory"
    );
    let read = people.read();
    let (plan_time, plan) = timed(RUNS, || directory::sync(&stored, &read, &[], &[], keep, T0));
    assert_eq!(plan.counts.added, n);
    assert_eq!(plan.changes.directory.len(), n);
    assert_eq!(plan.changes.audit.len(), n + 1);
    let start = Instant::now();
    store.commit(plan.changes).await.unwrap();
    let commit_time = start.elapsed();
    let written = audit_after(store, 0).await;
    let added = written
        .iter()
        .filter(|e| e.kind == "directory.person_added")
        .count();
    assert_eq!(added, n, "{label}: one person_added entry per person");
    assert_eq!(written.last().unwrap().kind, "directory.synced");
    (plan_time, commit_time, written.len())
}

/// Everything on `store`; `fresh` are more empty stores of the same backend, where only the
/// first sync is committed again.
async fn run(
    label: &str,
    store: Arc<dyn Store>,
    fresh: Vec<Arc<dyn Store>>,
    world: Arc<World>,
    n: usize,
) -> Figures {
    let mut rng = Rng(0x1a7c_4d12_5eed_0002);
    let mut people = People::generate(&world, &mut rng, n);
    let keep: BTreeSet<String> = ["oncall".to_owned()].into_iter().collect();
    let mut f = Figures::default();

    // 1. The first sync: everyone is new.
    let mut plans = Vec::new();
    let mut commits = Vec::new();
    for s in &fresh {
        let (plan, commit, entries) = first_sync(label, &**s, &people, &keep).await;
        assert_eq!(entries, n + 1);
        plans.push(plan);
        commits.push(commit);
    }
    let (plan, commit, entries) = first_sync(label, &*store, &people, &keep).await;
    plans.push(plan);
    commits.push(commit);
    f.first_plan = median(plans);
    f.first_commit_min = *commits.iter().min().unwrap();
    f.first_commit = median(commits);
    f.first_entries = entries;
    let mut head = i64::try_from(entries).unwrap();
    let stored = store.directory().await.unwrap();
    assert_eq!(
        stored,
        people.sorted(),
        "{label}: the directory reads back as written"
    );
    f.first_rows = stored.len();

    // 2. A sync where nothing changed: nothing to write, not even an entry.
    let read = people.read();
    let (same_time, same) = timed(RUNS, || {
        directory::sync(&stored, &read, &[], &[], &keep, T0 + 60_000)
    });
    assert!(
        same.is_empty(),
        "{label}: an unchanged directory plans no writes"
    );
    assert_eq!(
        same.counts,
        SyncCounts {
            people: n,
            ..SyncCounts::default()
        }
    );
    f.same_plan = same_time;
    f.same_writes = same.changes.audit.len() + same.changes.directory.len();
    assert!(audit_after(&*store, head).await.is_empty());

    // 3. Successive syncs with churn: read what is stored, plan, commit.
    let (mut plans, mut commits, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..CHURN_ROUNDS {
        let expected = people.churn(&world, &mut rng);
        let read = people.read();
        let stored = store.directory().await.unwrap();
        let now = T0 + 120_000 + round as Millis * 60_000;
        let start = Instant::now();
        let plan = directory::sync(&stored, &read, &[], &[], &keep, now);
        let planned = start.elapsed();
        assert_eq!(plan.counts, expected, "{label}: round {round}");
        let (entries, writes) = (plan.changes.audit.len(), plan.changes.directory.len());
        assert_eq!(
            entries,
            expected.added + expected.removed + expected.changed + 1
        );
        assert_eq!(writes, expected.added + expected.removed + expected.changed);
        let start = Instant::now();
        store.commit(plan.changes).await.unwrap();
        let committed = start.elapsed();
        plans.push(planned);
        commits.push(committed);
        totals.push(planned + committed);
        let written = audit_after(&*store, head).await;
        assert_eq!(written.len(), entries, "{label}: round {round}");
        head = written.last().unwrap().seq;
        f.churn_entries = entries;
        f.churn_writes = writes;
    }
    f.churn_plan = median(plans);
    f.churn_commit_min = *commits.iter().min().unwrap();
    f.churn_commit = median(commits);
    f.churn_total = median(totals);

    // 4. What every server does after a sync: read the directory back, build the rules.
    let mut reads = Vec::new();
    let mut back = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        back = store.directory().await.unwrap();
        reads.push(start.elapsed());
    }
    f.read_back = median(reads);
    assert_eq!(back, people.sorted(), "{label}: the directory after churn");
    let base = base_rules(&world);
    let (rules_time, rules) = timed(RUNS, || base.with_directory(&back));
    f.with_directory = rules_time;
    assert_eq!(
        rules.people.len(),
        n + 1,
        "{label}: every person and `oncall`"
    );
    for b in rules.bundles.values() {
        for t in &b.policy.tiers {
            let mut expected: BTreeSet<String> = back
                .iter()
                .filter(|p| t.directory_groups.iter().any(|g| p.groups.contains(g)))
                .map(|p| p.user_name.clone())
                .collect();
            expected.insert("oncall".into());
            assert_eq!(t.approvers, expected.into_iter().collect::<Vec<_>>());
        }
    }

    let verification = store.audit_verify().await.unwrap();
    assert!(verification.is_intact(), "{label}: {verification:?}");
    f.audit_total = verification.count;
    assert_eq!(
        f.audit_total,
        f.first_entries + CHURN_ROUNDS * f.churn_entries
    );
    f.peak_rss = peak_rss_mib();
    f
}

fn schema_name(k: usize) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    // PostgreSQL cuts identifiers at 63 bytes: the unique part comes first.
    let mut name = format!("bench_{}_{nanos}_{k}_directory_sync", std::process::id());
    name.truncate(63);
    name
}

/// Drop the benchmark's schema through a plain connection (a store would migrate `public`).
async fn drop_schema(url: &str, schema: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .execute(&mut conn)
        .await?;
    conn.close().await
}

async fn postgres(world: Arc<World>, n: usize) -> Option<Figures> {
    let url = std::env::var("LATCH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let shown = latch_grant::redact_location(&url);
    let schemas: Vec<String> = (0..FRESH_STORES).map(schema_name).collect();
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    let mut skipped = None;
    for schema in &schemas {
        let connected = tokio::time::timeout(
            Duration::from_secs(15),
            latch_store::PostgresStore::connect(&url, Some(schema)),
        )
        .await;
        match connected {
            Ok(Ok(store)) => stores.push(Arc::new(store)),
            Ok(Err(e)) => {
                skipped = Some(format!("{shown} is not usable ({e})"));
                break;
            }
            Err(_) => {
                skipped = Some(format!("{shown} did not answer within 15 s"));
                break;
            }
        }
    }
    // Every schema a connection may have created (one that failed may have created its own).
    let attempted = (stores.len() + 1).min(FRESH_STORES);
    let reached = !stores.is_empty();
    let outcome = match skipped {
        Some(why) => {
            println!("postgres: {why}; skipped");
            None
        }
        // A failed check still drops the schemas before the panic goes on.
        None => {
            let store = stores.pop().unwrap();
            Some(tokio::spawn(async move { run("postgres", store, stores, world, n).await }).await)
        }
    };
    for schema in schemas.iter().take(attempted) {
        if let Err(e) = drop_schema(&url, schema).await {
            // Unreachable from the start: nothing was created.
            if reached {
                println!("postgres: could not drop schema {schema}: {e}");
            }
        }
    }
    match outcome? {
        Ok(f) => Some(f),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn print_table(n: usize, world: &World, people: &People, rows: &[(&str, Figures)]) {
    let roles: usize = people.people.iter().map(|(p, _)| p.roles.len()).sum();
    let unknown: usize = people
        .people
        .iter()
        .flat_map(|(p, _)| &p.roles)
        .filter(|r| r.role_id.is_none())
        .count();
    let memberships: usize = people.people.iter().map(|(_, g)| g.len()).sum();
    println!();
    println!(
        "directory sync: {} people in {} groups ({:.2} groups each), {} accounts, {} permission sets; \
         {} roles reached ({:.2} per person, {} without a role id)",
        thousands(n),
        world.groups.len(),
        memberships as f64 / n as f64,
        world.accounts.len(),
        world.sets.len(),
        thousands(roles),
        roles as f64 / n as f64,
        thousands(unknown),
    );
    println!(
        "churn: {} changed groups, {} left, {} joined, per round",
        n / 100,
        n / 200,
        n / 200
    );
    print!("{:<58}", "");
    for (label, _) in rows {
        print!("{label:>12}");
    }
    println!();
    let line = |name: &str, value: &dyn Fn(&Figures) -> String| {
        print!("{name:<58}");
        for (_, f) in rows {
            print!("{:>12}", value(f));
        }
        println!();
    };
    line(
        &format!("first sync: plan (median of {FRESH_STORES} stores × {RUNS})"),
        &|f| ms(f.first_plan),
    );
    line(
        &format!("first sync: commit (median of {FRESH_STORES} fresh stores)"),
        &|f| ms(f.first_commit),
    );
    line("first sync: commit, fastest", &|f| ms(f.first_commit_min));
    line("first sync: audit entries written", &|f| {
        thousands(f.first_entries)
    });
    line("first sync: directory rows read back", &|f| {
        thousands(f.first_rows)
    });
    line(&format!("no change: plan (median of {RUNS})"), &|f| {
        ms(f.same_plan)
    });
    line("no change: entries + rows written", &|f| {
        f.same_writes.to_string()
    });
    line(
        &format!("churn: plan (median of {CHURN_ROUNDS} rounds)"),
        &|f| ms(f.churn_plan),
    );
    line(
        &format!("churn: commit (median of {CHURN_ROUNDS} rounds)"),
        &|f| ms(f.churn_commit),
    );
    line("churn: commit, fastest", &|f| ms(f.churn_commit_min));
    line(
        &format!("churn: plan + commit (median of {CHURN_ROUNDS} rounds)"),
        &|f| ms(f.churn_total),
    );
    line("churn: audit entries / directory writes per round", &|f| {
        format!("{} / {}", f.churn_entries, f.churn_writes)
    });
    line(
        &format!("store.directory() read-back (median of {RUNS})"),
        &|f| ms(f.read_back),
    );
    line(&format!("Rules::with_directory (median of {RUNS})"), &|f| {
        ms(f.with_directory)
    });
    line("audit log at the end (verified)", &|f| {
        thousands(f.audit_total)
    });
    line("peak RSS of the process so far (VmHWM)", &|f| {
        f.peak_rss
            .map_or_else(|| "?".to_owned(), |m| format!("{m:.0} MiB"))
    });
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: keep that run small.
    let is_bench = std::env::args().any(|a| a == "--bench");
    let n = if is_bench { 5_000 } else { 200 };
    let world = Arc::new(World::new(&mut Rng(0x1a7c_4d12_5eed_0001)));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rows = rt.block_on(async {
        let mut rows = Vec::new();
        let dir = tempfile::tempdir().unwrap();
        let mut stores: Vec<Arc<dyn Store>> = Vec::new();
        for k in 0..FRESH_STORES {
            let path = dir.path().join(format!("directory-{k}.db"));
            stores.push(Arc::new(
                latch_store::SqliteStore::open(&path).await.unwrap(),
            ));
        }
        let store = stores.pop().unwrap();
        rows.push((
            "sqlite",
            run("sqlite", store, stores, world.clone(), n).await,
        ));
        if let Some(f) = postgres(world.clone(), n).await {
            rows.push(("postgres", f));
        }
        rows
    });
    let people = People::generate(&world, &mut Rng(0x1a7c_4d12_5eed_0002), n);
    print_table(n, &world, &people, &rows);
}
