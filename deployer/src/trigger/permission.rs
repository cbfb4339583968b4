//! `lambda:AddPermission` letting `s3.amazonaws.com` invoke the ingest
//! function for the trail bucket and account (`trail.trigger = "s3"`).
//! Idempotent: an existing statement with our id is left alone (or replaced
//! if it names another bucket); AWS's ResourceConflictException for a
//! duplicate is success.

use serde_json::Value;

use crate::clients::Aws;
use crate::errors;

/// What [`ensure_permission`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionChange {
    Added,
    /// The statement named another bucket (`trail.bucket` changed), if
    /// its ARN was readable.
    Replaced {
        previous_bucket: Option<String>,
    },
    Unchanged,
}

/// Lets S3 (this bucket, this account) invoke `function`.
pub async fn ensure_permission(
    aws: &Aws,
    function: &str,
    statement_id: &str,
    bucket: &str,
) -> anyhow::Result<PermissionChange> {
    let bucket_arn = aws.bucket_arn(bucket);
    let mut change = PermissionChange::Added;
    if let Some(statement) = find_statement(aws, function, statement_id).await? {
        if statement_matches(&statement, &bucket_arn, &aws.account) {
            return Ok(PermissionChange::Unchanged);
        }
        remove_permission(aws, function, statement_id).await?;
        change = PermissionChange::Replaced {
            previous_bucket: statement_bucket(&statement),
        };
    }
    let mut attempts = 0;
    loop {
        let result = aws
            .lambda
            .add_permission()
            .function_name(function)
            .statement_id(statement_id)
            .action("lambda:InvokeFunction")
            .principal("s3.amazonaws.com")
            .source_arn(&bucket_arn)
            .source_account(&aws.account)
            .send()
            .await;
        match result {
            Ok(_) => return Ok(change),
            // Someone (a concurrent deploy) added it since we looked: fine.
            Err(e) if errors::is_permission_conflict(&e) => return Ok(PermissionChange::Unchanged),
            // The function is still being updated by the stack: retry shortly.
            Err(e) if errors::is_update_in_progress(&e) && attempts < 10 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            Err(e) => {
                return Err(errors::explain(
                    e,
                    &format!(
                        "cannot let S3 bucket `{bucket}` invoke Lambda function `{function}` (lambda:AddPermission)"
                    ),
                ));
            }
        }
    }
}

/// Removes our statement; false when it was not there (or the function is gone).
pub async fn remove_permission(
    aws: &Aws,
    function: &str,
    statement_id: &str,
) -> anyhow::Result<bool> {
    match aws
        .lambda
        .remove_permission()
        .function_name(function)
        .statement_id(statement_id)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if errors::is_not_found(&e) => Ok(false),
        Err(e) => Err(errors::explain(
            e,
            &format!("cannot remove permission `{statement_id}` from Lambda function `{function}`"),
        )),
    }
}

/// Our statement in the function's resource policy, if any.
pub async fn find_statement(
    aws: &Aws,
    function: &str,
    statement_id: &str,
) -> anyhow::Result<Option<Value>> {
    let policy = match aws.lambda.get_policy().function_name(function).send().await {
        Ok(output) => output.policy().unwrap_or_default().to_owned(),
        Err(e) if errors::is_not_found(&e) => return Ok(None),
        Err(e) => {
            return Err(errors::explain(
                e,
                &format!("cannot read the permissions of Lambda function `{function}`"),
            ));
        }
    };
    Ok(statements(&policy)
        .into_iter()
        .find(|s| s.get("Sid").and_then(Value::as_str) == Some(statement_id)))
}

/// The statements of a resource policy document (empty if unreadable).
pub fn statements(policy: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(policy)
        .ok()
        .and_then(|p| p.get("Statement").cloned())
        .map(|s| match s {
            Value::Array(list) => list,
            one => vec![one],
        })
        .unwrap_or_default()
}

/// The bucket a statement lets S3 invoke for (`arn:aws:s3:::NAME` → NAME).
pub fn statement_bucket(statement: &Value) -> Option<String> {
    statement["Condition"]["ArnLike"]["AWS:SourceArn"]
        .as_str()
        .and_then(|arn| arn.rsplit_once(":::"))
        .map(|(_, bucket)| bucket.to_owned())
        .filter(|b| !b.is_empty())
}

/// Whether a statement grants S3 this bucket and account.
fn statement_matches(statement: &Value, bucket_arn: &str, account: &str) -> bool {
    let condition = &statement["Condition"];
    condition["ArnLike"]["AWS:SourceArn"].as_str() == Some(bucket_arn)
        && condition["StringEquals"]["AWS:SourceAccount"].as_str() == Some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_policy_statements() {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"x","Condition":{
            "ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"},"StringEquals":{"AWS:SourceAccount":"1"}}}]}"#;
        let list = statements(policy);
        assert_eq!(list.len(), 1);
        assert!(statement_matches(&list[0], "arn:aws:s3:::b", "1"));
        assert!(!statement_matches(&list[0], "arn:aws:s3:::c", "1"));
        assert!(statements("not json").is_empty());
        assert_eq!(statement_bucket(&list[0]).as_deref(), Some("b"));
    }
}
