//! `trails.json`: the organization's CloudTrail trails and what each one records, in Latch's
//! versioned format `latch.trails/v1` (docs/snapshot-format.md), and [`Visibility`]: per
//! account and action, whether CloudTrail would have shown a call at all.
//!
//! Trails record management events by default and data events only where their event
//! selectors ask for them (basic selectors: `DataResources`; advanced selectors:
//! `resources.type`). Which actions are data events is the catalog's `data-events.toml`. An
//! action a trail does not record is *unknown*, never *unused*.
//!
//! Fail closed: a file that is not of this format is an error naming the JSON path; a
//! selector shape Latch does not interpret (a filter on `eventName`, `resources.ARN`,
//! `userIdentity.arn`, an operator other than `Equals` where one is needed, a field AWS added
//! later) records nothing as far as Latch is concerned, and [`Visibility::notes`] says so.
//! A trail that logs one region only leaves the others unknown. Without a `trails.json`
//! (older snapshots, hand-made ones) management events count as recorded in every account
//! and data events as not recorded anywhere.
//!
//! Pure: text and values in, values out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use latch_catalog::{AccessLevel, ActionId, Catalog};
use serde::Serialize;
use serde_json::Value;

use crate::error::{parse_json, FormatError};
use crate::json::{as_array, as_str, field, index, Obj};

/// The `format` value this version of Latch reads and writes.
pub const FORMAT: &str = "latch.trails/v1";

/// The resource types basic event selectors may name (CloudTrail API reference,
/// `DataResource`); every other type needs advanced event selectors.
pub const BASIC_DATA_TYPES: [&str; 3] = [
    "AWS::S3::Object",
    "AWS::Lambda::Function",
    "AWS::DynamoDB::Table",
];

/// The operators of an advanced field selector (CloudTrail API reference,
/// `AdvancedFieldSelector`).
const OPERATORS: [&str; 6] = [
    "Equals",
    "StartsWith",
    "EndsWith",
    "NotEquals",
    "NotStartsWith",
    "NotEndsWith",
];

/// Every trail of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trails {
    /// The trails, in file order.
    pub trails: Vec<Trail>,
}

/// One trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trail {
    /// Its name.
    pub name: String,
    /// The account that owns it (the management account for an organization trail).
    pub account: String,
    /// Its home region.
    pub home_region: String,
    /// Whether it logs every account of the organization.
    pub organization_trail: bool,
    /// Whether it logs every region.
    pub multi_region: bool,
    /// What it records.
    pub selectors: Selectors,
}

/// A trail's event selectors (`GetEventSelectors`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selectors {
    /// None given: what CloudTrail does for a trail created without selectors — every read
    /// and write management event, no data event.
    Default,
    /// `EventSelectors`.
    Basic(Vec<BasicSelector>),
    /// `AdvancedEventSelectors`.
    Advanced(Vec<AdvancedSelector>),
}

/// One basic event selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicSelector {
    /// `ReadWriteType`: which events.
    pub read_write: ReadWrite,
    /// `IncludeManagementEvents`.
    pub management: bool,
    /// `ExcludeManagementEventSources`, e.g. `kms.amazonaws.com`.
    pub exclude_sources: Vec<String>,
    /// `DataResources`: resource type and the ARN prefixes logged.
    pub data_resources: Vec<(String, Vec<String>)>,
}

/// `ReadWriteType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadWrite {
    /// `ReadOnly`.
    ReadOnly,
    /// `WriteOnly`.
    WriteOnly,
    /// `All`.
    All,
}

/// One advanced event selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvancedSelector {
    /// `Name`, when given.
    pub name: Option<String>,
    /// `FieldSelectors`: field → operator → values.
    pub fields: Vec<(String, BTreeMap<String, Vec<String>>)>,
}

