//! Property tests of packing: for random configurations on the example organization, the
//! packed policies are within AWS's limits, and the engine (`latch_policy`) evaluating them
//! denies exactly the (action, principal) pairs the unpacked intent denies — sampled over
//! catalog actions and principals with and without grant tags, the control plane, break-glass,
//! Identity Center sessions with and without `aws:userid` exemptions, quarantined identities,
//! request tag keys and regions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use latch_catalog::Catalog;
use latch_catalog::PolicyType;
use latch_firewall::intent::Probe;
use latch_firewall::org::OrgShape;
use latch_firewall::{generate, pack, Config, Intent, Limits, PackError, PackedPolicy, PlanInput};
use latch_policy::compile::CPolicy;
use latch_policy::context::Context;
use latch_policy::{Decision, Layer, Policy, PolicySet, Request};
use proptest::prelude::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// Identities of the example that use role-passing calls, and the role they pass.
const STANDING: [(&str, &str); 3] = [
    (
        "arn:aws:iam::400000000006:role/dev-build-agent",
        "arn:aws:iam::400000000006:role/ec2-build-worker",
    ),
    (
        "arn:aws:iam::400000000006:role/dev-ci-build",
        "arn:aws:iam::400000000006:role/lambda-basic-exec",
    ),
    (
        "arn:aws:iam::300000000004:role/github-actions-deploy",
        "arn:aws:iam::300000000004:role/storefront-task-role",
    ),
];

const IC_ACCOUNT: &str = "400000000006";
const IC_USER: &str = "carol@acme.example";

fn ic_role() -> (String, String) {
    let s = common::snapshot();
    let p = s
        .principals()
        .find(|p| {
            p.account_id() == IC_ACCOUNT
                && p.as_role()
                    .and_then(|r| r.permission_set_name())
                    .is_some_and(|n| n == "AdministratorAccess")
        })
        .unwrap();
    (p.arn().to_owned(), p.id().to_owned())
}

struct Case {
    toml: String,
    bundles: Vec<String>,
    break_glass: Option<String>,
    exempt: Option<String>,
    quarantined_services: Vec<String>,
}

