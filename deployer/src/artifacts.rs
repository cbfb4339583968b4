//! The artifact bucket and the functions' zips in it.
//!
//! A zip is stored as `tracker/<stack>/<sha256 of the zip>.zip`: the same
//! binary always gives the same key, so it is uploaded once, and the stack
//! sees a changed `S3Key` exactly when the code changed. After a successful
//! deploy older zips of the stack are removed (a failed update rolls back
//! to the zip of the last successful deploy, which is kept). With
//! `artifacts.bucket = "create"` the bucket is
//! `<stack>-artifacts-<account>-<region>`, private, and teardown removes it.

use anyhow::Context;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier,
    PublicAccessBlockConfiguration,
};

use crate::clients::Aws;
use crate::console::step;
use crate::errors;
use crate::names::Names;
use crate::package::Package;
use crate::settings::Settings;
use crate::template::CodeLocation;

/// The value of `artifacts.bucket` that asks deploy to make the bucket.
pub const CREATE: &str = "create";

/// Which bucket holds the zips, and whether tracker owns its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactBucket {
    pub name: String,
    /// Made by `deploy` (`artifacts.bucket = "create"`), removed by teardown.
    pub created: bool,
}

impl ArtifactBucket {
    pub fn new(settings: &Settings, names: &Names, aws: &Aws) -> ArtifactBucket {
        if settings.artifacts.bucket == CREATE {
            ArtifactBucket {
                name: names.created_artifact_bucket(&aws.account, &aws.region),
                created: true,
            }
        } else {
            ArtifactBucket {
                name: settings.artifacts.bucket.clone(),
                created: false,
            }
        }
    }
}

/// Where `package` is (or will be) stored.
pub fn location(bucket: &ArtifactBucket, names: &Names, package: &Package) -> CodeLocation {
    CodeLocation {
        bucket: bucket.name.clone(),
        key: format!("{}{}.zip", names.artifact_prefix, package.sha256),
    }
}

/// Whether a bucket exists, and its region when S3 says.
pub enum BucketState {
    Missing,
    Exists { region: Option<String> },
}

/// `HeadBucket`, with missing and foreign buckets told apart from errors.
pub async fn bucket_state(aws: &Aws, bucket: &str) -> anyhow::Result<BucketState> {
    match aws.s3.head_bucket().bucket(bucket).send().await {
        Ok(output) => Ok(BucketState::Exists {
            region: output.bucket_region().map(str::to_owned),
        }),
        Err(e) if errors::is_no_such_bucket(&e) => Ok(BucketState::Missing),
        // A bucket in another region answers 301 with its region in a header.
        Err(e) if errors::bucket_region_header(&e).is_some() => Ok(BucketState::Exists {
            region: errors::bucket_region_header(&e),
        }),
        Err(e) => Err(errors::explain(
            e,
            &format!("cannot read S3 bucket `{bucket}`"),
        )),
    }
}

/// Fails unless `region` (from `HeadBucket`) is the deploy's region.
pub fn check_same_region(
    aws: &Aws,
    bucket: &str,
    region: Option<&str>,
    why: &str,
) -> anyhow::Result<()> {
    match region {
        Some(region) if region != aws.region => anyhow::bail!(
            "S3 bucket `{bucket}` is in {region} but tracker deploys to {}; {why}: set `aws.region = \"{region}\"` \
             in the settings (or AWS_REGION={region})",
            aws.region
        ),
        _ => Ok(()),
    }
}

/// Makes sure the bucket exists: creates it when tracker owns it, else
/// checks it is there and in the right region.
pub async fn ensure_bucket(aws: &Aws, bucket: &ArtifactBucket) -> anyhow::Result<()> {
    match bucket_state(aws, &bucket.name).await? {
        BucketState::Exists { region } => check_same_region(
            aws,
            &bucket.name,
            region.as_deref(),
            "Lambda reads code only from a bucket in its own region",
        ),
        BucketState::Missing if !bucket.created => anyhow::bail!(
            "the artifact bucket `{}` (settings `artifacts.bucket`) does not exist in {}: create it, \
             or set `artifacts.bucket = \"create\"` to let tracker make one",
            bucket.name,
            aws.region
        ),
        BucketState::Missing => create_bucket(aws, &bucket.name).await,
    }
}

