//! The REST API's protection and stages.
//!
//! Against moto: the usage plan follows `api.throttle_rate`,
//! `api.throttle_burst` and `api.daily_quota` (changed in place, the quota
//! removed with 0); a renamed `api.stage` leaves no old stage serving the
//! API; `auth = "iam"` removes the key and plan. With aws-smithy-mocks: an
//! existing key and plan are reused (a key already in its plan is success
//! on AWS); deleting a usage plan waits while API Gateway still sees it
//! attached after the detach.

use std::time::Duration;

use aws_smithy_mocks::mock;
use tracker_deployer::apikey;
use tracker_deployer::names::Names;
use tracker_deployer::sdk::apigateway;
use tracker_deployer::settings::{AuthMode, Settings};

use super::support::*;
use crate::support::{new_bucket, s3_client, sdk_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_stages_follow_the_settings() {
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let apigw = apigateway::Client::new(&sdk);
    let trail = new_bucket(&s3).await;
    let mut settings = settings(&trail);
    let dir = tempfile::tempdir().unwrap();
    let binary = small_binary(dir.path());
    let first = deploy(&settings, &binary).await;
    let stages = |api_id: String| {
        let apigw = apigw.clone();
        async move {
            let mut names: Vec<String> = apigw
                .get_stages()
                .rest_api_id(api_id)
                .send()
                .await
                .expect("stages")
                .item()
                .iter()
                .filter_map(|s| s.stage_name().map(str::to_owned))
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(stages(first.api_id.clone()).await, ["v1"]);

    settings.api.stage = "v2".into();
    settings.api.throttle_rate = 5;
    settings.api.throttle_burst = 7;
    settings.api.daily_quota = 0;
    let second = deploy(&settings, &binary).await;
    assert_eq!(second.api_id, first.api_id);
    assert_eq!(
        stages(second.api_id.clone()).await,
        ["v2"],
        "the old stage no longer serves the API"
    );
    assert!(second.api_url.ends_with("/v2"), "{}", second.api_url);
    let key = second.api_key.clone().expect("a key");
    let plan = apigw
        .get_usage_plan()
        .usage_plan_id(&key.usage_plan_id)
        .send()
        .await
        .expect("the plan");
    let plan_stages: Vec<(String, String)> = plan
        .api_stages()
        .iter()
        .map(|s| {
            (
                s.api_id().unwrap_or_default().to_owned(),
                s.stage().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(plan_stages, [(second.api_id.clone(), "v2".to_owned())]);
    let throttle = plan.throttle().expect("a throttle");
    assert_eq!((throttle.rate_limit(), throttle.burst_limit()), (5.0, 7));
    assert!(
        plan.quota().is_none_or(|q| q.limit() == 0),
        "daily_quota = 0 sets no quota: {:?}",
        plan.quota()
    );

    settings.api.auth = AuthMode::Iam;
    deploy(&settings, &binary).await;
    let names = Names::new(&settings).unwrap();
    assert!(
        apigw
            .get_api_keys()
            .name_query(&names.api_key)
            .send()
            .await
            .unwrap()
            .items()
            .is_empty(),
        "no key with auth = \"iam\""
    );
    teardown(&settings, true).await;
}

/// API Gateway refuses to delete a plan that looks attached for a moment
/// after its stages were detached: teardown retries instead of failing.
#[tokio::test]
async fn deleting_a_usage_plan_waits_for_the_detach() {
    use apigateway::operation::delete_usage_plan::{DeleteUsagePlanError, DeleteUsagePlanOutput};
    use apigateway::types::error::BadRequestException;
    const ATTACHED: &str =
        "Cannot delete Usage Plan p1 because there are API Stages associated with it";
    let delete = mock!(apigateway::Client::delete_usage_plan)
        .sequence()
        .error(|| {
            DeleteUsagePlanError::BadRequestException(
                BadRequestException::builder()
                    .message(ATTACHED)
                    .meta(meta("BadRequestException", ATTACHED))
                    .build(),
            )
        })
        .times(2)
        .output(|| DeleteUsagePlanOutput::builder().build())
        .build();
    let aws = mocked(MockRules {
        apigateway: &[&delete],
        ..MockRules::default()
    });
    let deleted = apikey::delete_plan(&aws.apigateway, "p1", "t-plan", Duration::from_secs(30))
        .await
        .expect("deleted once the detach settled");
    assert!(deleted);
    assert_eq!(delete.num_calls(), 3);

    // It gives up (with the reason) when the plan stays attached.
    let stuck = mock!(apigateway::Client::delete_usage_plan).then_error(|| {
        DeleteUsagePlanError::BadRequestException(
            BadRequestException::builder()
                .message(ATTACHED)
                .meta(meta("BadRequestException", ATTACHED))
                .build(),
        )
    });
    let aws = mocked(MockRules {
        apigateway: &[&stuck],
        ..MockRules::default()
    });
    let e = apikey::delete_plan(&aws.apigateway, "p1", "t-plan", Duration::from_millis(600))
        .await
        .expect_err("still attached");
    assert!(format!("{e:#}").contains("API Stages associated"), "{e:#}");
}

/// A key already in its plan (ConflictException on AWS) is success, and an
/// existing key and plan are reused, not duplicated.
#[tokio::test]
async fn api_key_and_usage_plan_are_reused() {
    use apigateway::operation::create_usage_plan_key::CreateUsagePlanKeyError;
    use apigateway::operation::get_api_keys::GetApiKeysOutput;
    use apigateway::operation::get_usage_plan_keys::GetUsagePlanKeysOutput;
    use apigateway::operation::get_usage_plans::GetUsagePlansOutput;
    use apigateway::types::error::ConflictException;
    use apigateway::types::{
        ApiKey, ApiStage, QuotaPeriodType, QuotaSettings, ThrottleSettings, UsagePlan,
    };
    let mut settings = Settings::default();
    settings.stack.name = "t".into();
    let names = Names::new(&settings).unwrap();
    let key_name = names.api_key.clone();
    let plan_name = names.usage_plan.clone();
    let keys = mock!(apigateway::Client::get_api_keys).then_output(move || {
        GetApiKeysOutput::builder()
            .items(ApiKey::builder().id("k1").name(key_name.clone()).build())
            .build()
    });
    let plans = mock!(apigateway::Client::get_usage_plans).then_output(move || {
        GetUsagePlansOutput::builder()
            .items(
                UsagePlan::builder()
                    .id("p1")
                    .name(plan_name.clone())
                    .api_stages(ApiStage::builder().api_id("api1").stage("v1").build())
                    .throttle(
                        ThrottleSettings::builder()
                            .rate_limit(10.0)
                            .burst_limit(20)
                            .build(),
                    )
                    .quota(
                        QuotaSettings::builder()
                            .limit(10_000)
                            .period(QuotaPeriodType::Day)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let plan_keys = mock!(apigateway::Client::get_usage_plan_keys)
        .then_output(|| GetUsagePlanKeysOutput::builder().build());
    let add_key = mock!(apigateway::Client::create_usage_plan_key).then_error(|| {
        CreateUsagePlanKeyError::ConflictException(
            ConflictException::builder()
                .message(IN_PLAN)
                .meta(meta("ConflictException", IN_PLAN))
                .build(),
        )
    });
    let create_key = mock!(apigateway::Client::create_api_key).then_output(|| {
        apigateway::operation::create_api_key::CreateApiKeyOutput::builder().build()
    });
    let create_plan = mock!(apigateway::Client::create_usage_plan).then_output(|| {
        apigateway::operation::create_usage_plan::CreateUsagePlanOutput::builder().build()
    });
    let update_plan = mock!(apigateway::Client::update_usage_plan).then_output(|| {
        apigateway::operation::update_usage_plan::UpdateUsagePlanOutput::builder().build()
    });
    let aws = mocked(MockRules {
        apigateway: &[
            &keys,
            &plans,
            &plan_keys,
            &add_key,
            &create_key,
            &create_plan,
            &update_plan,
        ],
        ..MockRules::default()
    });
    let limits = apikey::Limits::of(&Settings::default().api);
    let info = apikey::ensure(&aws.apigateway, &names, "api1", "v1", limits)
        .await
        .expect("reuse");
    assert_eq!(info.key_id, "k1");
    assert_eq!(info.usage_plan_id, "p1");
    assert_eq!(create_key.num_calls(), 0);
    assert_eq!(create_plan.num_calls(), 0);
    assert_eq!(
        update_plan.num_calls(),
        0,
        "the plan already covers the stage, with the same limits"
    );
    assert_eq!(add_key.num_calls(), 1);
}
