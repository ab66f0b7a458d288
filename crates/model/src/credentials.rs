//! The IAM credential report: console passwords and access keys of every user, with when each
//! was last used — the only export that says whether a user's access keys are used at all
//! (CloudTrail shows calls, not idle keys).
//!
//! Input is the CSV that `aws iam get-credential-report --query Content --output text |
//! base64 -d` prints (AWS documents the columns under "Getting credential reports for your AWS
//! account"). Values AWS writes for "nothing to say" — `N/A`, `no_information`,
//! `not_supported` — read as absent; dates are ISO 8601.

use crate::account::Timestamp;
use crate::error::FormatError;

/// One user's row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRow {
    /// `user` (`<root_account>` for the root user).
    pub user: String,
    /// `arn`.
    pub arn: String,
    /// `user_creation_time`.
    pub created: Option<Timestamp>,
    /// `password_enabled`.
    pub password_enabled: bool,
    /// `password_last_used`.
    pub password_last_used: Option<Timestamp>,
    /// `mfa_active`.
    pub mfa_active: bool,
    /// Access keys 1 and 2, when the user has them (active or not).
    pub access_keys: Vec<AccessKey>,
}

impl CredentialRow {
    /// Whether this is the account's root user.
    pub fn is_root(&self) -> bool {
        self.user == ROOT_USER
    }

    /// When the user last signed a request or signed in (its access keys and password), in
    /// milliseconds since the epoch: IAM's own record, whatever the trails log.
    pub fn last_used(&self) -> Option<i64> {
        self.access_keys
            .iter()
            .filter_map(|k| k.last_used.as_ref())
            .chain(&self.password_last_used)
            .map(|t| t.epoch_millis)
            .max()
    }
}

/// One access key slot of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// 1 or 2 (the report's `access_key_N_*` columns).
    pub slot: u8,
    /// `access_key_N_active`.
    pub active: bool,
    /// `access_key_N_last_rotated`: when the key was created or last rotated.
    pub last_rotated: Option<Timestamp>,
    /// `access_key_N_last_used_date`; `None` when never used.
    pub last_used: Option<Timestamp>,
    /// `access_key_N_last_used_service`.
    pub last_used_service: Option<String>,
}

/// A parsed credential report.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CredentialReport {
    /// One row per user, in file order.
    pub rows: Vec<CredentialRow>,
}

impl CredentialReport {
    /// The row of the user with this ARN.
    pub fn row(&self, arn: &str) -> Option<&CredentialRow> {
        self.rows.iter().find(|r| r.arn == arn)
    }
}

/// The report's name for the root user.
pub const ROOT_USER: &str = "<root_account>";

/// The columns Latch reads; the report has more (certificates, password rotation), which are
/// ignored, and AWS may add columns, which are too.
const REQUIRED: [&str; 6] = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "mfa_active",
];

/// Splits one CSV line into fields (RFC 4180 quoting; the report quotes nothing today, but a
/// spreadsheet round-trip may).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut started = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
        } else {
            match c {
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    started = false;
                    continue;
                }
                '"' if !started => quoted = true,
                _ => field.push(c),
            }
        }
        started = true;
    }
    if quoted {
        return Err("unterminated quoted field".to_owned());
    }
    fields.push(field);
    Ok(fields)
}

fn absent(value: &str) -> bool {
    matches!(value, "" | "N/A" | "no_information" | "not_supported")
}

