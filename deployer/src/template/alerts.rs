//! The alerts topic: where the ingest function publishes what the detection
//! rules find (`[alerts]` in the settings).
//!
//! By default the application stack owns an SNS topic (`<stack>-alerts`,
//! encrypted with the AWS-managed SNS key, open to this account only, as
//! SNS creates it) with one e-mail subscription per `alerts.emails` address
//! (each address gets a confirmation message first). With `alerts.topic_arn`
//! the stack creates no topic and publishes to that one; listed addresses
//! are then subscribed to it by the stack. The ingest function may publish
//! to that one topic and no other.

use serde_json::{Map, Value, json};

use super::ids;
use crate::names::Names;
use crate::settings::Settings;

/// The topic's ARN, for the function's environment and its policy: the
/// stack's own topic (`Ref` of a topic is its ARN) or the configured one.
pub fn topic_arn(settings: &Settings) -> Value {
    match &settings.alerts.topic_arn {
        Some(arn) => json!(arn),
        None => json!({"Ref": ids::ALERTS_TOPIC}),
    }
}

/// The topic (unless the settings name an existing one) and the e-mail
/// subscriptions.
pub fn resources(settings: &Settings, names: &Names) -> Map<String, Value> {
    let emails = &settings.alerts.emails;
    let mut resources = Map::new();
    if settings.alerts.topic_arn.is_none() {
        let subscriptions: Vec<Value> = emails
            .iter()
            .map(|email| json!({"Protocol": "email", "Endpoint": email}))
            .collect();
        resources.insert(
            ids::ALERTS_TOPIC.into(),
            json!({
                "Type": "AWS::SNS::Topic",
                "Properties": {
                    "TopicName": names.alerts_topic,
                    "DisplayName": "tracker alerts",
                    "KmsMasterKeyId": "alias/aws/sns",
                    "Subscription": subscriptions,
                },
            }),
        );
    } else {
        // A topic the stack does not own: one subscription resource per address.
        for (index, email) in emails.iter().enumerate() {
            resources.insert(
                format!("{}{index}", ids::ALERTS_SUBSCRIPTION_PREFIX),
                json!({
                    "Type": "AWS::SNS::Subscription",
                    "Properties": {
                        "TopicArn": topic_arn(settings),
                        "Protocol": "email",
                        "Endpoint": email,
                    },
                }),
            );
        }
    }
    resources
}

/// The ingest function's grant: publishing to the alerts topic only.
pub fn publish_statement(settings: &Settings) -> Value {
    json!({
        "Sid": "AlertsTopic",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": topic_arn(settings),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(topic: Option<&str>, emails: &[&str]) -> Settings {
        let mut s = Settings::default();
        s.trail.bucket = Some("trail-bucket".into());
        s.alerts.topic_arn = topic.map(str::to_owned);
        s.alerts.emails = emails.iter().map(|e| e.to_string()).collect();
        s
    }

    #[test]
    fn the_stack_owns_an_encrypted_topic_with_the_addresses_subscribed() {
        let s = settings(None, &["sec@example.com", "ops@example.com"]);
        let names = Names::new(&s).unwrap();
        let made = resources(&s, &names);
        assert_eq!(made.len(), 1, "{made:?}");
        let topic = &made[ids::ALERTS_TOPIC];
        assert_eq!(topic["Type"], "AWS::SNS::Topic");
        assert_eq!(topic["Properties"]["TopicName"], "tracker-alerts");
        assert_eq!(topic["Properties"]["KmsMasterKeyId"], "alias/aws/sns");
        assert_eq!(
            topic["Properties"]["Subscription"],
            json!([
                {"Protocol": "email", "Endpoint": "sec@example.com"},
                {"Protocol": "email", "Endpoint": "ops@example.com"},
            ])
        );
        assert_eq!(
            publish_statement(&s)["Resource"],
            json!({"Ref": ids::ALERTS_TOPIC})
        );
    }

    #[test]
    fn an_existing_topic_is_used_and_only_subscribed_to() {
        let arn = "arn:aws:sns:us-east-1:123456789012:security";
        let s = settings(Some(arn), &["sec@example.com"]);
        let names = Names::new(&s).unwrap();
        let made = resources(&s, &names);
        assert!(!made.contains_key(ids::ALERTS_TOPIC));
        let subscription = &made[&format!("{}0", ids::ALERTS_SUBSCRIPTION_PREFIX)];
        assert_eq!(subscription["Type"], "AWS::SNS::Subscription");
        assert_eq!(subscription["Properties"]["TopicArn"], arn);
        assert_eq!(subscription["Properties"]["Endpoint"], "sec@example.com");
        assert_eq!(publish_statement(&s)["Resource"], arn);
        assert!(resources(&settings(Some(arn), &[]), &names).is_empty());
    }
}
