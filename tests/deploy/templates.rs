//! The rendered templates, offline: the committed snapshot (exact text:
//! `UPDATE_SNAPSHOTS=1` rewrites it after an intended change), the same
//! text whatever order serde_json keeps keys in, resources in dependency
//! order, and IAM's and CloudFormation's size limits with 1,000 accounts.

use serde_json::{Map, Value, json};
use tracker_deployer::names::Names;
use tracker_deployer::settings::{Settings, Trigger};
use tracker_deployer::template::{self, CodeLocation, ids, policies};

use crate::support::repo_root;

fn snapshot_settings() -> Settings {
    let mut settings = Settings::default();
    settings.trail.bucket = Some("my-cloudtrail-bucket".into());
    settings.ingest.skip_event_prefixes = vec!["Get".into(), "List".into()];
    settings.table.retention_days = 365;
    settings
}

fn code() -> CodeLocation {
    CodeLocation {
        bucket: "tracker-artifacts-123456789012-us-east-1".into(),
        key: "tracker/tracker/0123456789abcdef.zip".into(),
    }
}

/// Both templates for the settings, as deploy sends them (compact text).
fn rendered(settings: &Settings) -> (String, String) {
    let names = Names::new(settings).expect("names");
    (
        template::render(&template::data_template(settings, &names)),
        template::render(&template::app_template(settings, &names, &code())),
    )
}

#[test]
fn rendered_templates_match_the_snapshot() {
    let mut text = String::new();
    for (trigger, file) in [
        (Trigger::S3, "deploy-templates.json"),
        (Trigger::EventBridge, "deploy-templates-eventbridge.json"),
    ] {
        let mut settings = snapshot_settings();
        settings.trail.trigger = trigger;
        let names = Names::new(&settings).expect("names");
        let both = json!({
            "data_stack": template::data_template(&settings, &names),
            "app_stack": template::app_template(&settings, &names, &code()),
        });
        // The snapshot holds what `--dry-run` prints, in its order.
        let rendered = format!(
            "{}\n{}\n",
            template::render_pretty(&both["data_stack"]),
            template::render_pretty(&both["app_stack"])
        );
        let path = repo_root().join("tests/snapshots").join(file);
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("snapshot folder");
            std::fs::write(&path, &rendered).expect("write the snapshot");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "read {}: {e}; run with UPDATE_SNAPSHOTS=1 to create it",
                path.display()
            )
        });
        assert!(
            committed == rendered,
            "the rendered templates differ from {}; if the change is intended, run with \
             UPDATE_SNAPSHOTS=1 and review the diff.\nrendered:\n{rendered}",
            path.display()
        );
        text.push_str(&rendered);
    }
    assert!(
        text.contains(ids::TRAIL_RULE),
        "the EventBridge snapshot has the rule"
    );
}

/// The same value with every object's keys inserted in reverse order: a
/// different in-memory order whenever serde_json's `preserve_order` is on.
fn reversed(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map.iter().rev() {
                out.insert(k.clone(), reversed(v));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(reversed).collect()),
        other => other.clone(),
    }
}

/// Test builds and the shipped binary may build serde_json with different
/// features: the text sent, and the API deployment's id hashed from it,
/// must not depend on the order the value holds its keys in.
#[test]
fn the_text_does_not_depend_on_key_order() {
    let settings = snapshot_settings();
    let names = Names::new(&settings).expect("names");
    let app = template::app_template(&settings, &names, &code());
    assert_eq!(template::render(&app), template::render(&reversed(&app)));
    assert_eq!(
        template::render_pretty(&app),
        template::render_pretty(&reversed(&app))
    );
    let deployment = |t: &Value| {
        template::resource_list(t)
            .into_iter()
            .find(|(id, _)| id.starts_with(ids::API_DEPLOYMENT_PREFIX))
            .expect("a deployment")
            .0
    };
    let mut other = snapshot_settings();
    other.api.stage = "v2".into();
    let renamed = template::app_template(&other, &names, &code());
    assert_ne!(
        deployment(&app),
        deployment(&renamed),
        "a new stage is a new deployment"
    );
    // The hash is over the canonical text: reordered input, same id.
    let hashed = |v: &Value| template::short_hash(v);
    assert_eq!(hashed(&app), hashed(&reversed(&app)));
}

/// Emulators (moto's change sets) create resources in text order: the
/// deployment must come after its methods, every resource after those it
/// names.
#[test]
fn resources_are_written_after_what_they_name() {
    let settings = snapshot_settings();
    let names = Names::new(&settings).expect("names");
    let text = template::render(&template::app_template(&settings, &names, &code()));
    let at = |id: &str| {
        text.find(&format!("\"{id}\":{{"))
            .unwrap_or_else(|| panic!("{id} in {text}"))
    };
    let deployment = text
        .find(&format!("\"{}", ids::API_DEPLOYMENT_PREFIX))
        .expect("a deployment");
    for before in [ids::API_ROOT_METHOD, ids::API_PROXY_METHOD, ids::API] {
        assert!(at(before) < deployment, "{before} before the deployment");
    }
    assert!(at(ids::INGEST_ROLE) < at(ids::INGEST_FUNCTION));
    assert!(at(ids::INGEST_LOG_GROUP) < at(ids::INGEST_FUNCTION));
    assert!(
        at(ids::FAILURE_QUEUE) < at(ids::INGEST_ROLE),
        "the role names the queue"
    );
    assert!(at(ids::INGEST_FUNCTION) < at(ids::INGEST_INVOKE_CONFIG));
}

/// IAM's inline policy quota (10,240 characters, not counting white space)
/// and CloudFormation's `TemplateBody` (51,200 bytes), with the largest
/// organizations tracker aims at.
#[test]
fn a_thousand_accounts_fit_iam_and_cloudformation() {
    const POLICY_QUOTA: usize = 10_240;
    const TEMPLATE_BODY: usize = 51_200;
    let mut settings = snapshot_settings();
    settings.trail.prefix = "AWSLogs/o-exampleorgid/".into();
    settings.trail.accounts = (0..1000)
        .map(|i| format!("{:012}", 100_000_000_000u64 + i))
        .collect();
    settings.trail.kms_key_arn =
        Some("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into());
    let names = Names::new(&settings).expect("names");
    for trigger in [Trigger::S3, Trigger::EventBridge] {
        settings.trail.trigger = trigger;
        let (data, app) = rendered(&settings);
        assert!(
            data.len() <= TEMPLATE_BODY,
            "data stack: {} bytes",
            data.len()
        );
        assert!(app.len() <= TEMPLATE_BODY, "app stack: {} bytes", app.len());
        for statements in [
            policies::ingest_statements(&settings, &names),
            policies::query_statements(&settings, &names),
        ] {
            // Intrinsic functions resolve to shorter text (`${AWS::AccountId}`
            // is 18 characters, an account 12): this is an upper bound.
            let document =
                template::render(&json!({"Version": "2012-10-17", "Statement": statements}));
            assert!(
                document.len() <= POLICY_QUOTA,
                "{} characters: {document}",
                document.len()
            );
        }
        eprintln!(
            "1,000 accounts, trigger {}: app stack {} bytes, ingest policy {} characters",
            trigger.name(),
            app.len(),
            template::render(&json!(policies::ingest_statements(&settings, &names))).len()
        );
    }
    // One grant over every account's CloudTrail folder, never one per account.
    let (_, app) = rendered(&settings);
    assert!(
        app.contains("AWSLogs/o-exampleorgid/*/CloudTrail/*"),
        "{app}"
    );
    assert!(
        !app.contains("100000000999"),
        "no account is listed one by one"
    );
}