/// Parses the report's CSV text.
pub fn parse_credential_report_str(text: &str) -> Result<CredentialReport, FormatError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_no, header)) = lines.next() else {
        return Err(FormatError::new(
            "line 1",
            "empty: expected the credential report's CSV header (`user,arn,user_creation_time,…`)",
        ));
    };
    let header = split_csv(header.trim_start_matches('\u{feff}'))
        .map_err(|e| FormatError::new(&format!("line {header_no}"), e))?;
    let column = |name: &str| header.iter().position(|h| h == name);
    for name in REQUIRED {
        if column(name).is_none() {
            return Err(FormatError::new(
                &format!("line {header_no}"),
                format!("the header has no `{name}` column: is this an IAM credential report?"),
            ));
        }
    }
    let key_columns: Vec<(u8, [Option<usize>; 4])> = (1..=2u8)
        .filter_map(|slot| {
            let c = |suffix: &str| column(&format!("access_key_{slot}_{suffix}"));
            c("active").map(|active| {
                (
                    slot,
                    [
                        Some(active),
                        c("last_rotated"),
                        c("last_used_date"),
                        c("last_used_service"),
                    ],
                )
            })
        })
        .collect();
    let mut rows = Vec::new();
    for (no, line) in lines {
        let fields = split_csv(line).map_err(|e| FormatError::new(&format!("line {no}"), e))?;
        if fields.len() != header.len() {
            return Err(FormatError::new(
                &format!("line {no}"),
                format!(
                    "{} fields where the header has {}",
                    fields.len(),
                    header.len()
                ),
            ));
        }
        let get = |i: usize| fields.get(i).map_or("", |f| f.trim());
        let named = |name: &str| column(name).map_or("", get);
        let at = |name: &str| format!("line {no}.{name}");
        let flag = |name: &str, value: &str| match value {
            "true" | "TRUE" => Ok(true),
            "false" | "FALSE" => Ok(false),
            v if absent(v) => Ok(false),
            other => Err(FormatError::new(
                &at(name),
                format!("`{other}` is not `true` or `false`"),
            )),
        };
        let date = |name: &str, value: &str| {
            if absent(value) {
                Ok(None)
            } else {
                Timestamp::parse(value).map(Some).ok_or_else(|| {
                    FormatError::new(&at(name), format!("`{value}` is not an ISO 8601 date"))
                })
            }
        };
        let user = named("user").to_owned();
        let arn = named("arn").to_owned();
        if user.is_empty() || !arn.starts_with("arn:") {
            return Err(FormatError::new(
                &at("arn"),
                format!("`{arn}` is not an ARN (user `{user}`)"),
            ));
        }
        let mut access_keys = Vec::new();
        for (slot, [active, rotated, used, service]) in &key_columns {
            let name = |suffix: &str| format!("access_key_{slot}_{suffix}");
            let active_v = active.map_or("", get);
            let rotated_v = rotated.map_or("", get);
            // A slot with no key at all: inactive and never rotated.
            if absent(rotated_v) && !flag(&name("active"), active_v)? {
                continue;
            }
            let used_v = used.map_or("", get);
            let service_v = service.map_or("", get);
            access_keys.push(AccessKey {
                slot: *slot,
                active: flag(&name("active"), active_v)?,
                last_rotated: date(&name("last_rotated"), rotated_v)?,
                last_used: date(&name("last_used_date"), used_v)?,
                last_used_service: (!absent(service_v)).then(|| service_v.to_owned()),
            });
        }
        rows.push(CredentialRow {
            created: date("user_creation_time", named("user_creation_time"))?,
            password_enabled: flag("password_enabled", named("password_enabled"))?,
            password_last_used: date("password_last_used", named("password_last_used"))?,
            mfa_active: flag("mfa_active", named("mfa_active"))?,
            user,
            arn,
            access_keys,
        });
    }
    Ok(CredentialReport { rows })
}

/// The report's full header, in AWS's column order.
pub const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,\
password_last_changed,password_next_rotation,mfa_active,access_key_1_active,\
access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,\
access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,\
access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,\
cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