fn random_case(rng: &mut Rng, with_usage: bool) -> Case {
    let catalog = Catalog::get();
    let actions = catalog.actions();
    let mut t = String::new();
    let mut bundles = Vec::new();
    let nb = 1 + rng.below(3);
    for i in 0..nb {
        let name = format!("b{i}");
        let _ = writeln!(t, "[bundles.{name}]");
        let mut acts = Vec::new();
        // Whole services sometimes (compress to `svc:*`), scattered actions otherwise.
        if rng.chance(30) {
            let s = rng.pick(catalog.services());
            acts.push(format!("{}:*", s.prefix()));
        }
        let max = if rng.chance(30) { 700 } else { 60 };
        let n = rng.below(max);
        for _ in 0..n {
            acts.push(actions[rng.below(actions.len())].full_name().to_owned());
        }
        if acts.is_empty() {
            acts.push("iam:PassRole".to_owned());
        }
        let quoted: Vec<String> = acts.iter().map(|a| format!("\"{a}\"")).collect();
        let _ = writeln!(t, "actions = [{}]", quoted.join(", "));
        if with_usage && i == 0 {
            // Holds iam:PassRole and the role-passing calls the example's identities make:
            // per-action and resource-scoped standing exemptions appear.
            let _ = writeln!(t, "categories = [\"privilege-escalation\"]");
        } else if rng.chance(30) {
            let _ = writeln!(t, "categories = [\"credential-access\"]");
        }
        if rng.chance(20) {
            let _ = writeln!(t, "exempt = [\"arn:aws:iam::*:role/ci-{i}\"]");
        }
        bundles.push(name);
    }
    let break_glass = rng
        .chance(50)
        .then(|| "arn:aws:iam::*:role/breakglass".to_owned());
    let exempt = rng
        .chance(50)
        .then(|| "arn:aws:iam::300000000004:role/terraform".to_owned());
    let mut quarantined_services = Vec::new();
    if rng.chance(50) {
        quarantined_services = vec!["sagemaker".to_owned(), "gamelift".to_owned()];
    }
    let _ = writeln!(t, "[control_plane]");
    if let Some(b) = &break_glass {
        let _ = writeln!(t, "break_glass = [\"{b}\"]");
    }
    let _ = writeln!(t, "[exemptions]");
    if let Some(e) = &exempt {
        let _ = writeln!(t, "principals = [\"{e}\"]");
    }
    let _ = writeln!(t, "[tamper_protection]\nenabled = {}", rng.chance(80));
    let _ = writeln!(t, "[zombies]\nenabled = {}", rng.chance(70));
    if rng.chance(50) {
        let _ = writeln!(t, "[regions]\nallowed = [\"eu-west-1\", \"us-east-1\"]");
    }
    let quoted: Vec<String> = quarantined_services
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    let _ = writeln!(t, "[services]\nquarantine = [{}]", quoted.join(", "));
    if rng.chance(50) {
        let _ = writeln!(
            t,
            "[[identity_center_grants]]\nbundle = \"{}\"\nuser = \"{IC_USER}\"\npermission_set = \"AdministratorAccess\"\naccounts = [\"{IC_ACCOUNT}\"]",
            bundles[0]
        );
    }
    // AWS's quotas mostly; sometimes lower ones (an organization that has not caught up, or
    // tight ones that force statements to split and policies to move down the tree).
    match rng.below(4) {
        0 => {
            let _ = writeln!(t, "[limits]\nscp_chars = 5120\nscp_per_target = 5");
        }
        1 => {
            let _ = writeln!(
                t,
                "[limits]\nscp_chars = {}\nrcp_chars = {}\nscp_per_target = {}",
                2500 + rng.below(7000),
                2500 + rng.below(2000),
                4 + rng.below(6)
            );
        }
        _ => {}
    }
    Case {
        toml: t,
        bundles,
        break_glass,
        exempt,
        quarantined_services,
    }
}

fn compile(text: &str, layer: Layer) -> CPolicy {
    CPolicy::compile(&Policy::from_json_str(text).unwrap(), layer).unwrap()
}

/// The engine's answer on the packed policies: identity allows everything, so a deny can only
/// come from the plan.
fn engine_denies(
    packed: &[PackedPolicy],
    org: &OrgShape,
    account: &str,
    probe: &Probe,
    action: &str,
) -> bool {
    let full = compile(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        Layer::Scp,
    );
    let path = org.path_to(account);
    let mut scps = Vec::new();
    let mut rcps = Vec::new();
    for node in &path {
        let mut s = vec![full.clone()];
        let mut r = Vec::new();
        for p in packed.iter().filter(|p| p.targets.contains(node)) {
            match p.kind {
                PolicyType::Scp => s.push(compile(&p.content, Layer::Scp)),
                PolicyType::Rcp => r.push(compile(&p.content, Layer::Rcp)),
            }
        }
        scps.push(s);
        rcps.push(r);
    }
    let set = PolicySet {
        identity: vec![compile(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            Layer::Identity,
        )],
        scps: Some(scps),
        rcps: Some(rcps),
        management_account: org.management_account.clone(),
        rcp_services: Catalog::get().rcp_services(),
        ..PolicySet::default()
    };
    let mut ctx = Context::default();
    for (k, v) in &probe.tags {
        ctx.insert(&format!("aws:PrincipalTag/{k}"), vec![v.clone()], false);
    }
    if let Some(u) = &probe.userid {
        ctx.insert("aws:userid", vec![u.clone()], false);
    }
    if let Some(r) = &probe.region {
        ctx.insert("aws:RequestedRegion", vec![r.clone()], false);
    }
    if let Some(keys) = &probe.request_tag_keys {
        ctx.insert("aws:TagKeys", keys.clone(), true);
    }
    let req = Request::new(
        &probe.principal_arn,
        action,
        &probe.resource,
        Some(account),
        ctx,
    )
    .unwrap();
    let ev = set.evaluate(&req);
    assert!(ev.warnings.is_empty(), "{:?}", ev.warnings);
    ev.decision == Decision::ExplicitDeny
}

