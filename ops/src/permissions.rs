//! The IAM policy each command needs, from `docs/operator-permissions/` (the files the
//! permissions test holds against the calls each command makes), with its `${...}`
//! placeholders filled from a stack: pseudo parameters from the stack's ARN, the
//! rest from its outputs.

use crate::deployment::Deployment;
use crate::error::OpsError;

/// Each command's policy; `stack` is what `--stack` adds to any of them.
pub const POLICIES: &[(&str, &str)] = &[
    (
        "acknowledge",
        include_str!("../../docs/operator-permissions/acknowledge.json"),
    ),
    (
        "doctor",
        include_str!("../../docs/operator-permissions/doctor.json"),
    ),
    (
        "payment",
        include_str!("../../docs/operator-permissions/payment.json"),
    ),
    (
        "records",
        include_str!("../../docs/operator-permissions/records.json"),
    ),
    (
        "rehash",
        include_str!("../../docs/operator-permissions/rehash.json"),
    ),
    (
        "replay",
        include_str!("../../docs/operator-permissions/replay.json"),
    ),
    (
        "stack",
        include_str!("../../docs/operator-permissions/stack.json"),
    ),
    (
        "unresolved",
        include_str!("../../docs/operator-permissions/unresolved.json"),
    ),
];

/// `command`'s policy as written, placeholders and all.
pub fn template(command: &str) -> Result<&'static str, OpsError> {
    POLICIES
        .iter()
        .find(|(name, _)| *name == command)
        .map(|(_, text)| *text)
        .ok_or_else(|| {
            let names: Vec<&str> = POLICIES.iter().map(|(n, _)| *n).collect();
            OpsError::CannotRun(format!(
                "no policy for {command:?}: one of {}",
                names.join(", ")
            ))
        })
}

/// `command`'s policy for deployment `d` (read with `--stack`).
pub fn filled(command: &str, d: &Deployment) -> Result<String, OpsError> {
    let text = template(command)?;
    let (Some(stack), Some(arn)) = (&d.stack, &d.stack_id) else {
        return Err(OpsError::CannotRun(
            "the policy names the stack's resources: give --stack NAME".into(),
        ));
    };
    // arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, partition, _, region, account, _] = parts.as_slice() else {
        return Err(OpsError::CannotRun(format!("not a stack ARN: {arn}")));
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((head, tail)) = rest.split_once("${") {
        out.push_str(head);
        let Some((name, after)) = tail.split_once('}') else {
            return Err(OpsError::CannotRun(format!("{command}: unclosed ${{")));
        };
        let value = match name {
            "AWS::Partition" => *partition,
            "AWS::Region" => *region,
            "AWS::AccountId" => *account,
            "AWS::StackName" => stack.as_str(),
            output => d.outputs.get(output).map(String::as_str).ok_or_else(|| {
                OpsError::CannotRun(format!("stack {stack} has no output {output}"))
            })?,
        };
        out.push_str(value);
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}