/// The trails.json of a generated organization (`latch example generate`, the example
/// organization): one organization trail in `management_account`, every region, every
/// management event and the data events of every S3 object, Lambda function and DynamoDB
/// table — the events the CloudTrail generator (`latch example trail`) writes as data events.
pub fn generated_trails_value(management_account: &str) -> Value {
    serde_json::json!({
        "format": FORMAT,
        "trails": [{
            "name": "org-trail",
            "arn": format!("arn:aws:cloudtrail:us-east-1:{management_account}:trail/org-trail"),
            "account": management_account,
            "home_region": "us-east-1",
            "organization_trail": true,
            "multi_region": true,
            "event_selectors": [{
                "ReadWriteType": "All",
                "IncludeManagementEvents": true,
                "ExcludeManagementEventSources": [],
                "DataResources": [
                    {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]},
                    {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
                    {"Type": "AWS::DynamoDB::Table", "Values": ["arn:aws:dynamodb"]}
                ]
            }]
        }]
    })
}

/// Parses trails.json text.
pub fn parse_trails_str(text: &str) -> Result<Trails, FormatError> {
    parse_trails(&parse_json(text)?)
}

/// Parses a trails.json document.
pub fn parse_trails(value: &Value) -> Result<Trails, FormatError> {
    let top = Obj::new(value, "")?;
    top.only(&["format", "trails"])?;
    let format = top.req_str("format")?;
    if format != FORMAT {
        return Err(FormatError::new(
            "format",
            format!("unsupported format `{format}` (this Latch reads `{FORMAT}`)"),
        ));
    }
    let mut trails = Vec::new();
    let mut names = BTreeSet::new();
    for (i, t) in top.req_array("trails")?.iter().enumerate() {
        let path = index("trails", i);
        let trail = parse_trail(t, &path)?;
        if !names.insert((
            trail.account.clone(),
            trail.home_region.clone(),
            trail.name.clone(),
        )) {
            return Err(FormatError::new(
                &field(&path, "name"),
                format!(
                    "trail `{}` of account {} in {} appears twice",
                    trail.name, trail.account, trail.home_region
                ),
            ));
        }
        trails.push(trail);
    }
    Ok(Trails { trails })
}

fn parse_trail(value: &Value, path: &str) -> Result<Trail, FormatError> {
    let o = Obj::new(value, path)?;
    o.only(&[
        "name",
        "arn",
        "account",
        "home_region",
        "organization_trail",
        "multi_region",
        "event_selectors",
        "advanced_event_selectors",
    ])?;
    let name = o.req_str("name")?;
    if name.is_empty() {
        return Err(FormatError::new(&o.path_of("name"), "must not be empty"));
    }
    let account = o.req_str("account")?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FormatError::new(
            &o.path_of("account"),
            format!("`{account}` is not a 12-digit account id"),
        ));
    }
    let home_region = o.req_str("home_region")?;
    if home_region.is_empty() || !home_region.contains('-') {
        return Err(FormatError::new(
            &o.path_of("home_region"),
            format!("`{home_region}` is not a region name like `us-east-1`"),
        ));
    }
    if let Some(arn) = o.opt_str("arn")? {
        match latch_policy::arn::split(arn) {
            Some([_, _, "cloudtrail", _, acct, rest])
                if acct == account && rest.starts_with("trail/") => {}
            _ => {
                return Err(FormatError::new(
                    &o.path_of("arn"),
                    format!("`{arn}` is not the ARN of a trail of account {account}"),
                ))
            }
        }
    }
    let basic = o.get("event_selectors").filter(|v| !v.is_null());
    let advanced = o.get("advanced_event_selectors").filter(|v| !v.is_null());
    let selectors = match (basic, advanced) {
        (Some(_), Some(_)) => {
            return Err(FormatError::new(
                path,
                "has both `event_selectors` and `advanced_event_selectors`; a trail uses one or the other",
            ))
        }
        (Some(b), None) => {
            let p = o.path_of("event_selectors");
            let list = as_array(b, &p)?;
            Selectors::Basic(
                list.iter()
                    .enumerate()
                    .map(|(i, s)| parse_basic(s, &index(&p, i)))
                    .collect::<Result<_, _>>()?,
            )
        }
        (None, Some(a)) => {
            let p = o.path_of("advanced_event_selectors");
            let list = as_array(a, &p)?;
            Selectors::Advanced(
                list.iter()
                    .enumerate()
                    .map(|(i, s)| parse_advanced(s, &index(&p, i)))
                    .collect::<Result<_, _>>()?,
            )
        }
        (None, None) => Selectors::Default,
    };
    Ok(Trail {
        name: name.to_owned(),
        account: account.to_owned(),
        home_region: home_region.to_owned(),
        organization_trail: o.opt_bool("organization_trail")?.unwrap_or(false),
        multi_region: o.opt_bool("multi_region")?.unwrap_or(false),
        selectors,
    })
}