fn intent_denies(intent: &Intent, account: &str, probe: &Probe, action: &str) -> bool {
    let path = intent.org.path_to(account);
    let service = action.split(':').next().unwrap().to_ascii_lowercase();
    intent.rules.iter().any(|r| {
        path.contains(&r.target)
            && (r.kind == PolicyType::Scp
                || Catalog::get().rcp_services().governs(&service) == Some(true))
            && r.denies(probe)
    })
}

/// An RCP statement on a service RCPs do not govern would be dead weight that looks like
/// protection: every action of every RCP rule is on the catalog's list.
fn rcp_rules_only_name_governed_services(intent: &Intent) {
    let catalog = Catalog::get();
    let governed = catalog.rcp_services();
    for r in intent.rules.iter().filter(|r| r.kind == PolicyType::Rcp) {
        match &r.actions {
            latch_firewall::intent::Actions::Only(ids) => {
                for id in ids {
                    let a = catalog.action_by_id(*id).unwrap();
                    let service = a.service_prefix().to_ascii_lowercase();
                    assert_eq!(
                        governed.governs(&service),
                        Some(true),
                        "RCP rule `{}` names {}, whose service RCPs do not govern",
                        r.label,
                        a.full_name()
                    );
                }
            }
            latch_firewall::intent::Actions::AllExcept(_) => {}
        }
    }
}

fn check_limits(intent: &Intent, packed: &[PackedPolicy], limits: &Limits) {
    let mut per_node: BTreeMap<(PolicyType, &str), usize> = BTreeMap::new();
    for p in packed {
        assert!(
            p.content.chars().count() <= limits.chars(p.kind),
            "{} is {} chars",
            p.name,
            p.content.len()
        );
        assert!(p.name.starts_with("latch-"));
        assert!(!p.targets.is_empty());
        for t in &p.targets {
            assert!(
                !intent.org.is_management(t),
                "{} targets the management account",
                p.name
            );
            *per_node.entry((p.kind, t.as_str())).or_default() += 1;
        }
    }
    for ((kind, node), n) in per_node {
        let shape = intent.org.node(node).unwrap();
        let existing = match kind {
            PolicyType::Scp => shape.existing_scps.len(),
            PolicyType::Rcp => shape.existing_rcps.len(),
        };
        assert!(
            existing + n <= limits.per_target(kind),
            "{node}: {existing} existing + {n} Latch {kind:?}"
        );
    }
}

