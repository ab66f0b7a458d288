//! Which actions CloudTrail records as *data events*: the rules live in one reviewable file,
//! `data/data-events.toml`, one table per `resources.type` value (`AWS::S3::Object`, ...) with
//! the action names or patterns that resource type covers.
//!
//! Trails log management events by default and data events only where their event selectors
//! ask for them, so the absence of a data-plane call from a trail that does not log its type
//! says nothing about use. Loading fails when a type name is not spelled as AWS spells it
//! (`AWS::Service::Type`), lists no action, or an entry matches no catalog action.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{pattern, ActionId, Catalog, LoadError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    actions: Vec<String>,
}

/// One data-event resource type and the actions it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataEventType {
    /// The `resources.type` value, e.g. `AWS::S3::Object`.
    pub name: String,
    /// The entries as written in the file.
    pub entries: Vec<String>,
    /// The actions the entries match, in id order.
    pub actions: Vec<ActionId>,
}

/// The data-event table: every type, and per action the types that cover it.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub(crate) types: Vec<DataEventType>,
    /// By action index: indexes into `types`.
    by_action: Vec<Vec<u16>>,
}

impl Table {
    pub(crate) fn of(&self, id: ActionId) -> impl Iterator<Item = &DataEventType> {
        self.by_action
            .get(id.index())
            .into_iter()
            .flatten()
            .filter_map(|&i| self.types.get(usize::from(i)))
    }

    pub(crate) fn is_data_event(&self, id: ActionId) -> bool {
        self.by_action
            .get(id.index())
            .is_some_and(|t| !t.is_empty())
    }

    pub(crate) fn build(catalog: &Catalog, toml_text: &str) -> Result<Table, LoadError> {
        let raw: BTreeMap<String, RawType> =
            toml::from_str(toml_text).map_err(LoadError::DataEventsToml)?;
        let mut by_action: Vec<Vec<u16>> = vec![Vec::new(); catalog.actions().len()];
        let mut types = Vec::with_capacity(raw.len());
        for (index, (name, entry)) in raw.into_iter().enumerate() {
            if !valid_type_name(&name) {
                return Err(LoadError::DataEventType {
                    name,
                    reason: "is not a `resources.type` value (`AWS::Service::Type`)".to_owned(),
                });
            }
            if entry.actions.is_empty() {
                return Err(LoadError::DataEventType {
                    name,
                    reason: "lists no action".to_owned(),
                });
            }
            let slot = u16::try_from(index).map_err(|_| LoadError::DataEventType {
                name: name.clone(),
                reason: "too many resource types".to_owned(),
            })?;
            let mut actions = Vec::new();
            for a in &entry.actions {
                let ids = catalog.expand_ids(a);
                if ids.is_empty() || (!pattern::has_wildcard(a) && !catalog.is_known(a)) {
                    return Err(LoadError::DataEventType {
                        name,
                        reason: format!("`{a}` matches no action in the catalog"),
                    });
                }
                actions.extend(ids);
            }
            actions.sort();
            actions.dedup();
            for id in &actions {
                if let Some(list) = by_action.get_mut(id.index()) {
                    list.push(slot);
                }
            }
            types.push(DataEventType {
                name,
                entries: entry.actions,
                actions,
            });
        }
        Ok(Table { types, by_action })
    }
}