fn strings(values: &[Value], path: &str) -> Result<Vec<String>, FormatError> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| as_str(v, &index(path, i)).map(str::to_owned))
        .collect()
}

fn parse_basic(value: &Value, path: &str) -> Result<BasicSelector, FormatError> {
    let o = Obj::new(value, path)?;
    o.only(&[
        "ReadWriteType",
        "IncludeManagementEvents",
        "DataResources",
        "ExcludeManagementEventSources",
    ])?;
    let read_write = match o.opt_str("ReadWriteType")? {
        None | Some("All") => ReadWrite::All,
        Some("ReadOnly") => ReadWrite::ReadOnly,
        Some("WriteOnly") => ReadWrite::WriteOnly,
        Some(other) => {
            return Err(FormatError::new(
                &o.path_of("ReadWriteType"),
                format!("`{other}` is not `ReadOnly`, `WriteOnly` or `All`"),
            ))
        }
    };
    let mut data_resources = Vec::new();
    for (i, d) in o.opt_array("DataResources")?.iter().enumerate() {
        let p = index(&o.path_of("DataResources"), i);
        let r = Obj::new(d, &p)?;
        r.only(&["Type", "Values"])?;
        let ty = r.req_str("Type")?;
        if !BASIC_DATA_TYPES.contains(&ty) {
            return Err(FormatError::new(
                &r.path_of("Type"),
                format!(
                    "`{ty}` cannot be selected by a basic event selector (only {}); use advanced event selectors",
                    BASIC_DATA_TYPES.join(", ")
                ),
            ));
        }
        let values = strings(r.opt_array("Values")?, &r.path_of("Values"))?;
        data_resources.push((ty.to_owned(), values));
    }
    Ok(BasicSelector {
        read_write,
        management: o.opt_bool("IncludeManagementEvents")?.unwrap_or(true),
        exclude_sources: strings(
            o.opt_array("ExcludeManagementEventSources")?,
            &o.path_of("ExcludeManagementEventSources"),
        )?,
        data_resources,
    })
}

fn parse_advanced(value: &Value, path: &str) -> Result<AdvancedSelector, FormatError> {
    let o = Obj::new(value, path)?;
    o.only(&["Name", "FieldSelectors"])?;
    let mut fields = Vec::new();
    for (i, f) in o.req_array("FieldSelectors")?.iter().enumerate() {
        let p = index(&o.path_of("FieldSelectors"), i);
        let fo = Obj::new(f, &p)?;
        let mut ops = BTreeMap::new();
        let mut name = None;
        for (key, v) in fo.map {
            if key == "Field" {
                name = Some(as_str(v, &fo.path_of("Field"))?.to_owned());
            } else if OPERATORS.contains(&key.as_str()) {
                if v.is_null() {
                    continue;
                }
                let values = strings(as_array(v, &fo.path_of(key))?, &fo.path_of(key))?;
                ops.insert(key.clone(), values);
            } else {
                return Err(FormatError::new(
                    &fo.path_of(key),
                    format!(
                        "unknown field `{key}` (expected `Field` and operators: {})",
                        OPERATORS.join(", ")
                    ),
                ));
            }
        }
        let name = name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| FormatError::new(&p, "missing required field `Field`"))?;
        fields.push((name, ops));
    }
    if fields.is_empty() {
        return Err(FormatError::new(
            &o.path_of("FieldSelectors"),
            "must hold at least one field selector",
        ));
    }
    Ok(AdvancedSelector {
        name: o.opt_str("Name")?.map(str::to_owned),
        fields,
    })
}