fn run_case(seed: u64) {
    let mut rng = Rng(seed | 1);
    // Half the cases in protect mode with the example's 90 days of usage (standing exemptions).
    let with_usage = rng.chance(50);
    let case = random_case(&mut rng, with_usage);
    let cfg = Config::parse(&case.toml).unwrap_or_else(|e| panic!("{e}\n{}", case.toml));
    let input = PlanInput {
        snapshot: common::snapshot(),
        config: &cfg,
        usage: with_usage.then(common::usage),
        as_of: with_usage.then(common::as_of),
        reading: None,
        active_grants: &[],
    };
    let intent = generate(&input).unwrap();
    rcp_rules_only_name_governed_services(&intent);
    let packed = match pack(&intent, &cfg.limits) {
        Ok(p) => p,
        // Too large for the example's free slots: the error must say what does not fit.
        Err(PackError::DoesNotFit(msg)) => {
            assert!(msg.contains("You can drop"), "{msg}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    check_limits(&intent, &packed, &cfg.limits);

    let catalog = Catalog::get();
    let accounts: Vec<String> = intent.scope_accounts.iter().cloned().collect();
    let (ic_arn, ic_id) = ic_role();
    let bundle_actions: Vec<String> = intent
        .bundle_actions
        .values()
        .flat_map(|s| s.iter().take(40))
        .filter_map(|id| catalog.action_by_id(*id).map(|a| a.full_name().to_owned()))
        .collect();
    let specials = [
        "iam:TagRole",
        "iam:UntagUser",
        "iam:CreateRole",
        "sts:TagSession",
        "iam:PutRolePolicy",
        "iam:PassRole",
        "organizations:LeaveOrganization",
        "iam:GetRole",
        "sagemaker:CreateNotebookInstance",
        "gamelift:CreateFleet",
        "ec2:DescribeRegions",
        "s3:GetObject",
        "sts:AssumeRole",
    ];
    let mut checked = 0;
    let mut denied = 0;
    for _ in 0..300 {
        let account = rng.pick(&accounts).clone();
        let action = match rng.below(10) {
            0..=3 if !bundle_actions.is_empty() => rng.pick(&bundle_actions).clone(),
            4..=6 => (*rng.pick(&specials)).to_owned(),
            _ => catalog.actions()[rng.below(catalog.actions().len())]
                .full_name()
                .to_owned(),
        };
        let mut probe = Probe {
            action: catalog.resolve(&action),
            resource: "*".to_owned(),
            ..Probe::default()
        };
        match rng.below(9) {
            0 => {
                probe.principal_arn = format!("arn:aws:iam::{account}:role/latch-control-plane");
            }
            8 if with_usage => {
                // Identities with standing exemptions, passing the role they pass or another.
                let (who, passes) = *rng.pick(&STANDING);
                probe.principal_arn = who.to_owned();
                if rng.chance(50) {
                    probe.resource = if rng.chance(50) {
                        passes.to_owned()
                    } else {
                        "arn:aws:iam::400000000006:role/ec2-fleet-admin".to_owned()
                    };
                }
            }
            1 => {
                probe.principal_arn = format!("arn:aws:iam::{account}:user/alice");
                probe.userid = Some("AIDAEXAMPLE".to_owned());
            }
            2 if case.break_glass.is_some() => {
                probe.principal_arn = format!("arn:aws:iam::{account}:role/breakglass");
            }
            3 if case.exempt.is_some() => {
                probe.principal_arn = case.exempt.clone().unwrap();
            }
            4 => {
                probe.principal_arn = ic_arn.clone();
                let who = if rng.chance(50) {
                    IC_USER
                } else {
                    "mallory@acme.example"
                };
                probe.userid = Some(format!("{ic_id}:{who}"));
            }
            _ => {
                probe.principal_arn = format!("arn:aws:iam::{account}:role/app-{}", rng.below(3));
                probe.userid = Some(format!("AROAEXAMPLE:s{}", rng.below(3)));
            }
        }
        let Some(acct) = latch_policy::arn::account(&probe.principal_arn) else {
            continue;
        };
        let account = acct.to_owned();
        if !intent.scope_accounts.contains(&account) {
            continue;
        }
        for b in &case.bundles {
            if rng.chance(25) {
                let key = if rng.chance(50) {
                    format!("latch:grant:{b}")
                } else {
                    format!("LATCH:Grant:{b}")
                };
                probe = probe.with_tag(&key, "t");
            }
        }
        if rng.chance(10) {
            probe = probe.with_tag("latch:quarantine", "zombie");
        }
        if rng.chance(15) {
            probe = probe.with_tag("latch:unlock:services", "1");
        }
        if rng.chance(15) {
            probe = probe.with_tag("team", "x");
        }
        if rng.chance(40) {
            let keys = [
                vec!["latch:grant:b0".to_owned()],
                vec!["Team".to_owned()],
                vec!["team".to_owned(), "LaTcH:quarantine".to_owned()],
            ];
            probe.request_tag_keys = Some(rng.pick(&keys).clone());
        }
        probe.region = match rng.below(3) {
            0 => Some("eu-west-1".to_owned()),
            1 => Some("ap-south-1".to_owned()),
            _ => None,
        };
        if rng.chance(20) {
            probe.resource = format!("arn:aws:iam::{account}:role/latch-control-plane");
        }
        let want = intent_denies(&intent, &account, &probe, &action);
        let got = engine_denies(&packed, &intent.org, &account, &probe, &action);
        assert_eq!(
            got, want,
            "engine {got} vs intent {want} for {action} by {} in {account}: {probe:?}\nconfig:\n{}",
            probe.principal_arn, case.toml
        );
        checked += 1;
        denied += usize::from(want);
    }
    assert!(checked > 100);
    // Both answers occur, so the comparison means something.
    assert!(
        denied > 0 && denied < checked,
        "{denied} of {checked} denied"
    );
    let _ = case.quarantined_services;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn packed_policies_deny_exactly_the_intent(seed in any::<u64>()) {
        run_case(seed);
    }
}

const ALL_READS: &str = "[bundles.all-reads]\nactions = [\"*:Get*\", \"*:List*\"]\n";

/// The intent and its packing for a configuration on the example organization, without usage.
fn packed_example(toml: &str) -> (Config, Intent, Result<Vec<PackedPolicy>, PackError>) {
    let cfg = Config::parse(toml).unwrap();
    let intent = generate(&common::without_usage(&cfg)).unwrap();
    let packed = pack(&intent, &cfg.limits);
    (cfg, intent, packed)
}

#[test]
fn a_large_bundle_is_split_across_policies_and_levels() {
    // Every Read action: thousands of patterns. With the quotas before May 2026 (5,120
    // characters, 5 SCPs per node), statements split and policies spill from the root (two
    // free slots next to its three SCPs) down to the OUs and accounts.
    let (cfg, intent, packed) = packed_example(&format!(
        "{ALL_READS}[limits]\nscp_chars = 5120\nscp_per_target = 5\n"
    ));
    let packed = packed.unwrap();
    check_limits(&intent, &packed, &cfg.limits);
    assert!(packed.len() >= 3, "{}", packed.len());
    assert!(packed
        .iter()
        .any(|p| p.targets.iter().all(|t| t != &intent.org.root_id)));
    assert!(packed.iter().any(|p| p.content.contains("Part2")));
}

#[test]
fn scps_fill_aws_quotas_of_10240_characters_and_ten_per_node() {
    let root_scps = |intent: &Intent, packed: &[PackedPolicy]| {
        let root = &intent.org.root_id;
        intent.org.node(root).unwrap().existing_scps.len()
            + packed
                .iter()
                .filter(|p| p.kind == PolicyType::Scp && p.targets.contains(root))
                .count()
    };
    // Every Get, List and Describe action: tens of thousands of characters at the root.
    let every_read = "[bundles.every-read]\nactions = [\"*:Get*\", \"*:List*\", \"*:Describe*\"]\n";
    let (cfg, intent, packed) = packed_example(every_read);
    assert_eq!(cfg.limits, Limits::AWS);
    let packed = packed.unwrap();
    check_limits(&intent, &packed, &cfg.limits);
    let scps: Vec<&PackedPolicy> = packed
        .iter()
        .filter(|p| p.kind == PolicyType::Scp)
        .collect();
    // Documents use the room of the new quota...
    let largest = scps
        .iter()
        .map(|p| p.content.chars().count())
        .max()
        .unwrap();
    assert!(largest > 5120, "largest SCP {largest} characters");
    // ...and the root holds more than five SCPs (its three and Latch's), so nothing moves
    // down the tree: every Latch SCP is attached at the root alone.
    let at_root = root_scps(&intent, &packed);
    assert!(at_root > 5 && at_root <= 10, "{at_root} SCPs at the root");
    assert!(
        scps.iter()
            .all(|p| p.targets == [intent.org.root_id.clone()]),
        "{:?}",
        scps.iter()
            .map(|p| (&p.name, &p.targets))
            .collect::<Vec<_>>()
    );
    // Within the old quotas the same firewall does not fit, or only in more policies on more
    // attachments further down the tree.
    let (old, old_intent, old_packed) = packed_example(&format!(
        "{every_read}[limits]\nscp_chars = 5120\nscp_per_target = 5\n"
    ));
    let attachments = |p: &[PackedPolicy]| p.iter().map(|p| p.targets.len()).sum::<usize>();
    match old_packed {
        Err(e) => assert!(matches!(e, PackError::DoesNotFit(_)), "{e}"),
        Ok(old_packed) => {
            check_limits(&old_intent, &old_packed, &old.limits);
            assert!(root_scps(&old_intent, &old_packed) <= 5);
            assert!(
                old_packed.len() > packed.len() && attachments(&old_packed) > attachments(&packed),
                "{} policies on {} attachments within the old quotas, {} on {} within AWS's",
                old_packed.len(),
                attachments(&old_packed),
                packed.len(),
                attachments(&packed)
            );
        }
    }
}

#[test]
fn rcps_keep_5120_characters_and_five_per_node_counting_rcpfullawsaccess() {
    // Tamper protection writes an RCP on STS at the root, next to RCPFullAWSAccess and the
    // example's data-perimeter RCP: the RCP quotas did not change.
    let (cfg, intent, packed) = packed_example(ALL_READS);
    let packed = packed.unwrap();
    let root = &intent.org.root_id;
    let existing = &intent.org.node(root).unwrap().existing_rcps;
    assert!(
        existing.iter().any(|n| n == "RCPFullAWSAccess"),
        "{existing:?}"
    );
    let rcps: Vec<&PackedPolicy> = packed
        .iter()
        .filter(|p| p.kind == PolicyType::Rcp)
        .collect();
    assert!(!rcps.is_empty());
    for p in &rcps {
        assert!(p.content.chars().count() <= 5120, "{}", p.name);
    }
    let at_root = rcps.iter().filter(|p| p.targets.contains(root)).count();
    assert!(existing.len() + at_root <= cfg.limits.rcp_per_target);
    // With one RCP slot fewer than the node holds today, the root has no room at all: Latch's
    // RCPs move down to every child instead.
    let (_, intent, packed) = packed_example(&format!(
        "{ALL_READS}[limits]\nrcp_per_target = {}\n",
        existing.len()
    ));
    let packed = packed.unwrap();
    let rcps: Vec<&PackedPolicy> = packed
        .iter()
        .filter(|p| p.kind == PolicyType::Rcp)
        .collect();
    assert!(!rcps.is_empty());
    assert!(rcps
        .iter()
        .all(|p| !p.targets.contains(&intent.org.root_id)));
}

#[test]
fn too_much_for_one_account_is_an_error_naming_what_to_drop() {
    // Every third action of the catalog: thousands of names that compress poorly, far more
    // than ten policies of 10,240 characters.
    let scattered: Vec<String> = Catalog::get()
        .actions()
        .iter()
        .step_by(3)
        .map(|a| format!("\"{}\"", a.full_name()))
        .collect();
    let one_account = format!(
        "[scope]\ntargets = [\"300000000004\"]\n[bundles.everything-read]\nactions = [{}]\n",
        scattered.join(", ")
    );
    let (_, _, packed) = packed_example(&one_account);
    match packed {
        Err(e) => {
            let err = e.to_string();
            assert!(err.contains("300000000004"), "{err}");
            assert!(err.contains("AWS allows 10"), "{err}");
            assert!(err.contains("You can drop"), "{err}");
            assert!(err.contains("bundle everything-read"), "{err}");
        }
        Ok(p) => panic!("{} policies fit", p.len()),
    }
    // A lowered limit is named as the configuration's, with AWS's beside it.
    let (_, _, packed) = packed_example(&format!("{one_account}[limits]\nscp_per_target = 4\n"));
    let err = packed.unwrap_err().to_string();
    assert!(
        err.contains("the configuration allows 4 (`limits.scp_per_target`; AWS allows 10)"),
        "{err}"
    );
}
