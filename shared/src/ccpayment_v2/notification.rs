//! The v2 webhook envelope: `{"type": "<Type>", "msg": {...}}`.
//!
//! A v2 webhook is a signed poke: ids and a status, no amounts (the `UserDeposit`
//! sample's `amount` aside). The money facts come from the record APIs. An unknown
//! type or status is kept and flagged, never refused; the registration ping
//! (`ActivateWebhookURL`) is told apart before `msg` is read, since nobody documents
//! its shape.

use std::collections::{BTreeMap, BTreeSet};

use crate::fields::{FieldError, Fields};
use crate::lifecycle::{Direction, Lifecycle};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationType {
    /// Payments to an order address, and payments on an invoice or checkout.
    ApiDeposit,
    /// Payments to a permanent address of the merchant's user (`referenceId`).
    DirectDeposit,
    ApiWithdrawal,
    UserDeposit,
    UserWithdrawal,
    Unknown(String),
}

impl NotificationType {
    fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "apideposit" => NotificationType::ApiDeposit,
            "directdeposit" => NotificationType::DirectDeposit,
            "apiwithdrawal" => NotificationType::ApiWithdrawal,
            "userdeposit" => NotificationType::UserDeposit,
            "userwithdrawal" => NotificationType::UserWithdrawal,
            _ => NotificationType::Unknown(raw.to_string()),
        }
    }

    /// As the resend API's `transactionType` spells it.
    pub fn as_str(&self) -> &str {
        match self {
            NotificationType::ApiDeposit => "ApiDeposit",
            NotificationType::DirectDeposit => "DirectDeposit",
            NotificationType::ApiWithdrawal => "ApiWithdrawal",
            NotificationType::UserDeposit => "UserDeposit",
            NotificationType::UserWithdrawal => "UserWithdrawal",
            NotificationType::Unknown(raw) => raw,
        }
    }

    /// Which way the money goes; an unknown type counts as incoming, and its
    /// lifecycle stays `unknown`.
    pub fn direction(&self) -> Direction {
        if self.is_withdrawal() {
            Direction::Outgoing
        } else {
            Direction::Incoming
        }
    }

    pub fn is_withdrawal(&self) -> bool {
        matches!(
            self,
            NotificationType::ApiWithdrawal | NotificationType::UserWithdrawal
        )
    }

    /// Every documented type, for the list and resend APIs.
    pub const KNOWN: [NotificationType; 5] = [
        NotificationType::ApiDeposit,
        NotificationType::DirectDeposit,
        NotificationType::ApiWithdrawal,
        NotificationType::UserDeposit,
        NotificationType::UserWithdrawal,
    ];
}

/// A record's status as v2 spells it, in webhooks and record APIs alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not documented for v2 webhooks, but mentioned once in the docs.
    Pending,
    WaitingApproval,
    Processing,
    Success,
    Failed,
    Rejected,
    Unknown(String),
}

impl Status {
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "pending" => Status::Pending,
            "waitingapproval" => Status::WaitingApproval,
            "processing" => Status::Processing,
            "success" => Status::Success,
            "failed" => Status::Failed,
            "rejected" => Status::Rejected,
            _ => Status::Unknown(raw.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Status::Pending => "Pending",
            Status::WaitingApproval => "WaitingApproval",
            Status::Processing => "Processing",
            Status::Success => "Success",
            Status::Failed => "Failed",
            Status::Rejected => "Rejected",
            Status::Unknown(raw) => raw,
        }
    }

    /// As the record API states it: paid once `Success` and not flagged as risky
    /// (a risky one is `held` for a human); `Failed` and `Rejected` are failed.
    pub fn lifecycle(&self, kind: &NotificationType, risky: bool) -> Lifecycle {
        if matches!(kind, NotificationType::Unknown(_)) {
            return Lifecycle::Unknown;
        }
        match self {
            Status::Pending | Status::WaitingApproval | Status::Processing => Lifecycle::Processing,
            Status::Success if risky => Lifecycle::Held,
            Status::Success => Lifecycle::Paid,
            Status::Failed | Status::Rejected => Lifecycle::Failed,
            Status::Unknown(_) => Lifecycle::Unknown,
        }
    }

    /// pending < waiting approval < processing < (held as risky) < success |
    /// failed | rejected; the last three are final. Only `Success` means credited.
    pub fn rank(&self) -> Option<(u8, bool)> {
        match self {
            Status::Pending => Some((1, false)),
            Status::WaitingApproval => Some((2, false)),
            Status::Processing => Some((3, false)),
            Status::Success | Status::Failed | Status::Rejected => Some((5, true)),
            Status::Unknown(_) => None,
        }
    }
}