/// Writes a report as AWS does (the inverse of [`parse_credential_report_str`] for the columns
/// Latch models; the others are written as AWS writes them when unset).
pub fn to_csv(report: &CredentialReport) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    let ts = |t: &Option<Timestamp>| t.as_ref().map_or("N/A".to_owned(), |t| t.text.clone());
    for row in &report.rows {
        let mut fields: Vec<String> = vec![row.user.clone(), row.arn.clone(), ts(&row.created)];
        if row.is_root() {
            fields.extend(["not_supported".to_owned(), ts(&row.password_last_used)]);
            fields.extend(["not_supported".to_owned(), "not_supported".to_owned()]);
        } else {
            fields.push(row.password_enabled.to_string());
            fields.push(if row.password_enabled {
                ts(&row.password_last_used)
            } else {
                "N/A".to_owned()
            });
            fields.extend(["N/A".to_owned(), "N/A".to_owned()]);
        }
        fields.push(row.mfa_active.to_string());
        for slot in 1..=2u8 {
            match row.access_keys.iter().find(|k| k.slot == slot) {
                Some(k) => {
                    fields.push(k.active.to_string());
                    fields.push(ts(&k.last_rotated));
                    fields.push(ts(&k.last_used));
                    fields.push(
                        if k.last_used.is_some() {
                            "us-east-1"
                        } else {
                            "N/A"
                        }
                        .to_owned(),
                    );
                    fields.push(
                        k.last_used_service
                            .clone()
                            .unwrap_or_else(|| "N/A".to_owned()),
                    );
                }
                None => {
                    fields.push("false".to_owned());
                    fields.extend(std::iter::repeat_n("N/A".to_owned(), 4));
                }
            }
        }
        fields.extend(["false", "N/A", "false", "N/A"].map(str::to_owned));
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn report(rows: &[&str]) -> String {
        let mut s = HEADER.to_owned();
        for r in rows {
            s.push('\n');
            s.push_str(r);
        }
        s
    }

    #[test]
    fn reads_root_users_and_both_key_slots() {
        let text = report(&[
            "<root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,2026-10-01T08:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
            "ops-admin,arn:aws:iam::111122223333:user/ops-admin,2023-02-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2023-02-01T00:00:00+00:00,N/A,N/A,N/A,true,2024-05-01T00:00:00+00:00,2026-11-01T10:00:00+00:00,us-east-1,s3,false,N/A,false,N/A",
        ]);
        let r = parse_credential_report_str(&text).unwrap();
        assert_eq!(r.rows.len(), 2);
        assert!(r.rows[0].is_root());
        assert!(r.rows[0].mfa_active);
        assert!(r.rows[0].access_keys.is_empty());
        let ops = r.row("arn:aws:iam::111122223333:user/ops-admin").unwrap();
        assert!(!ops.password_enabled);
        assert_eq!(ops.access_keys.len(), 2);
        assert_eq!(ops.access_keys[0].slot, 1);
        assert!(ops.access_keys[0].active);
        assert_eq!(ops.access_keys[0].last_used, None);
        assert_eq!(
            ops.access_keys[1]
                .last_used
                .as_ref()
                .map(|t| t.text.as_str()),
            Some("2026-11-01T10:00:00+00:00")
        );
        assert_eq!(ops.access_keys[1].last_used_service.as_deref(), Some("s3"));
    }

    #[test]
    fn quoted_fields_and_crlf_are_accepted() {
        let text = report(&[
            "\"dev\",\"arn:aws:iam::111122223333:user/dev\",2023-02-01T00:00:00+00:00,true,2026-01-01T00:00:00Z,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\r",
        ]);
        let r = parse_credential_report_str(&text).unwrap();
        assert_eq!(r.rows[0].user, "dev");
        assert!(r.rows[0].password_enabled);
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let bad_date = report(&[
            "dev,arn:aws:iam::111122223333:user/dev,2023-02-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,yesterday,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
        ]);
        let e = parse_credential_report_str(&bad_date).unwrap_err();
        assert_eq!(e.path, "line 2.access_key_1_last_rotated");
        assert!(e.reason.contains("`yesterday`"), "{e}");

        let short = report(&["dev,arn:aws:iam::111122223333:user/dev"]);
        let e = parse_credential_report_str(&short).unwrap_err();
        assert_eq!(e.path, "line 2");
        assert!(e.reason.contains("2 fields where the header has 22"), "{e}");

        let e = parse_credential_report_str("name,arn\n").unwrap_err();
        assert!(e.reason.contains("no `user` column"), "{e}");
        assert!(parse_credential_report_str("").is_err());

        let bad_flag = report(&[
            "dev,arn:aws:iam::111122223333:user/dev,2023-02-01T00:00:00+00:00,maybe,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
        ]);
        let e = parse_credential_report_str(&bad_flag).unwrap_err();
        assert_eq!(e.path, "line 2.password_enabled");
    }

    #[test]
    fn written_reports_read_back() {
        let text = report(&[
            "<root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,2026-10-01T08:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
            "ops-admin,arn:aws:iam::111122223333:user/ops-admin,2023-02-01T00:00:00+00:00,true,2026-11-02T00:00:00+00:00,N/A,N/A,false,true,2023-02-01T00:00:00+00:00,N/A,N/A,N/A,false,2024-05-01T00:00:00+00:00,2026-11-01T10:00:00+00:00,us-east-1,s3,false,N/A,false,N/A",
        ]);
        let r = parse_credential_report_str(&text).unwrap();
        let written = to_csv(&r);
        assert_eq!(written.lines().next(), Some(HEADER));
        assert_eq!(parse_credential_report_str(&written).unwrap(), r);
    }
}