/// Why a call would not appear in CloudTrail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gap {
    /// A data event whose resource type no trail of the account logs (in full).
    DataEventsNotLogged,
    /// A management event no trail of the account logs (no trail covers the account, or the
    /// trails exclude its read/write type or its event source).
    ManagementEventsNotLogged,
}

impl Gap {
    /// What reports say, e.g. `usage unknown: data events not logged`.
    pub fn phrase(self) -> &'static str {
        match self {
            Gap::DataEventsNotLogged => "usage unknown: data events not logged",
            Gap::ManagementEventsNotLogged => "usage unknown: management events not logged",
        }
    }
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.phrase())
    }
}

/// Read and write coverage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Rw {
    read: bool,
    write: bool,
}

impl Rw {
    fn from(rw: ReadWrite) -> Rw {
        Rw {
            read: rw != ReadWrite::WriteOnly,
            write: rw != ReadWrite::ReadOnly,
        }
    }

    fn union(&mut self, o: Rw) {
        self.read |= o.read;
        self.write |= o.write;
    }

    fn covers(self, read_only: bool) -> bool {
        if read_only {
            self.read
        } else {
            self.write
        }
    }
}

/// What the trails covering one account record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Coverage {
    /// Management events, read and write, of every event source but the excluded ones
    /// (service prefixes); kept per selector so an exclusion in one selector does not hide
    /// another selector's coverage.
    management: Vec<(Rw, BTreeSet<String>)>,
    /// Data events per resource type logged on every resource.
    data: BTreeMap<String, Rw>,
}

impl Coverage {
    fn everything_management() -> Coverage {
        Coverage {
            management: vec![(
                Rw {
                    read: true,
                    write: true,
                },
                BTreeSet::new(),
            )],
            data: BTreeMap::new(),
        }
    }

    fn merge(&mut self, o: &Coverage) {
        self.management.extend(o.management.iter().cloned());
        for (t, rw) in &o.data {
            self.data.entry(t.clone()).or_default().union(*rw);
        }
    }
}

/// Where the visibility came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VisibilitySource {
    /// The snapshot's `trails.json`.
    TrailsFile,
    /// No `trails.json`: management events assumed recorded, data events not.
    Assumed,
}

/// Per account and action: would the organization's trails have shown a call?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    source: VisibilitySource,
    /// Coverage per account; accounts absent here are covered by `fallback`.
    accounts: BTreeMap<String, Coverage>,
    fallback: Coverage,
    notes: Vec<String>,
}

impl Visibility {
    /// Without trails.json: management events recorded in every account, data events in none.
    pub fn assumed() -> Visibility {
        Visibility {
            source: VisibilitySource::Assumed,
            accounts: BTreeMap::new(),
            fallback: Coverage::everything_management(),
            notes: vec![
                "trails: the snapshot has no trails.json, so management events are taken as recorded in every account and data events as recorded in none: the use of data-event actions (s3:GetObject, dynamodb:Scan, lambda:InvokeFunction, ...) is unknown".to_owned(),
            ],
        }
    }

