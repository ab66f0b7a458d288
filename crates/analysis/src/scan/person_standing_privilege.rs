//! Standing privilege per person: sensitive actions someone of Identity Center may perform
//! through the roles they reach and did not use through any of them in the window, where the trails
//! would have shown a use. The person, not the role, is who holds the privilege.
//!
//! ## Why it is bad
//! The person can do damage with permissions they do not need: a phished session, a stolen
//! laptop or a mistake reaches everything the assignments allow, every day.
//!
//! ## How to fix
//! Remove the assignments or permission sets that carry the unused actions, or give the person
//! a smaller permission set. Let the firewall deny the actions by default, so the person asks
//! for them on demand when needed.

use super::{
    plural, standing_severity, Check, Context, Finding, FindingKind, Found, Organization,
};

pub(super) struct PersonStandingPrivilege;

impl Check for PersonStandingPrivilege {
    fn organization(&self, cx: &Context<'_>, org: &Organization<'_>, out: &mut Found) {
        for p in org.people {
            let Some(unused) = p.unused.as_ref().filter(|u| !u.is_empty()) else {
                continue;
            };
            let admin = p
                .access
                .iter()
                .any(|a| a.admin_equivalent && a.unused.is_some_and(|u| u > 0));
            let severity = standing_severity(cx, unused.iter().map(String::as_str), admin);
            let roles = p.access.iter().filter(|a| a.unused.is_some_and(|u| u > 0)).count();
            out.push(Finding {
                id: format!("person-standing-privilege:{}", p.user_name),
                kind: FindingKind::PersonStandingPrivilege,
                severity,
                principal: Some(p.user_name.clone()),
                account: String::new(),
                detail: format!(
                    "holds {} sensitive action{} through {roles} role{} that they did not use in {} days{}",
                    unused.len(),
                    plural(unused.len()),
                    plural(roles),
                    cx.opts.window_days,
                    if admin { " (admin-equivalent)" } else { "" }
                ),
                items: unused.clone(),
                usage_unknown: Vec::new(),
            });
        }
    }
}
