//! Which resource a call acted on, where CloudTrail names it: the role an `sts:AssumeRole`
//! call assumed (`roleArn`), the Lambda function a call invoked or changed (`functionName`).
//! Protect mode keeps a standing exemption on the resources an identity really touched,
//! not on every resource of the action; an action whose calls do not name their resource
//! here is kept on every resource, and the plan says so.
//!
//! Pure: bytes in, ARNs out.

/// How a call names its resource in `requestParameters`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `roleArn`: the ARN of the role (AWS STS API Reference, `AssumeRole`).
    RoleArn,
    /// `functionName`: a function name, a partial ARN (`123456789012:function:name`) or a
    /// full ARN, with or without a version or alias qualifier (AWS Lambda API Reference,
    /// e.g. `Invoke`, `UpdateFunctionCode`).
    FunctionName,
}

/// Actions whose calls name their resource, and how. Each is an action the sensitivity
/// catalog may protect; the firewall checks that the catalog knows every one.
pub const RESOURCE_NAMING_ACTIONS: &[(&str, Naming)] = &[
    ("sts:AssumeRole", Naming::RoleArn),
    ("lambda:AddPermission", Naming::FunctionName),
    ("lambda:CreateAlias", Naming::FunctionName),
    ("lambda:CreateFunctionUrlConfig", Naming::FunctionName),
    ("lambda:DeleteFunction", Naming::FunctionName),
    ("lambda:DeleteFunctionConcurrency", Naming::FunctionName),
    ("lambda:DeleteFunctionUrlConfig", Naming::FunctionName),
    ("lambda:GetFunction", Naming::FunctionName),
    ("lambda:GetFunctionConfiguration", Naming::FunctionName),
    ("lambda:GetPolicy", Naming::FunctionName),
    ("lambda:InvokeFunction", Naming::FunctionName),
    ("lambda:PublishVersion", Naming::FunctionName),
    ("lambda:PutFunctionConcurrency", Naming::FunctionName),
    ("lambda:RemovePermission", Naming::FunctionName),
    ("lambda:UpdateAlias", Naming::FunctionName),
    ("lambda:UpdateFunctionCode", Naming::FunctionName),
    ("lambda:UpdateFunctionConfiguration", Naming::FunctionName),
    ("lambda:UpdateFunctionUrlConfig", Naming::FunctionName),
];

/// How calls of this action (`service:Name`, any case) name their resource, if they do.
#[must_use]
pub fn naming(action: &str) -> Option<Naming> {
    RESOURCE_NAMING_ACTIONS
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(action))
        .map(|(_, n)| *n)
}

/// The ARN of the resource a call names in its `requestParameters` (raw JSON), made whole
/// with the account that recorded the call and its region where the request gives only a
/// name. `None` when the parameters are `null`, not JSON, or do not name it in a form this
/// reads: such a call cannot be scoped.
#[must_use]
pub fn named_resource(
    naming: Naming,
    request_parameters: &[u8],
    account: &str,
    region: &str,
) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(request_parameters).ok()?;
    let member = |name: &str| {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, x)| x.as_str())
            .filter(|s| !s.is_empty())
    };
    match naming {
        Naming::RoleArn => {
            let arn = member("roleArn")?;
            (arn.starts_with("arn:") && arn.split(':').nth(5)?.starts_with("role/"))
                .then(|| arn.to_owned())
        }
        Naming::FunctionName => function_arn(member("functionName")?, account, region),
    }
}

/// A Lambda function as a request names it → the function's unqualified ARN.
fn function_arn(named: &str, account: &str, region: &str) -> Option<String> {
    let parts: Vec<&str> = named.split(':').collect();
    let valid = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let (partition, region, account, name) = match parts.as_slice() {
        // name, or name:qualifier
        [name] | [name, _] => ("aws", region, account, *name),
        // 123456789012:function:name[:qualifier]
        [acct, "function", name] | [acct, "function", name, _] => ("aws", region, *acct, *name),
        // arn:partition:lambda:region:account:function:name[:qualifier]
        ["arn", partition, "lambda", region, acct, "function", name]
        | ["arn", partition, "lambda", region, acct, "function", name, _] => {
            (*partition, *region, *acct, *name)
        }
        _ => return None,
    };
    if !valid(name) || account.is_empty() || region.is_empty() {
        return None;
    }
    Some(format!(
        "arn:{partition}:lambda:{region}:{account}:function:{name}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assume_role_names_the_role_by_arn() {
        assert_eq!(
            named_resource(
                Naming::RoleArn,
                br#"{"roleArn":"arn:aws:iam::222233334444:role/deploy","roleSessionName":"s"}"#,
                "111122223333",
                "us-east-1"
            )
            .as_deref(),
            Some("arn:aws:iam::222233334444:role/deploy")
        );
        // A role on a path keeps its path: the ARN is matched as written.
        assert_eq!(
            named_resource(
                Naming::RoleArn,
                br#"{"roleArn":"arn:aws:iam::1:role/ops/admin"}"#,
                "1",
                "r"
            )
            .as_deref(),
            Some("arn:aws:iam::1:role/ops/admin")
        );
    }

    #[test]
    fn lambda_names_the_function_in_three_forms() {
        let f = |p: &[u8]| named_resource(Naming::FunctionName, p, "111122223333", "eu-west-1");
        let arn = "arn:aws:lambda:eu-west-1:111122223333:function:billing";
        assert_eq!(f(br#"{"functionName":"billing"}"#).as_deref(), Some(arn));
        assert_eq!(
            f(br#"{"functionName":"billing:prod"}"#).as_deref(),
            Some(arn)
        );
        assert_eq!(
            f(br#"{"functionName":"111122223333:function:billing"}"#).as_deref(),
            Some(arn)
        );
        assert_eq!(
            f(br#"{"functionName":"arn:aws:lambda:us-east-1:999988887777:function:x:3"}"#)
                .as_deref(),
            Some("arn:aws:lambda:us-east-1:999988887777:function:x")
        );
    }

    #[test]
    fn a_call_that_names_nothing_readable_cannot_be_scoped() {
        assert_eq!(named_resource(Naming::RoleArn, b"null", "1", "r"), None);
        assert_eq!(
            named_resource(Naming::RoleArn, b"{not json", "1", "r"),
            None
        );
        assert_eq!(
            named_resource(Naming::RoleArn, br#"{"roleArn":"deploy"}"#, "1", "r"),
            None
        );
        assert_eq!(
            named_resource(
                Naming::RoleArn,
                br#"{"roleArn":"arn:aws:iam::1:user/u"}"#,
                "1",
                "r"
            ),
            None
        );
        assert_eq!(
            named_resource(Naming::FunctionName, br#"{"functionName":"a b"}"#, "1", "r"),
            None
        );
        assert_eq!(
            named_resource(Naming::FunctionName, br#"{"functionName":"f"}"#, "", "r"),
            None
        );
    }

    #[test]
    fn naming_is_found_in_any_case() {
        assert_eq!(naming("STS:assumerole"), Some(Naming::RoleArn));
        assert_eq!(naming("lambda:InvokeFunction"), Some(Naming::FunctionName));
        assert_eq!(naming("s3:GetObject"), None);
    }
}