    /// From the snapshot's trails and its account ids (for organization trails).
    pub fn from_trails<'a>(
        trails: &Trails,
        accounts: impl IntoIterator<Item = &'a str>,
    ) -> Visibility {
        let mut notes = Vec::new();
        let mut org_wide = Coverage::default();
        let mut per_account: BTreeMap<String, Coverage> = BTreeMap::new();
        for t in &trails.trails {
            let label = format!("trail `{}` of account {}", t.name, t.account);
            if !t.multi_region {
                notes.push(format!(
                    "trails: {label} logs only {}: calls in other regions are unknown, so Latch counts it as recording nothing",
                    t.home_region
                ));
                continue;
            }
            let cov = coverage_of(&t.selectors, &label, &mut notes);
            if t.organization_trail {
                org_wide.merge(&cov);
            } else {
                per_account
                    .entry(t.account.clone())
                    .or_default()
                    .merge(&cov);
            }
        }
        let mut out = BTreeMap::new();
        let mut uncovered = Vec::new();
        for a in accounts {
            let mut c = org_wide.clone();
            if let Some(own) = per_account.get(a) {
                c.merge(own);
            }
            if c.management.is_empty() {
                uncovered.push(a.to_owned());
            }
            out.insert(a.to_owned(), c);
        }
        if !uncovered.is_empty() {
            notes.push(format!(
                "trails: no trail in trails.json logs management events of account(s) {}: their usage is unknown",
                uncovered.join(", ")
            ));
        }
        Visibility {
            source: VisibilitySource::TrailsFile,
            accounts: out,
            fallback: org_wide,
            notes,
        }
    }

    /// Where this came from.
    pub fn source(&self) -> VisibilitySource {
        self.source
    }

    /// What people must know: the assumption without trails.json, selectors Latch does not
    /// interpret, single-region trails, partial data-event selection, accounts no trail covers.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    fn coverage(&self, account: &str) -> &Coverage {
        self.accounts.get(account).unwrap_or(&self.fallback)
    }

    /// Why a call of `action` in `account` would not appear in CloudTrail, or `None` when the
    /// trails record it. Read-only means access level Read or List.
    pub fn gap(&self, account: &str, action: ActionId) -> Option<Gap> {
        let catalog = Catalog::get();
        let info = catalog.action_by_id(action)?;
        let read_only = matches!(info.access_level(), AccessLevel::Read | AccessLevel::List);
        let cov = self.coverage(account);
        if catalog.is_data_event(action) {
            let logged = catalog
                .data_event_types_of_id(action)
                .any(|t| cov.data.get(&t.name).is_some_and(|rw| rw.covers(read_only)));
            return (!logged).then_some(Gap::DataEventsNotLogged);
        }
        let prefix = info.service_prefix();
        let logged = cov
            .management
            .iter()
            .any(|(rw, excluded)| rw.covers(read_only) && !excluded.contains(prefix));
        (!logged).then_some(Gap::ManagementEventsNotLogged)
    }

    /// Whether the trails record exactly the same calls in accounts `a` and `b` (so that what
    /// is known of one account's actions is known of the other's).
    pub fn same_coverage(&self, a: &str, b: &str) -> bool {
        self.coverage(a) == self.coverage(b)
    }

    /// The data-event resource types logged in full (read and write) for `account`, sorted.
    pub fn data_types_logged(&self, account: &str) -> Vec<String> {
        self.coverage(account)
            .data
            .iter()
            .filter(|(_, rw)| rw.read && rw.write)
            .map(|(t, _)| t.clone())
            .collect()
    }
}

/// The service prefix of an event source (`kms.amazonaws.com` → `kms`; `rdsdata` → `rds-data`).
fn source_prefix(source: &str) -> String {
    let s = source.strip_suffix(".amazonaws.com").unwrap_or(source);
    match s {
        "rdsdata" => "rds-data".to_owned(),
        other => other.to_owned(),
    }
}

/// A value that selects every resource of a basic data resource type: `arn:<partition>:s3`,
/// `arn:<partition>:s3:::`, `arn:<partition>:lambda`, `arn:<partition>:dynamodb`.
fn selects_every_resource(ty: &str, value: &str) -> bool {
    let service = match ty {
        "AWS::S3::Object" => "s3",
        "AWS::Lambda::Function" => "lambda",
        "AWS::DynamoDB::Table" => "dynamodb",
        _ => return false,
    };
    let parts: Vec<&str> = value.split(':').collect();
    let base = parts.len() >= 3
        && parts.first() == Some(&"arn")
        && parts.get(1).is_some_and(|p| p.starts_with("aws"))
        && parts.get(2) == Some(&service);
    base && (parts.len() == 3 || (service == "s3" && value.ends_with(":::") && parts.len() == 6))
}

