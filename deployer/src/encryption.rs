//! Reading KMS-encrypted log files needs `kms:Decrypt` on the key
//! (`trail.kms_key_arn`): without it every `GetObject` of the ingest
//! function fails. Deploy reads the trail bucket's default encryption
//! (`GetBucketEncryption`) and refuses when it names a key the settings do
//! not, before anything is created.
//!
//! A trail can also encrypt its files with its own key whatever the
//! bucket's default (`aws cloudtrail describe-trails` shows `KmsKeyId`);
//! reading that would need the CloudTrail API (and its SDK crate, a
//! sizeable build for one call), so it is left to the README and to the
//! on-failure queue, which keeps every object the function could not read.

use crate::clients::Aws;
use crate::errors;
use crate::settings::Settings;

/// The bucket's default encryption of new objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketEncryption {
    /// None configured, or SSE-S3 (S3 decrypts without any key grant).
    S3Managed,
    /// SSE-KMS with this key (an ARN, key id or alias), or with the AWS
    /// managed `aws/s3` key when None (usable by the account's roles
    /// through S3 without a grant).
    Kms { key: Option<String> },
    /// It could not be read (the deploying credentials may lack
    /// `s3:GetEncryptionConfiguration`).
    Unreadable(String),
}

/// Reads the bucket's default encryption.
pub async fn bucket_encryption(aws: &Aws, bucket: &str) -> anyhow::Result<BucketEncryption> {
    match aws
        .s3
        .get_bucket_encryption()
        .bucket(bucket)
        .expected_bucket_owner(&aws.account)
        .send()
        .await
    {
        Ok(output) => {
            let rule = output
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|r| r.apply_server_side_encryption_by_default());
            Ok(match rule {
                Some(rule) if rule.sse_algorithm().as_str().starts_with("aws:kms") => {
                    BucketEncryption::Kms {
                        key: rule
                            .kms_master_key_id()
                            .filter(|k| !k.is_empty())
                            .map(str::to_owned),
                    }
                }
                _ => BucketEncryption::S3Managed,
            })
        }
        Err(e) if errors::code(&e) == Some("ServerSideEncryptionConfigurationNotFoundError") => {
            Ok(BucketEncryption::S3Managed)
        }
        Err(e) if errors::is_access_denied(&e) => {
            Ok(BucketEncryption::Unreadable(errors::describe(&e)))
        }
        Err(e) => Err(errors::explain(
            e,
            &format!("cannot read the default encryption of S3 bucket `{bucket}`"),
        )),
    }
}

/// Refuses a KMS-encrypted bucket without `trail.kms_key_arn`; returns a
/// warning for what it cannot be sure of.
pub fn check(
    settings: &Settings,
    bucket: &str,
    found: &BucketEncryption,
) -> anyhow::Result<Option<String>> {
    let wanted = settings.trail.kms_key_arn.as_deref();
    match (found, wanted) {
        (BucketEncryption::Kms { key: Some(key) }, None) => {
            let how = if key.starts_with("arn:") && key.contains(":key/") {
                format!("`trail.kms_key_arn = \"{key}\"`")
            } else {
                format!(
                    "`trail.kms_key_arn` to that key's ARN (`aws kms describe-key --key-id {key} \
                     --query KeyMetadata.Arn`)"
                )
            };
            anyhow::bail!(
                "S3 bucket `{bucket}` encrypts new objects with KMS key `{key}` (SSE-KMS), and the \
                 ingest function could not read the log files without kms:Decrypt on it: set {how} \
                 in the settings (nothing was created)"
            )
        }
        (BucketEncryption::Kms { key: Some(key) }, Some(wanted)) if !key_matches(key, wanted) => {
            Ok(Some(format!(
                "S3 bucket `{bucket}` encrypts new objects with KMS key `{key}` by default, and \
                 `trail.kms_key_arn` is `{wanted}`: log files can be read only if the trail \
                 encrypts them with `{wanted}` (`aws cloudtrail describe-trails` shows its KmsKeyId)"
            )))
        }
        (BucketEncryption::Unreadable(reason), None) => Ok(Some(format!(
            "could not read the default encryption of S3 bucket `{bucket}` ({reason}); if the \
             trail's log files are KMS-encrypted, set `trail.kms_key_arn`"
        ))),
        _ => Ok(None),
    }
}

/// Whether the bucket's key (ARN, id or alias) is the settings' key ARN.
fn key_matches(bucket_key: &str, wanted_arn: &str) -> bool {
    bucket_key == wanted_arn
        || wanted_arn
            .rsplit_once(":key/")
            .is_some_and(|(_, id)| id == bucket_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn settings(key: Option<&str>) -> Settings {
        let mut s = Settings::default();
        s.trail.kms_key_arn = key.map(str::to_owned);
        s
    }

    #[test]
    fn a_kms_bucket_needs_the_key() {
        let kms = BucketEncryption::Kms {
            key: Some(KEY.into()),
        };
        let e = check(&settings(None), "trail", &kms)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("trail.kms_key_arn = \"{KEY}\""))
                && e.contains("nothing was created"),
            "{e}"
        );
        let by_id = BucketEncryption::Kms {
            key: Some("1234abcd-12ab-34cd-56ef-1234567890ab".into()),
        };
        let e = check(&settings(None), "trail", &by_id)
            .unwrap_err()
            .to_string();
        assert!(e.contains("aws kms describe-key --key-id 1234abcd"), "{e}");
        assert_eq!(check(&settings(Some(KEY)), "trail", &kms).unwrap(), None);
        assert_eq!(check(&settings(Some(KEY)), "trail", &by_id).unwrap(), None);
        let other = BucketEncryption::Kms {
            key: Some("arn:aws:kms:us-east-1:123456789012:key/other".into()),
        };
        let warning = check(&settings(Some(KEY)), "trail", &other)
            .unwrap()
            .unwrap();
        assert!(warning.contains("describe-trails"), "{warning}");
        // SSE-S3 and the AWS managed key need nothing.
        for fine in [
            BucketEncryption::S3Managed,
            BucketEncryption::Kms { key: None },
        ] {
            assert_eq!(check(&settings(None), "trail", &fine).unwrap(), None);
        }
        let warning = check(
            &settings(None),
            "trail",
            &BucketEncryption::Unreadable("AccessDenied".into()),
        )
        .unwrap()
        .unwrap();
        assert!(warning.contains("trail.kms_key_arn"), "{warning}");
    }
}
