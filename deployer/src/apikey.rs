//! The API key and usage plan of `api.auth = "api_key"`, made by SDK calls
//! after the stack, found again by name on every deploy (so re-runs make no
//! duplicates), and removed by teardown (or by a deploy with another auth
//! mode). The key's value is never printed: the summary shows how to read
//! it with the AWS CLI.
//!
//! The plan limits every key: a steady rate and a burst (`api.throttle_rate`,
//! `api.throttle_burst`) and a daily quota (`api.daily_quota`), so a leaked
//! key cannot read the whole table at will.
//!
//! Also here: stages of the REST API other than `api.stage` (left by a
//! renamed stage) are deleted, so an old URL stops answering; and the REST
//! API left behind by emulators whose stack deletion does not delete it (on
//! AWS it is gone with the stack) is removed.

use std::time::Duration;

use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::types::{
    ApiKey, ApiStage, Op, PatchOperation, QuotaPeriodType, QuotaSettings, ThrottleSettings,
    UsagePlan,
};

use crate::console::step;
use crate::errors;
use crate::names::Names;
use crate::settings::ApiSettings;

/// The usage plan's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests per second, steadily.
    pub rate: u32,
    /// Requests at once.
    pub burst: u32,
    /// Requests per day; 0 is none.
    pub daily_quota: u32,
}

impl Limits {
    pub fn of(api: &ApiSettings) -> Limits {
        Limits {
            rate: api.throttle_rate,
            burst: api.throttle_burst,
            daily_quota: api.daily_quota,
        }
    }

    /// The patch that brings `plan`'s throttle and quota to these limits.
    fn patch(&self, plan: &UsagePlan) -> Vec<PatchOperation> {
        let mut patch = Vec::new();
        let throttle = plan.throttle();
        if throttle.map(|t| t.rate_limit()) != Some(f64::from(self.rate)) {
            patch.push(op(
                Op::Replace,
                "/throttle/rateLimit",
                &self.rate.to_string(),
            ));
        }
        if throttle.map(|t| t.burst_limit()) != Some(self.burst as i32) {
            patch.push(op(
                Op::Replace,
                "/throttle/burstLimit",
                &self.burst.to_string(),
            ));
        }
        let quota = plan.quota();
        match (self.daily_quota, quota) {
            (0, Some(_)) => patch.push(
                PatchOperation::builder()
                    .op(Op::Remove)
                    .path("/quota")
                    .build(),
            ),
            (0, None) => {}
            (limit, quota) => {
                if quota.map(|q| q.limit()) != Some(limit as i32) {
                    patch.push(op(Op::Replace, "/quota/limit", &limit.to_string()));
                }
                if quota.and_then(|q| q.period()) != Some(&QuotaPeriodType::Day) {
                    patch.push(op(Op::Replace, "/quota/period", "DAY"));
                }
            }
        }
        patch
    }
}

fn op(op: Op, path: &str, value: &str) -> PatchOperation {
    PatchOperation::builder()
        .op(op)
        .path(path)
        .value(value)
        .build()
}

/// The deployment's API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub key_id: String,
    pub usage_plan_id: String,
}