fn coverage_of(selectors: &Selectors, label: &str, notes: &mut Vec<String>) -> Coverage {
    let mut cov = Coverage::default();
    match selectors {
        Selectors::Default => return Coverage::everything_management(),
        Selectors::Basic(list) => {
            for (i, s) in list.iter().enumerate() {
                let rw = Rw::from(s.read_write);
                if s.management {
                    cov.management.push((
                        rw,
                        s.exclude_sources.iter().map(|x| source_prefix(x)).collect(),
                    ));
                }
                for (ty, values) in &s.data_resources {
                    if values.iter().any(|v| selects_every_resource(ty, v)) {
                        cov.data.entry(ty.clone()).or_default().union(rw);
                    } else {
                        notes.push(format!(
                            "trails: {label}, event_selectors[{i}]: {ty} is logged for some resources only ({}): its data events count as not logged",
                            values.join(", ")
                        ));
                    }
                }
            }
        }
        Selectors::Advanced(list) => {
            for (i, s) in list.iter().enumerate() {
                let what = s.name.as_deref().map_or_else(
                    || format!("advanced_event_selectors[{i}]"),
                    |n| format!("advanced_event_selectors[{i}] (`{n}`)"),
                );
                match interpret_advanced(s) {
                    Ok(Interpreted::Management(rw, excluded)) => cov.management.push((rw, excluded)),
                    Ok(Interpreted::Data(ty, rw)) => cov.data.entry(ty).or_default().union(rw),
                    Err(why) => notes.push(format!(
                        "trails: {label}, {what}: {why}; Latch counts this selector as recording nothing"
                    )),
                }
            }
        }
    }
    cov
}

enum Interpreted {
    Management(Rw, BTreeSet<String>),
    Data(String, Rw),
}

/// The one value of an `Equals`-only field selector.
fn equals_one<'a>(field: &str, ops: &'a BTreeMap<String, Vec<String>>) -> Result<&'a str, String> {
    match (ops.len(), ops.get("Equals").map(Vec::as_slice)) {
        (1, Some([one])) => Ok(one),
        _ => Err(format!(
            "`{field}` is not a single `Equals` value, a shape Latch does not interpret"
        )),
    }
}

