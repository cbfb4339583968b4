//! The names of everything `deploy` creates, derived from the settings in
//! one place, so that deploy, teardown, the template and the tests agree on
//! them (and a re-run finds what an earlier run made).

use crate::settings::Settings;

/// Lambda function names are at most 64 characters.
const MAX_FUNCTION_NAME: usize = 64;
/// S3 bucket names are at most 63 characters.
const MAX_BUCKET_NAME: usize = 63;

/// Every name of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The application stack: role, functions, log groups, API.
    pub stack: String,
    /// The data stack: the events table alone, so that deleting the
    /// application stack never touches the data.
    pub data_stack: String,
    pub table: String,
    pub ingest_function: String,
    pub query_function: String,
    /// `Sid` of the statement letting S3 invoke the ingest function.
    pub s3_permission_sid: String,
    /// Every bucket notification entry of this deployment has an `Id` that
    /// starts with this (stack names have no dots, so no other stack's do).
    pub notification_id_prefix: String,
    pub api_key: String,
    pub usage_plan: String,
    /// Key prefix of the uploaded function zips in the artifact bucket.
    pub artifact_prefix: String,
    /// The SQS queue that receives the ingest invocations that failed after
    /// Lambda's retries (the function's on-failure destination).
    pub failure_queue: String,
    /// The backfill work queue (`tracker backfill --fan-out`): batches of
    /// log-file keys for the ingest function, through an SQS event source.
    pub backfill_queue: String,
    /// Where a batch goes after the work queue's receives are used up.
    pub backfill_dead_queue: String,
    /// The SNS topic the stack creates for alerts (unless `alerts.topic_arn`).
    pub alerts_topic: String,
    /// The EventBridge rule of `trail.trigger = "eventbridge"`.
    pub trail_rule: String,
    /// Markers in the artifact bucket: `<this><bucket>` records that deploy
    /// turned on the EventBridge delivery of `bucket` (so teardown turns
    /// off only what deploy turned on).
    pub eventbridge_marker_prefix: String,
}

/// A stack name that would make an invalid resource name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`stack.name` is `{stack}` ({len} characters); the functions are named `<stack>-ingest` and \
     `<stack>-query`, and Lambda allows 64 characters: use a stack name of at most {max} characters"
)]
pub struct NameError {
    stack: String,
    len: usize,
    max: usize,
}

impl Names {
    pub fn new(settings: &Settings) -> Result<Names, NameError> {
        let stack = settings.stack.name.clone();
        let longest_suffix = "-ingest".len();
        if stack.len() + longest_suffix > MAX_FUNCTION_NAME {
            return Err(NameError {
                len: stack.len(),
                max: MAX_FUNCTION_NAME - longest_suffix,
                stack,
            });
        }
        Ok(Names {
            data_stack: format!("{stack}-data"),
            table: settings.table.name.clone(),
            ingest_function: format!("{stack}-ingest"),
            query_function: format!("{stack}-query"),
            s3_permission_sid: format!("tracker-s3-{stack}"),
            notification_id_prefix: format!("tracker.{stack}."),
            api_key: format!("{stack}-key"),
            usage_plan: format!("{stack}-plan"),
            artifact_prefix: format!("tracker/{stack}/"),
            failure_queue: Names::queue(&stack, "ingest-failures"),
            backfill_queue: Names::queue(&stack, "backfill"),
            backfill_dead_queue: Names::queue(&stack, "backfill-dead"),
            alerts_topic: format!("{stack}-alerts"),
            trail_rule: format!("{stack}-trail"),
            eventbridge_marker_prefix: format!("tracker/{stack}/state/eventbridge-enabled/"),
            stack,
        })
    }

    /// The name of one of the stack's SQS queues, `<stack>-<purpose>` (at
    /// most 57 + 1 + 22 characters: SQS allows 80).
    pub fn queue(stack: &str, purpose: &str) -> String {
        format!("{stack}-{purpose}")
    }

    /// The CloudWatch Logs group a function writes to.
    pub fn log_group(function: &str) -> String {
        format!("/aws/lambda/{function}")
    }

    /// The `Id` of our entry in the trail bucket's notification
    /// configuration (`trail.trigger = "s3"`).
    pub fn notification_id(&self) -> String {
        format!("{}cloudtrail", self.notification_id_prefix)
    }

    /// The artifact bucket `deploy` creates when `artifacts.bucket = "create"`:
    /// `<stack>-artifacts-<account>-<region>`, lowercased, the stack part cut
    /// so that the whole fits S3's 63 characters.
    pub fn created_artifact_bucket(&self, account: &str, region: &str) -> String {
        let suffix = format!("-artifacts-{account}-{region}");
        let room = MAX_BUCKET_NAME.saturating_sub(suffix.len());
        let stack: String = self.stack.to_ascii_lowercase().chars().take(room).collect();
        let stack = stack.trim_end_matches('-');
        format!("{stack}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_stack() {
        let mut settings = Settings::default();
        settings.stack.name = "Trail-Audit".into();
        let names = Names::new(&settings).unwrap();
        assert_eq!(names.ingest_function, "Trail-Audit-ingest");
        assert_eq!(names.data_stack, "Trail-Audit-data");
        assert_eq!(
            Names::log_group(&names.query_function),
            "/aws/lambda/Trail-Audit-query"
        );
        assert_eq!(
            names.created_artifact_bucket("123456789012", "eu-west-1"),
            "trail-audit-artifacts-123456789012-eu-west-1"
        );
        assert_eq!(names.notification_id(), "tracker.Trail-Audit.cloudtrail");
        assert_eq!(names.failure_queue, "Trail-Audit-ingest-failures");
        assert_eq!(names.trail_rule, "Trail-Audit-trail");
    }

    #[test]
    fn long_stack_names_are_refused_or_cut() {
        let mut settings = Settings::default();
        settings.stack.name = "a".repeat(58);
        let e = Names::new(&settings).unwrap_err().to_string();
        assert!(e.contains("stack.name") && e.contains("57"), "{e}");
        settings.stack.name = "a".repeat(57);
        let bucket = Names::new(&settings)
            .unwrap()
            .created_artifact_bucket("123456789012", "ap-southeast-2");
        assert!(bucket.len() <= 63, "{bucket}");
        assert!(bucket.ends_with("-artifacts-123456789012-ap-southeast-2"));
        let names = Names::new(&settings).unwrap();
        for queue in [
            &names.failure_queue,
            &names.backfill_queue,
            &names.backfill_dead_queue,
        ] {
            assert!(queue.len() <= 80, "{queue}");
        }
        assert!(names.trail_rule.len() <= 64, "{}", names.trail_rule);
    }
}