/// `AWS::Service::Type`: three `::`-separated parts of ASCII letters and digits, the first
/// `AWS`.
fn valid_type_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split("::").collect();
    parts.len() == 3
        && parts.first() == Some(&"AWS")
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::Category;

    #[test]
    fn control_plane_actions_of_a_category_are_its_management_events() {
        let c = Catalog::get();
        let names = |cat| -> Vec<&str> {
            c.control_plane_actions(cat)
                .iter()
                .map(|a| a.full_name())
                .collect()
        };
        let escalation = names(Category::PrivilegeEscalation);
        assert!(escalation.contains(&"iam:PassRole"));
        assert!(escalation.contains(&"lambda:UpdateFunctionCode"));
        // Sensitive, but a data event: protected only when named.
        assert!(!escalation.contains(&"lambda:InvokeFunction"));
        let exfiltration = names(Category::DataExfiltration);
        assert!(exfiltration.contains(&"rds:StartExportTask"));
        for data in ["s3:GetObject", "dynamodb:Scan", "ebs:GetSnapshotBlock"] {
            assert!(!exfiltration.contains(&data), "{data}");
        }
        assert!(!names(Category::Destructive).contains(&"s3:DeleteObjectVersion"));
        for cat in Category::ALL {
            for a in c.control_plane_actions(cat) {
                assert!(!c.is_data_event(a.id()), "{}", a.full_name());
            }
        }
        assert!(!Category::CONTROL_PLANE.contains(&Category::DataExfiltration));
    }

    #[test]
    fn the_embedded_file_covers_the_documented_examples() {
        let c = Catalog::get();
        for (action, ty) in [
            ("s3:GetObject", "AWS::S3::Object"),
            ("s3:PutObject", "AWS::S3::Object"),
            ("s3:GetObjectVersion", "AWS::S3::Object"),
            ("s3:DeleteObject", "AWS::S3::Object"),
            ("dynamodb:GetItem", "AWS::DynamoDB::Table"),
            ("dynamodb:PutItem", "AWS::DynamoDB::Table"),
            ("dynamodb:Query", "AWS::DynamoDB::Table"),
            ("dynamodb:Scan", "AWS::DynamoDB::Table"),
            ("lambda:InvokeFunction", "AWS::Lambda::Function"),
            ("sns:Publish", "AWS::SNS::Topic"),
            ("ebs:GetSnapshotBlock", "AWS::EC2::Snapshot"),
        ] {
            let types: Vec<&str> = c
                .data_event_types_of(action)
                .map(|t| t.name.as_str())
                .collect();
            assert!(types.contains(&ty), "{action}: {types:?}");
            assert!(c.is_data_event(c.resolve(action).unwrap()), "{action}");
        }
        // Management events stay management events.
        for action in [
            "s3:PutBucketPolicy",
            "s3:ListBucket",
            "dynamodb:DeleteTable",
            "lambda:UpdateFunctionCode",
            "iam:PassRole",
            "secretsmanager:GetSecretValue",
            "kms:Decrypt",
            "ebs:StartSnapshot",
        ] {
            assert!(!c.is_data_event(c.resolve(action).unwrap()), "{action}");
        }
        assert!(
            c.data_event_types().len() >= 40,
            "{}",
            c.data_event_types().len()
        );
    }

    #[test]
    fn every_entry_is_spelled_as_the_catalog_spells_it() {
        let c = Catalog::get();
        for t in c.data_event_types() {
            for e in &t.entries {
                if !pattern::has_wildcard(e) {
                    assert_eq!(
                        c.action(e).map(|a| a.full_name()),
                        Some(e.as_str()),
                        "{}",
                        t.name
                    );
                }
            }
        }
    }

    fn load(toml_text: &str) -> Result<Table, LoadError> {
        Table::build(Catalog::get(), toml_text)
    }

    #[test]
    fn bad_files_are_load_errors_naming_the_type_and_entry() {
        let unmatched = load("[\"AWS::S3::Object\"]\nactions = [\"s3:GetObjekt\"]\n").unwrap_err();
        let text = unmatched.to_string();
        assert!(
            text.contains("AWS::S3::Object") && text.contains("s3:GetObjekt"),
            "{text}"
        );
        let glob = load("[\"AWS::S3::Object\"]\nactions = [\"s3:Nothing*\"]\n").unwrap_err();
        assert!(glob.to_string().contains("s3:Nothing*"), "{glob}");
        let empty = load("[\"AWS::S3::Object\"]\nactions = []\n").unwrap_err();
        assert!(empty.to_string().contains("lists no action"), "{empty}");
        let name = load("[\"S3 objects\"]\nactions = [\"s3:GetObject\"]\n").unwrap_err();
        assert!(name.to_string().contains("`S3 objects`"), "{name}");
        let field = load("[\"AWS::S3::Object\"]\nactons = [\"s3:GetObject\"]\n").unwrap_err();
        assert!(matches!(field, LoadError::DataEventsToml(_)), "{field}");
    }

    #[test]
    fn an_action_under_two_types_lists_both() {
        let t = load(
            "[\"AWS::SNS::Topic\"]\nactions = [\"sns:Publish\"]\n[\"AWS::SNS::PlatformEndpoint\"]\nactions = [\"sns:Publish\"]\n",
        )
        .unwrap();
        let id = Catalog::get().resolve("sns:Publish").unwrap();
        let names: Vec<&str> = t.of(id).map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["AWS::SNS::PlatformEndpoint", "AWS::SNS::Topic"]);
        assert!(t.is_data_event(id));
        assert!(!t.is_data_event(Catalog::get().resolve("sns:CreateTopic").unwrap()));
    }
}