/// What a v2 webhook claims about one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub kind: NotificationType,
    pub record_id: String,
    /// The status as sent (kept even when unknown) and as understood.
    pub status_text: String,
    pub status: Status,
    /// `orderId`, `referenceId`, `userId` where sent.
    pub refs: BTreeMap<String, String>,
    /// `coinId`, `coinSymbol`, `amount` (only `UserDeposit` sends one).
    pub details: BTreeMap<String, String>,
    /// `isFlaggedAsRisky` as sent; the record API's word is the one that counts.
    pub risky: Option<bool>,
    pub flags: BTreeSet<String>,
}

/// A v2 delivery: a record's notification, or the ping sent when the URL is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    Notification(Notification),
    Activation,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error(transparent)]
    Field(#[from] FieldError),
}

const ACTIVATION: &str = "activatewebhookurl";

impl Envelope {
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let f = Fields::parse(body)?;
        let type_text = f.text("type")?.ok_or_else(|| FieldError::Missing {
            field: "type".into(),
        })?;
        if type_text.trim().eq_ignore_ascii_case(ACTIVATION) {
            return Ok(Envelope::Activation);
        }
        let msg = f.object("msg")?.ok_or_else(|| FieldError::Missing {
            field: "msg".into(),
        })?;
        let mut flags = BTreeSet::new();
        let kind = NotificationType::parse(&type_text);
        if matches!(kind, NotificationType::Unknown(_)) {
            flags.insert("unknown_type".into());
        }
        let record_id = msg.required_id("recordId")?;
        let status_text = msg.id("status")?.ok_or_else(|| FieldError::Missing {
            field: "status".into(),
        })?;
        let status = Status::parse(&status_text);
        if matches!(status, Status::Unknown(_)) {
            flags.insert("unknown_status".into());
        }
        let mut refs = BTreeMap::new();
        for (field, key) in [
            ("orderId", "order_id"),
            ("referenceId", "reference_id"),
            ("userId", "user_id"),
        ] {
            if let Some(v) = msg.id(field)? {
                refs.insert(key.to_string(), v);
            }
        }
        let mut details = BTreeMap::new();
        if let Some(v) = msg.id("coinId")? {
            details.insert("coin_id".to_string(), v);
        }
        if let Some(v) = msg.text("coinSymbol")? {
            details.insert("coin_symbol".to_string(), v);
        }
        if let Some(a) = msg.amount("amount")? {
            details.insert("claimed_amount".to_string(), a.text);
        }
        Ok(Envelope::Notification(Notification {
            kind,
            record_id,
            status_text,
            status,
            refs,
            details,
            risky: msg.bool("isFlaggedAsRisky")?,
            flags,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycles() {
        let deposit = NotificationType::DirectDeposit;
        let withdrawal = NotificationType::ApiWithdrawal;
        for (kind, status, risky, l) in [
            (&deposit, "Processing", false, Lifecycle::Processing),
            (&deposit, "Success", false, Lifecycle::Paid),
            (&deposit, "Success", true, Lifecycle::Held),
            (&deposit, "Failed", false, Lifecycle::Failed),
            (&withdrawal, "WaitingApproval", false, Lifecycle::Processing),
            (&withdrawal, "Rejected", false, Lifecycle::Failed),
            (&withdrawal, "Success", false, Lifecycle::Paid),
            (&withdrawal, "Frozen", false, Lifecycle::Unknown),
        ] {
            assert_eq!(
                Status::parse(status).lifecycle(kind, risky),
                l,
                "{kind:?} {status} {risky}"
            );
        }
        let odd = NotificationType::parse("Swap");
        assert_eq!(Status::Success.lifecycle(&odd, false), Lifecycle::Unknown);
        assert_eq!(withdrawal.direction(), Direction::Outgoing);
        assert_eq!(
            NotificationType::UserDeposit.direction(),
            Direction::Incoming
        );
    }

    fn notification(body: &str) -> Notification {
        match Envelope::parse(body.as_bytes()) {
            Ok(Envelope::Notification(n)) => n,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_documented_type() {
        for (t, kind) in [
            ("ApiDeposit", NotificationType::ApiDeposit),
            ("DirectDeposit", NotificationType::DirectDeposit),
            ("ApiWithdrawal", NotificationType::ApiWithdrawal),
            ("UserDeposit", NotificationType::UserDeposit),
            ("UserWithdrawal", NotificationType::UserWithdrawal),
        ] {
            let n = notification(&format!(
                r#"{{"type":"{t}","msg":{{"recordId":"2024","status":"Success"}}}}"#
            ));
            assert_eq!(n.kind, kind);
            assert_eq!(n.kind.as_str(), t);
            assert!(n.flags.is_empty());
        }
    }

    #[test]
    fn unknown_type_and_status_are_kept_and_flagged() {
        let n = notification(r#"{"type":"Swap","msg":{"recordId":"1","status":"Frozen"}}"#);
        assert_eq!(n.kind, NotificationType::Unknown("Swap".into()));
        assert_eq!(n.status, Status::Unknown("Frozen".into()));
        assert_eq!(n.status_text, "Frozen");
        assert!(n.flags.contains("unknown_type") && n.flags.contains("unknown_status"));
    }

    #[test]
    fn the_activation_ping_needs_no_msg() {
        assert_eq!(
            Envelope::parse(br#"{"type":"ActivateWebhookURL"}"#),
            Ok(Envelope::Activation)
        );
        assert_eq!(
            Envelope::parse(br#"{"type":"ActivateWebhookURL","msg":"hello"}"#),
            Ok(Envelope::Activation)
        );
    }

    #[test]
    fn ids_refs_and_risk() {
        let n = notification(
            r#"{"type":"ApiDeposit","msg":{"recordId":"20240313121919","orderId":"202403131218361","coinId":1329,"coinSymbol":"POL","status":"Success","isFlaggedAsRisky":true}}"#,
        );
        assert_eq!(n.record_id, "20240313121919");
        assert_eq!(n.refs["order_id"], "202403131218361");
        assert_eq!(n.details["coin_id"], "1329");
        assert_eq!(n.risky, Some(true));
        let u = notification(
            r#"{"type":"UserDeposit","msg":{"recordId":"1","userId":"6322718677975328","amount":"0.1","status":"Success"}}"#,
        );
        assert_eq!(u.refs["user_id"], "6322718677975328");
        assert_eq!(u.details["claimed_amount"], "0.1");
        assert_eq!(u.risky, None);
    }

    #[test]
    fn statuses_rank_and_match_in_any_case() {
        assert_eq!(Status::parse("success"), Status::Success);
        assert_eq!(Status::parse("WAITINGAPPROVAL"), Status::WaitingApproval);
        assert!(Status::Processing.rank() < Status::Success.rank());
        assert_eq!(Status::Rejected.rank(), Some((5, true)));
        assert_eq!(Status::Unknown("x".into()).rank(), None);
    }

    #[test]
    fn missing_key_fields_are_refused() {
        for bad in [
            r#"{"msg":{"recordId":"1","status":"Success"}}"#,
            r#"{"type":"ApiDeposit"}"#,
            r#"{"type":"ApiDeposit","msg":{"status":"Success"}}"#,
            r#"{"type":"ApiDeposit","msg":{"recordId":"1"}}"#,
            r#"{"type":"ApiDeposit","msg":[]}"#,
            "[]",
        ] {
            assert!(Envelope::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
