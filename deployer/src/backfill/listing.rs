//! Finding CloudTrail log files in a bucket without walking all of it:
//! `[prefix/]AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/…json.gz`.
//! Accounts, regions, years, months and days are listed level by level with
//! a delimiter, pruned to the delivery days that can hold wanted records,
//! and the remaining day folders are listed in parallel. `CloudTrail-Digest/`
//! and `CloudTrail-Insight/` folders are never entered.

use anyhow::Context;
use aws_sdk_s3::Client;
use chrono::{Datelike, NaiveDate};
use futures::{StreamExt, TryStreamExt, stream};
use tokio::sync::mpsc;

use tracker_runtime::cloudtrail::{LogKind, classify_key};

/// Folders listed at once.
const LIST_CONCURRENCY: usize = 8;

/// One log object to ingest.
#[derive(Debug, Clone)]
pub struct LogObject {
    pub key: String,
    pub size: u64,
    pub etag: String,
}

/// Delivery days to list, inclusive; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryDays {
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
}

impl DeliveryDays {
    fn overlaps(&self, low: NaiveDate, high: NaiveDate) -> bool {
        self.first.is_none_or(|f| high >= f) && self.last.is_none_or(|l| low <= l)
    }

    /// Whether a key's delivery day (from its date folders) may be wanted;
    /// keys without recognisable date folders are kept.
    pub fn admits_key(&self, key: &str) -> bool {
        match delivery_day(key) {
            Some(day) => self.overlaps(day, day),
            None => true,
        }
    }
}

/// The delivery day of a key, from `…/CloudTrail/REGION/YYYY/MM/DD/…`.
pub fn delivery_day(key: &str) -> Option<NaiveDate> {
    let segments: Vec<&str> = key.split('/').collect();
    let at = segments.iter().position(|s| *s == "CloudTrail")?;
    let number = |i: usize| segments.get(at + i).and_then(|s| s.parse::<u32>().ok());
    NaiveDate::from_ymd_opt(number(2)? as i32, number(3)?, number(4)?)
}

/// The common prefixes directly under `prefix` (folders), all pages.
async fn folders(s3: &Client, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| list_error(bucket, prefix, e))?;
        out.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned)),
        );
    }
    Ok(out)
}

fn list_error<E, R>(
    bucket: &str,
    prefix: &str,
    error: aws_sdk_s3::error::SdkError<E, R>,
) -> anyhow::Error
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_s3::error::ProvideErrorMetadata;
    let hint = match error.code() {
        Some("NoSuchBucket") => " (no such bucket: check the name and the region)",
        Some("AccessDenied") => " (access denied: your credentials need s3:ListBucket on it)",
        _ => "",
    };
    anyhow::anyhow!(
        "cannot list s3://{bucket}/{prefix}{hint}: {}",
        aws_sdk_s3::error::DisplayErrorContext(&error)
    )
}

fn last_segment(folder: &str) -> &str {
    folder
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

/// The `…/CloudTrail/REGION/` folders under `root` (which may be a custom
/// prefix, `AWSLogs/`, or an organization folder).
pub async fn region_folders(s3: &Client, bucket: &str, root: &str) -> anyhow::Result<Vec<String>> {
    let mut pending = vec![root.to_owned()];
    let mut accounts = Vec::new();
    while let Some(folder) = pending.pop() {
        for child in folders(s3, bucket, &folder).await? {
            let name = last_segment(&child);
            if name.len() == 12 && name.chars().all(|c| c.is_ascii_digit()) {
                accounts.push(child);
            } else if name == "AWSLogs" || name.starts_with("o-") {
                pending.push(child);
            }
        }
    }
    let mut regions = Vec::new();
    for account in accounts {
        regions.extend(folders(s3, bucket, &format!("{account}CloudTrail/")).await?);
    }
    regions.sort();
    Ok(regions)
}

/// The `YYYY/MM/DD/` folders under a region folder that hold wanted delivery days.
async fn day_folders(
    s3: &Client,
    bucket: &str,
    region: &str,
    days: DeliveryDays,
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for year_folder in folders(s3, bucket, region).await? {
        let Ok(year) = last_segment(&year_folder).parse::<i32>() else {
            continue;
        };
        let (Some(jan1), Some(dec31)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year, 12, 31),
        ) else {
            continue;
        };
        if !days.overlaps(jan1, dec31) {
            continue;
        }
        for month_folder in folders(s3, bucket, &year_folder).await? {
            let Ok(month) = last_segment(&month_folder).parse::<u32>() else {
                continue;
            };
            let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
                continue;
            };
            let last = first
                .checked_add_months(chrono::Months::new(1))
                .and_then(|d| d.pred_opt())
                .unwrap_or(first);
            if !days.overlaps(first, last) {
                continue;
            }
            for day_folder in folders(s3, bucket, &month_folder).await? {
                let Ok(day) = last_segment(&day_folder).parse::<u32>() else {
                    continue;
                };
                if NaiveDate::from_ymd_opt(year, month, day)
                    .is_some_and(|d| d.month() == month && days.overlaps(d, d))
                {
                    out.push(day_folder);
                }
            }
        }
    }
    Ok(out)
}

/// Lists every wanted log object under `root` into `sender`, in parallel,
/// as it is found (so ingest starts before listing ends and memory stays flat).
pub async fn list_logs(
    s3: &Client,
    bucket: &str,
    root: &str,
    days: DeliveryDays,
    sender: mpsc::Sender<LogObject>,
) -> anyhow::Result<()> {
    let regions = region_folders(s3, bucket, root).await?;
    if regions.is_empty() {
        anyhow::bail!(
            "no CloudTrail logs under s3://{bucket}/{root}: expected …/AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/…; \
             check --prefix (or [trail] prefix in the settings)"
        );
    }
    let day_lists: Vec<Vec<String>> = stream::iter(regions)
        .map(|region| async move { day_folders(s3, bucket, &region, days).await })
        .buffer_unordered(LIST_CONCURRENCY)
        .try_collect()
        .await?;
    stream::iter(day_lists.into_iter().flatten())
        .map(|day| {
            let sender = sender.clone();
            async move {
                let mut pages = s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(&day)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| list_error(bucket, &day, e))?;
                    for object in page.contents() {
                        let Some(key) = object.key() else { continue };
                        if classify_key(key) != LogKind::Log {
                            continue;
                        }
                        let log = LogObject {
                            key: key.to_owned(),
                            size: object.size().unwrap_or_default().max(0) as u64,
                            etag: object.e_tag().unwrap_or_default().to_owned(),
                        };
                        if sender.send(log).await.is_err() {
                            return Ok(()); // the consumer stopped
                        }
                    }
                }
                Ok::<(), anyhow::Error>(())
            }
        })
        .buffer_unordered(LIST_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .context("listing the trail's log files")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_days_from_keys() {
        let key = "p/AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2024/02/29/x.json.gz";
        assert_eq!(delivery_day(key), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(
            delivery_day("AWSLogs/1/CloudTrail/r/2024/13/01/x.json.gz"),
            None
        );
        let days = DeliveryDays {
            first: NaiveDate::from_ymd_opt(2024, 3, 1),
            last: NaiveDate::from_ymd_opt(2024, 3, 2),
        };
        assert!(!days.admits_key(key));
        assert!(days.admits_key("AWSLogs/1/CloudTrail/r/2024/03/02/x.json.gz"));
        assert!(days.admits_key("odd/place/x.json.gz"));
    }
}
