//! The API key and usage plan of `api.auth = "api_key"`, made by SDK calls
//! after the stack, found again by name on every deploy (so re-runs make no
//! duplicates), and removed by teardown (or by a deploy with another auth
//! mode). The key's value is never printed: the summary shows how to read
//! it with the AWS CLI.
//!
//! Also here: removing the REST API left behind by emulators whose stack
//! deletion does not delete it (on AWS it is gone with the stack).

use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::types::{ApiKey, ApiStage, Op, PatchOperation, UsagePlan};

use crate::errors;
use crate::names::Names;

/// The deployment's API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub key_id: String,
    pub usage_plan_id: String,
}

/// Makes sure the key and the plan exist, the plan covers `api_id`'s
/// `stage` (and no stale stage), and the key is in the plan.
pub async fn ensure(
    client: &Client,
    names: &Names,
    api_id: &str,
    stage: &str,
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
        match client.delete_usage_plan().usage_plan_id(id).send().await {
            Ok(_) => removed.usage_plan = true,
            Err(e) if errors::is_not_found(&e) => {}
            Err(e) => {
                return Err(errors::explain(
                    e,
                    &format!("cannot delete usage plan `{}`", names.usage_plan),
                ));
            }
        }
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