/// Makes sure the key and the plan exist, the plan covers `api_id`'s
/// `stage` (and no stale stage) with `limits`, and the key is in the plan.
pub async fn ensure(
    client: &Client,
    names: &Names,
    api_id: &str,
    stage: &str,
    limits: Limits,
) -> anyhow::Result<ApiKeyInfo> {
    let key_id = match find_key(client, &names.api_key).await? {
        Some(key) => key.id().unwrap_or_default().to_owned(),
        None => client
            .create_api_key()
            .name(&names.api_key)
            .description(format!("tracker `{}`: the query API's key", names.stack))
            .enabled(true)
            .send()
            .await
            .map_err(|e| errors::explain(e, &format!("cannot create API key `{}`", names.api_key)))?
            .id()
            .unwrap_or_default()
            .to_owned(),
    };
    let wanted = format!("{api_id}:{stage}");
    let plan_id = match find_plan(client, &names.usage_plan).await? {
        Some(plan) => {
            let id = plan.id().unwrap_or_default().to_owned();
            let present: Vec<String> = plan
                .api_stages()
                .iter()
                .map(|s| {
                    format!(
                        "{}:{}",
                        s.api_id().unwrap_or_default(),
                        s.stage().unwrap_or_default()
                    )
                })
                .collect();
            let mut patch = Vec::new();
            for stale in present.iter().filter(|s| **s != wanted) {
                patch.push(stage_patch(Op::Remove, stale));
            }
            if !present.contains(&wanted) {
                patch.push(stage_patch(Op::Add, &wanted));
            }
            patch.extend(limits.patch(&plan));
            if !patch.is_empty() {
                client
                    .update_usage_plan()
                    .usage_plan_id(&id)
                    .set_patch_operations(Some(patch))
                    .send()
                    .await
                    .map_err(|e| {
                        errors::explain(
                            e,
                            &format!("cannot update usage plan `{}`", names.usage_plan),
                        )
                    })?;
            }
            id
        }
        None => client
            .create_usage_plan()
            .name(&names.usage_plan)
            .description(format!(
                "tracker `{}`: who may call the query API",
                names.stack
            ))
            .api_stages(ApiStage::builder().api_id(api_id).stage(stage).build())
            .throttle(
                ThrottleSettings::builder()
                    .rate_limit(f64::from(limits.rate))
                    .burst_limit(limits.burst as i32)
                    .build(),
            )
            .set_quota((limits.daily_quota > 0).then(|| {
                QuotaSettings::builder()
                    .limit(limits.daily_quota as i32)
                    .period(QuotaPeriodType::Day)
                    .build()
            }))
            .send()
            .await
            .map_err(|e| {
                errors::explain(
                    e,
                    &format!("cannot create usage plan `{}`", names.usage_plan),
                )
            })?
            .id()
            .unwrap_or_default()
            .to_owned(),
    };
    let keys = client
        .get_usage_plan_keys()
        .usage_plan_id(&plan_id)
        .limit(500)
        .send()
        .await
        .map_err(|e| {
            errors::explain(
                e,
                &format!("cannot list the keys of usage plan `{}`", names.usage_plan),
            )
        })?;
    if !keys.items().iter().any(|k| k.id() == Some(key_id.as_str())) {
        match client
            .create_usage_plan_key()
            .usage_plan_id(&plan_id)
            .key_id(&key_id)
            .key_type("API_KEY")
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if errors::is_conflict(&e) => {}
            Err(e) => {
                return Err(errors::explain(
                    e,
                    &format!(
                        "cannot add API key `{}` to usage plan `{}`",
                        names.api_key, names.usage_plan
                    ),
                ));
            }
        }
    }
    Ok(ApiKeyInfo {
        key_id,
        usage_plan_id: plan_id,
    })
}

fn stage_patch(op: Op, value: &str) -> PatchOperation {
    PatchOperation::builder()
        .op(op)
        .path("/apiStages")
        .value(value)
        .build()
}

/// What [`remove`] found and deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub usage_plan: bool,
    pub api_key: bool,
}

/// The key and plan that [`ensure`] would find.
pub async fn existing(
    client: &Client,
    names: &Names,
) -> anyhow::Result<(Option<ApiKey>, Option<UsagePlan>)> {
    Ok((
        find_key(client, &names.api_key).await?,
        find_plan(client, &names.usage_plan).await?,
    ))
}

/// Deletes the usage plan (after detaching its stages, which API Gateway
/// requires) and the key. Missing ones are not an error.
pub async fn remove(client: &Client, names: &Names) -> anyhow::Result<Removed> {
    let mut removed = Removed::default();
    if let Some(plan) = find_plan(client, &names.usage_plan).await? {
        let id = plan.id().unwrap_or_default();
        let detach: Vec<PatchOperation> = plan
            .api_stages()
            .iter()
            .map(|s| {
                stage_patch(
                    Op::Remove,
                    &format!(
                        "{}:{}",
                        s.api_id().unwrap_or_default(),
                        s.stage().unwrap_or_default()
                    ),
                )
            })
            .collect();
        if !detach.is_empty() {
            match client
                .update_usage_plan()
                .usage_plan_id(id)
                .set_patch_operations(Some(detach))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if errors::is_not_found(&e) => {}
                Err(e) => {
                    return Err(errors::explain(
                        e,
                        &format!(
                            "cannot detach usage plan `{}` from the API",
                            names.usage_plan
                        ),
                    ));
                }
            }
        }
        removed.usage_plan = delete_plan(client, id, &names.usage_plan, DETACH_SETTLE).await?;
    }
    if let Some(key) = find_key(client, &names.api_key).await? {
        match client
            .delete_api_key()
            .api_key(key.id().unwrap_or_default())
            .send()
            .await
        {
            Ok(_) => removed.api_key = true,
            Err(e) if errors::is_not_found(&e) => {}
            Err(e) => {
                return Err(errors::explain(
                    e,
                    &format!("cannot delete API key `{}`", names.api_key),
                ));
            }
        }
    }
    Ok(removed)
}