fn interpret_advanced(s: &AdvancedSelector) -> Result<Interpreted, String> {
    let mut category = None;
    let mut rw = Rw {
        read: true,
        write: true,
    };
    let mut resource_type = None;
    let mut excluded = BTreeSet::new();
    for (f, ops) in &s.fields {
        match f.as_str() {
            "eventCategory" => category = Some(equals_one(f, ops)?.to_owned()),
            "readOnly" => {
                rw = match equals_one(f, ops)? {
                    "true" => Rw {
                        read: true,
                        write: false,
                    },
                    "false" => Rw {
                        read: false,
                        write: true,
                    },
                    other => return Err(format!("`readOnly` value `{other}` is not `true` or `false`")),
                }
            }
            "resources.type" => resource_type = Some(equals_one(f, ops)?.to_owned()),
            "eventSource" => match (ops.len(), ops.get("NotEquals")) {
                (1, Some(values)) => excluded.extend(values.iter().map(|v| source_prefix(v))),
                _ => {
                    return Err(
                        "`eventSource` filters other than `NotEquals` log only part of the management events"
                            .to_owned(),
                    )
                }
            },
            other => {
                return Err(format!(
                    "a filter on `{other}` logs only part of the events"
                ))
            }
        }
    }
    match category.as_deref() {
        Some("Management") => {
            if resource_type.is_some() {
                return Err("`resources.type` does not apply to management events".to_owned());
            }
            Ok(Interpreted::Management(rw, excluded))
        }
        Some("Data") => {
            if !excluded.is_empty() {
                return Err("`eventSource` does not apply to data events".to_owned());
            }
            let ty = resource_type
                .ok_or_else(|| "a data-event selector without `resources.type`".to_owned())?;
            Ok(Interpreted::Data(ty, rw))
        }
        Some(other) => Err(format!(
            "events of category `{other}` are not API calls Latch counts"
        )),
        None => Err("no `eventCategory`".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn id(name: &str) -> ActionId {
        Catalog::get().resolve(name).unwrap()
    }

    fn parse(v: serde_json::Value) -> Result<Trails, FormatError> {
        parse_trails(&v)
    }

    fn one(trail: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"format": FORMAT, "trails": [trail]})
    }

    #[test]
    fn without_trails_json_management_is_recorded_and_data_is_not() {
        let v = Visibility::assumed();
        assert_eq!(v.gap("111122223333", id("iam:CreateRole")), None);
        assert_eq!(
            v.gap("111122223333", id("s3:GetObject")),
            Some(Gap::DataEventsNotLogged)
        );
        assert_eq!(
            v.gap("111122223333", id("dynamodb:Scan")),
            Some(Gap::DataEventsNotLogged)
        );
        assert!(v.notes()[0].contains("no trails.json"));
    }

    #[test]
    fn basic_selectors_on_every_resource_record_those_types() {
        let t = parse(one(serde_json::json!({
            "name": "org", "account": "100000000001", "home_region": "us-east-1",
            "organization_trail": true, "multi_region": true,
            "event_selectors": [{"ReadWriteType": "All", "IncludeManagementEvents": true,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]},
                                  {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda:us-east-1:100000000001:function:one"]}]}]
        })))
        .unwrap();
        let v = Visibility::from_trails(&t, ["100000000001", "200000000002"]);
        for a in ["100000000001", "200000000002"] {
            assert_eq!(v.gap(a, id("s3:GetObject")), None);
            assert_eq!(v.gap(a, id("iam:PassRole")), None);
            // One function only: not every Invoke would show.
            assert_eq!(
                v.gap(a, id("lambda:InvokeFunction")),
                Some(Gap::DataEventsNotLogged)
            );
            assert_eq!(
                v.gap(a, id("dynamodb:Scan")),
                Some(Gap::DataEventsNotLogged)
            );
        }
        assert!(
            v.notes().iter().any(|n| n.contains("some resources only")),
            "{:?}",
            v.notes()
        );
        assert_eq!(v.data_types_logged("200000000002"), ["AWS::S3::Object"]);
    }

    #[test]
    fn read_only_selectors_leave_writes_unknown_and_exclusions_apply() {
        let t = parse(one(serde_json::json!({
            "name": "acct", "account": "111122223333", "home_region": "eu-west-1",
            "multi_region": true,
            "event_selectors": [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": true,
                "ExcludeManagementEventSources": ["kms.amazonaws.com"],
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::"]}]}]
        })))
        .unwrap();
        let v = Visibility::from_trails(&t, ["111122223333", "444455556666"]);
        let a = "111122223333";
        assert_eq!(v.gap(a, id("iam:CreateRole")), None);
        assert_eq!(
            v.gap(a, id("iam:GetRole")),
            Some(Gap::ManagementEventsNotLogged)
        );
        assert_eq!(
            v.gap(a, id("kms:ScheduleKeyDeletion")),
            Some(Gap::ManagementEventsNotLogged)
        );
        assert_eq!(v.gap(a, id("s3:PutObject")), None);
        assert_eq!(v.gap(a, id("s3:GetObject")), Some(Gap::DataEventsNotLogged));
        // An account no trail covers: nothing is known there.
        assert_eq!(
            v.gap("444455556666", id("iam:CreateRole")),
            Some(Gap::ManagementEventsNotLogged)
        );
        assert!(
            v.notes().iter().any(|n| n.contains("444455556666")),
            "{:?}",
            v.notes()
        );
    }

    #[test]
    fn advanced_selectors_are_read_and_unknown_shapes_fail_closed() {
        let t = parse(one(serde_json::json!({
            "name": "adv", "account": "111122223333", "home_region": "us-east-1",
            "organization_trail": true, "multi_region": true,
            "advanced_event_selectors": [
                {"Name": "mgmt", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]},
                                                    {"Field": "eventSource", "NotEquals": ["rdsdata.amazonaws.com"]}]},
                {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                                    {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
                                    {"Field": "readOnly", "Equals": ["true"]}]},
                {"Name": "some buckets", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                                    {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::logs/"]}]},
                {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                                    {"Field": "resources.type", "Equals": ["AWS::SNS::Topic"]},
                                    {"Field": "eventName", "Equals": ["Publish"]}]}
            ]
        })))
        .unwrap();
        let v = Visibility::from_trails(&t, ["111122223333"]);
        let a = "111122223333";
        assert_eq!(v.gap(a, id("iam:CreateRole")), None);
        assert_eq!(
            v.gap(a, id("rds-data:ExecuteStatement")),
            Some(Gap::DataEventsNotLogged)
        );
        assert_eq!(v.gap(a, id("dynamodb:GetItem")), None);
        assert_eq!(
            v.gap(a, id("dynamodb:PutItem")),
            Some(Gap::DataEventsNotLogged)
        );
        assert_eq!(v.gap(a, id("s3:GetObject")), Some(Gap::DataEventsNotLogged));
        assert_eq!(v.gap(a, id("sns:Publish")), Some(Gap::DataEventsNotLogged));
        let notes = v.notes().join("\n");
        assert!(
            notes.contains("`some buckets`") && notes.contains("resources.ARN"),
            "{notes}"
        );
        assert!(notes.contains("eventName"), "{notes}");
    }

    #[test]
    fn single_region_trails_and_default_selectors() {
        let t = parse(serde_json::json!({"format": FORMAT, "trails": [
            {"name": "one-region", "account": "111122223333", "home_region": "us-east-1",
             "event_selectors": [{"ReadWriteType": "All", "IncludeManagementEvents": true,
                 "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}]},
            {"name": "plain", "account": "222233334444", "home_region": "us-east-1", "multi_region": true}
        ]}))
        .unwrap();
        let v = Visibility::from_trails(&t, ["111122223333", "222233334444"]);
        assert_eq!(
            v.gap("111122223333", id("iam:CreateRole")),
            Some(Gap::ManagementEventsNotLogged)
        );
        assert_eq!(v.gap("222233334444", id("iam:CreateRole")), None);
        assert_eq!(
            v.gap("222233334444", id("s3:GetObject")),
            Some(Gap::DataEventsNotLogged)
        );
        assert!(v.notes().iter().any(|n| n.contains("logs only us-east-1")));
    }

    #[test]
    fn bad_files_name_the_field() {
        let cases = [
            (
                serde_json::json!({"format": "latch.trails/v2", "trails": []}),
                "format",
            ),
            (
                one(serde_json::json!({"name": "t", "account": "12", "home_region": "us-east-1"})),
                "trails[0].account",
            ),
            (
                one(
                    serde_json::json!({"name": "t", "account": "111122223333", "home_region": "us-east-1",
                "event_selectors": [{"ReadWriteType": "Sometimes"}]}),
                ),
                "trails[0].event_selectors[0].ReadWriteType",
            ),
            (
                one(
                    serde_json::json!({"name": "t", "account": "111122223333", "home_region": "us-east-1",
                "event_selectors": [{"DataResources": [{"Type": "AWS::SNS::Topic", "Values": []}]}]}),
                ),
                "trails[0].event_selectors[0].DataResources[0].Type",
            ),
            (
                one(
                    serde_json::json!({"name": "t", "account": "111122223333", "home_region": "us-east-1",
                "advanced_event_selectors": [{"FieldSelectors": [{"Field": "eventCategory", "Like": ["Data"]}]}]}),
                ),
                "trails[0].advanced_event_selectors[0].FieldSelectors[0].Like",
            ),
            (
                one(
                    serde_json::json!({"name": "t", "account": "111122223333", "home_region": "us-east-1",
                "advanced_event_selectors": [], "event_selectors": []}),
                ),
                "trails[0]",
            ),
            (
                one(
                    serde_json::json!({"name": "t", "account": "111122223333", "home_region": "us-east-1",
                "arn": "arn:aws:cloudtrail:us-east-1:999999999999:trail/t"}),
                ),
                "trails[0].arn",
            ),
            (
                one(
                    serde_json::json!({"name": "t", "account": "111122223333", "home_region": "us-east-1", "selectors": []}),
                ),
                "trails[0].selectors",
            ),
        ];
        for (doc, path) in cases {
            let e = parse(doc).unwrap_err();
            assert_eq!(e.path, path, "{e}");
        }
        assert!(parse_trails_str("{")
            .unwrap_err()
            .reason
            .contains("invalid JSON"));
    }
}
