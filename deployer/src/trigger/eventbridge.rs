//! The bucket's EventBridge delivery (`trail.trigger = "eventbridge"`) is a
//! switch on a bucket that is not ours, which other tools may rely on:
//! deploy records, in the artifact bucket, that it turned the switch on
//! (`tracker/<stack>/state/eventbridge-enabled/<bucket>`), and only then is
//! it turned off again (teardown, or a switch back to `"s3"`). A delivery
//! that was on before tracker is left on.

use aws_sdk_s3::primitives::ByteStream;

use crate::artifacts::{self, ArtifactBucket};
use crate::clients::Aws;
use crate::errors;
use crate::names::Names;

fn marker_key(names: &Names, bucket: &str) -> String {
    format!("{}{bucket}", names.eventbridge_marker_prefix)
}

/// Records that deploy turns on the EventBridge delivery of `bucket`
/// (written before the switch, so a failure in between errs on the side of
/// turning it off later, which it was anyway).
pub async fn record_enabled(
    aws: &Aws,
    artifacts: &ArtifactBucket,
    names: &Names,
    bucket: &str,
) -> anyhow::Result<()> {
    let key = marker_key(names, bucket);
    aws.s3
        .put_object()
        .bucket(&artifacts.name)
        .key(&key)
        .content_type("text/plain")
        .body(ByteStream::from(
            format!(
                "tracker `{}` turned on the EventBridge delivery of s3://{bucket}\n",
                names.stack
            )
            .into_bytes(),
        ))
        .send()
        .await
        .map_err(|e| errors::explain(e, &format!("cannot write s3://{}/{key}", artifacts.name)))?;
    Ok(())
}

/// The buckets whose EventBridge delivery deploy turned on.
pub async fn enabled_by_tracker(
    aws: &Aws,
    artifacts: &ArtifactBucket,
    names: &Names,
) -> anyhow::Result<Vec<String>> {
    let keys = match artifacts::bucket_state(aws, &artifacts.name).await? {
        artifacts::BucketState::Exists { .. } => {
            artifacts::list(aws, &artifacts.name, &names.eventbridge_marker_prefix).await?
        }
        artifacts::BucketState::Missing => Vec::new(),
    };
    Ok(keys
        .iter()
        .filter_map(|k| k.strip_prefix(&names.eventbridge_marker_prefix))
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Forgets that deploy turned on the delivery of `bucket`.
pub async fn forget(
    aws: &Aws,
    artifacts: &ArtifactBucket,
    names: &Names,
    bucket: &str,
) -> anyhow::Result<()> {
    artifacts::delete_keys(aws, &artifacts.name, &[marker_key(names, bucket)]).await
}