/// How long, at most, the deletion of a usage plan waits for the detach of
/// its stages to settle (API Gateway refuses to delete a plan that still
/// looks attached for a few seconds after the detach).
const DETACH_SETTLE: Duration = Duration::from_secs(60);

/// Deletes the plan, retried while API Gateway still sees it attached
/// (`BadRequestException`/`ConflictException`) or throttles the call.
/// Returns false when it was gone already.
pub async fn delete_plan(
    client: &Client,
    id: &str,
    name: &str,
    settle: Duration,
) -> anyhow::Result<bool> {
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        match client.delete_usage_plan().usage_plan_id(id).send().await {
            Ok(_) => return Ok(true),
            Err(e) if errors::is_not_found(&e) => return Ok(false),
            Err(e)
                if (errors::is_bad_request_or_conflict(&e) || errors::is_too_many_requests(&e))
                    && started.elapsed() + delay <= settle =>
            {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                return Err(errors::explain(
                    e,
                    &format!("cannot delete usage plan `{name}`"),
                ));
            }
        }
    }
}

/// Deletes every stage of the API but `keep` (a stage left by a renamed
/// `api.stage` would go on serving the API at its old URL). Returns the
/// deleted stages.
pub async fn remove_other_stages(
    client: &Client,
    api_id: &str,
    keep: &str,
) -> anyhow::Result<Vec<String>> {
    let stages = client
        .get_stages()
        .rest_api_id(api_id)
        .send()
        .await
        .map_err(|e| {
            errors::explain(e, &format!("cannot list the stages of REST API `{api_id}`"))
        })?;
    let mut removed = Vec::new();
    for stage in stages.item() {
        let Some(name) = stage.stage_name().filter(|n| *n != keep) else {
            continue;
        };
        match client
            .delete_stage()
            .rest_api_id(api_id)
            .stage_name(name)
            .send()
            .await
        {
            Ok(_) => {
                step(format!(
                    "deleted stage `{name}` of the REST API (api.stage is now `{keep}`)"
                ));
                removed.push(name.to_owned());
            }
            Err(e) if errors::is_not_found(&e) => {}
            Err(e) => {
                return Err(errors::explain(
                    e,
                    &format!("cannot delete the old stage `{name}` of REST API `{api_id}`"),
                ));
            }
        }
    }
    Ok(removed)
}

/// The API key named exactly `name`.
async fn find_key(client: &Client, name: &str) -> anyhow::Result<Option<ApiKey>> {
    let mut position = None;
    loop {
        let page = client
            .get_api_keys()
            .name_query(name)
            .include_values(false)
            .limit(500)
            .set_position(position)
            .send()
            .await
            .map_err(|e| errors::explain(e, &format!("cannot look up API key `{name}`")))?;
        if let Some(key) = page.items().iter().find(|k| k.name() == Some(name)) {
            return Ok(Some(key.clone()));
        }
        match page.position() {
            Some(next) if !page.items().is_empty() => position = Some(next.to_owned()),
            _ => return Ok(None),
        }
    }
}

/// The usage plan named exactly `name`.
async fn find_plan(client: &Client, name: &str) -> anyhow::Result<Option<UsagePlan>> {
    let mut position = None;
    loop {
        let page = client
            .get_usage_plans()
            .limit(500)
            .set_position(position)
            .send()
            .await
            .map_err(|e| errors::explain(e, &format!("cannot look up usage plan `{name}`")))?;
        if let Some(plan) = page.items().iter().find(|p| p.name() == Some(name)) {
            return Ok(Some(plan.clone()));
        }
        match page.position() {
            Some(next) if !page.items().is_empty() => position = Some(next.to_owned()),
            _ => return Ok(None),
        }
    }
}

/// Deletes the REST API `api_id` if it still exists after its stack was
/// deleted (moto leaves it behind; on AWS it is already gone). Returns
/// whether it deleted one.
pub async fn remove_leftover_api(client: &Client, api_id: &str) -> anyhow::Result<bool> {
    match client.get_rest_api().rest_api_id(api_id).send().await {
        Ok(_) => {}
        Err(e) if errors::is_not_found(&e) => return Ok(false),
        Err(e) => {
            return Err(errors::explain(
                e,
                &format!("cannot check REST API `{api_id}`"),
            ));
        }
    }
    match client.delete_rest_api().rest_api_id(api_id).send().await {
        Ok(_) => Ok(true),
        Err(e) if errors::is_not_found(&e) => Ok(false),
        Err(e) => Err(errors::explain(
            e,
            &format!("cannot delete REST API `{api_id}` (left after its stack)"),
        )),
    }
}