async fn create_bucket(aws: &Aws, bucket: &str) -> anyhow::Result<()> {
    step(format!("creating the artifact bucket s3://{bucket}"));
    let mut request = aws.s3.create_bucket().bucket(bucket);
    if aws.region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(aws.region.as_str()))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(e) if errors::is_bucket_ours(&e) => {}
        Err(e) if errors::is_bucket_taken(&e) => anyhow::bail!(
            "the artifact bucket name `{bucket}` is taken by another AWS account: set \
             `artifacts.bucket` in the settings to a bucket of yours in {}",
            aws.region
        ),
        Err(e) => {
            return Err(errors::explain(
                e,
                &format!("cannot create the artifact bucket `{bucket}`"),
            ));
        }
    }
    // New buckets block public access already; say so explicitly anyway.
    aws.s3
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            errors::explain(
                e,
                &format!("cannot block public access to the artifact bucket `{bucket}`"),
            )
        })?;
    Ok(())
}

/// Whether the object exists.
pub async fn exists(aws: &Aws, code: &CodeLocation) -> anyhow::Result<bool> {
    match aws
        .s3
        .head_object()
        .bucket(&code.bucket)
        .key(&code.key)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if errors::is_not_found(&e) || errors::is_no_such_bucket(&e) => Ok(false),
        Err(e) => Err(errors::explain(
            e,
            &format!("cannot read s3://{}/{}", code.bucket, code.key),
        )),
    }
}

/// Uploads the zip unless an object of the same content hash is there.
/// Returns whether it uploaded.
pub async fn upload(aws: &Aws, code: &CodeLocation, package: &Package) -> anyhow::Result<bool> {
    if exists(aws, code).await? {
        step(format!(
            "code unchanged: s3://{}/{} is already there",
            code.bucket, code.key
        ));
        return Ok(false);
    }
    step(format!(
        "uploading {} ({:.1} MB zipped) to s3://{}/{}",
        package.binary.display(),
        package.zip.len() as f64 / 1e6,
        code.bucket,
        code.key
    ));
    aws.s3
        .put_object()
        .bucket(&code.bucket)
        .key(&code.key)
        .content_type("application/zip")
        .body(ByteStream::from(package.zip.clone()))
        .send()
        .await
        .map_err(|e| {
            errors::explain(
                e,
                &format!(
                    "cannot upload the function code to s3://{}/{}",
                    code.bucket, code.key
                ),
            )
        })?;
    Ok(true)
}

/// Keys under `prefix` in `bucket`.
pub async fn list(aws: &Aws, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pages = aws
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| errors::explain(e, &format!("cannot list s3://{bucket}/{prefix}")))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

/// Deletes `keys` from `bucket` (up to 1000 per request).
pub async fn delete_keys(aws: &Aws, bucket: &str, keys: &[String]) -> anyhow::Result<()> {
    for chunk in keys.chunks(1000) {
        let objects = chunk
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .context("building the list of artifacts to delete")?;
        let output = aws
            .s3
            .delete_objects()
            .bucket(bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .context("building the list of artifacts to delete")?,
            )
            .send()
            .await
            .map_err(|e| {
                errors::explain(e, &format!("cannot delete artifacts in s3://{bucket}"))
            })?;
        if let Some(error) = output.errors().first() {
            anyhow::bail!(
                "cannot delete s3://{bucket}/{}: {}",
                error.key().unwrap_or_default(),
                error.message().unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// Whether a key under the stack's prefix is a code zip (rather than a
/// state marker, [`crate::trigger::eventbridge`]).
pub fn is_code_zip(names: &Names, key: &str) -> bool {
    key.strip_prefix(&names.artifact_prefix)
        .is_some_and(|rest| !rest.contains('/') && rest.ends_with(".zip"))
}

/// Removes the stack's older zips, keeping `current`.
pub async fn prune(aws: &Aws, names: &Names, current: &CodeLocation) -> anyhow::Result<usize> {
    let old: Vec<String> = list(aws, &current.bucket, &names.artifact_prefix)
        .await?
        .into_iter()
        .filter(|k| *k != current.key && is_code_zip(names, k))
        .collect();
    delete_keys(aws, &current.bucket, &old).await?;
    Ok(old.len())
}

/// Deletes a bucket tracker created, if nothing else is in it. Returns
/// whether it was deleted (false: it is gone already, or holds other files).
pub async fn delete_created_bucket(aws: &Aws, bucket: &str) -> anyhow::Result<bool> {
    if !list(aws, bucket, "").await?.is_empty() {
        step(format!(
            "keeping the artifact bucket s3://{bucket}: it holds files tracker did not put there"
        ));
        return Ok(false);
    }
    match aws.s3.delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e) if errors::is_no_such_bucket(&e) => Ok(false),
        Err(e) => Err(errors::explain(
            e,
            &format!("cannot delete the artifact bucket `{bucket}`"),
        )),
    }
}
