//! The router's contract: exactly the routes `swagger.yaml` documents, JSON
//! errors with 4xx for bad requests, and the same router behind API Gateway
//! (a real proxy event through `lambda_http`).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use serde_json::Value;
use tower::ServiceExt;
use tracker_runtime::api::{ApiState, ROUTES, router};
use tracker_runtime::store::EventStore;

use crate::support::{get, new_dynamo_store, repo_root, sdk_config};

async fn empty_app() -> Router {
    let sdk = sdk_config().await;
    let store = new_dynamo_store(&sdk).await;
    router(ApiState::new(store as Arc<dyn EventStore>))
}

fn swagger() -> serde_yaml::Value {
    let text =
        std::fs::read_to_string(repo_root().join("swagger.yaml")).expect("read swagger.yaml");
    serde_yaml::from_str(&text).expect("swagger.yaml parses")
}

#[test]
fn swagger_documents_exactly_the_served_routes() {
    let spec = swagger();
    assert_eq!(
        spec["openapi"].as_str().map(|v| &v[..2]),
        Some("3."),
        "OpenAPI 3"
    );
    let documented: BTreeSet<String> = spec["paths"]
        .as_mapping()
        .expect("paths")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    let served: BTreeSet<String> = ROUTES.iter().map(|r| r.to_string()).collect();
    assert_eq!(documented, served);
    for (path, item) in spec["paths"].as_mapping().expect("paths") {
        let methods: Vec<&str> = item
            .as_mapping()
            .expect("path item")
            .keys()
            .filter_map(|k| k.as_str())
            .filter(|k| *k != "parameters")
            .collect();
        assert_eq!(methods, ["get"], "{path:?} is GET only");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served_and_nothing_else() {
    let app = empty_app().await;
    for route in ROUTES {
        let uri = match *route {
            "/stats" => "/stats?by=principal".to_owned(),
            _ => route
                .replace("{user}", "alice")
                .replace("{service}", "ec2")
                .replace("{eventID}", "e-1"),
        };
        let (status, _, body) = get(&app, &uri).await;
        match *route {
            "/events/{eventID}" => assert_eq!(status, 404, "{uri}: {body}"),
            _ => assert_eq!(status, 200, "{uri}: {body}"),
        }
    }
    for uri in [
        "/",
        "/user",
        "/scan/extra",
        "/events",
        "/users/",
        "/nope?x=1",
    ] {
        let (status, _, body) = get(&app, uri).await;
        assert_eq!(status, 404, "{uri} is not a route: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("/scan")),
            "the 404 lists the routes: {body}"
        );
    }
    let request = axum::http::Request::post("/scan")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("router");
    assert_eq!(response.status(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_4xx_json_that_say_what_to_fix() {
    let app = empty_app().await;
    for (uri, needle) in [
        ("/scan?from=yesterday", "`from`"),
        ("/scan?from=2024-02-01&to=2024-01-01", "after"),
        ("/users/bob?limit=0", "`limit`"),
        ("/services/ec2?limit=99999", "`limit`"),
        ("/scan?param=a,b&value=1", "pairs"),
        ("/scan?nextToken=garbage", "nextToken"),
        ("/scan?count=perhaps", "`count`"),
        ("/scan?params=['unclosed&values=x", "unbalanced"),
        ("/scan?fromm=2024-01-01", "fromm"),
    ] {
        let (status, _, body) = get(&app, uri).await;
        assert_eq!(status, 400, "{uri}: {body}");
        let message = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{uri}: no error message: {body}"));
        assert!(
            message.contains(needle),
            "{uri}: `{message}` should mention {needle}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_host_serves_api_gateway_proxy_events() {
    let corpus = crate::support::corpus::moto_corpus();
    let sdk = sdk_config().await;
    let store = tracker_runtime::store::DynamoStore::new(
        crate::support::dynamodb_client(&sdk),
        corpus.table.clone(),
    );
    let app = router(ApiState::new(Arc::new(store)));
    let event = include_str!("fixtures/apigw-rest-request.json");
    let request =
        lambda_http::request::from_str(event).expect("a real API Gateway proxy event parses");
    assert!(
        request.uri().path().starts_with("/v1/"),
        "lambda_http puts the stage in the path: {}",
        request.uri()
    );
    let request = tracker_runtime::lambda::behind_api_gateway(request);
    let response = app.oneshot(request).await.expect("router");
    assert_eq!(response.status(), 200);
    let link = response
        .headers()
        .get("link")
        .and_then(|l| l.to_str().ok())
        .expect("more than 2 events: a Link")
        .to_owned();
    assert!(
        link.starts_with("<https://abc123defg.execute-api.us-east-1.amazonaws.com/v1/scan?"),
        "{link}"
    );
    assert!(link.ends_with(">; rel=\"next\""), "{link}");
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let events: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(events.as_array().map(|a| a.len()), Some(2));
    for key in [
        "eventID",
        "eventName",
        "eventSource",
        "eventTime",
        "userIdentity_userName",
        "awsRegion",
        "recipientAccountId",
        "errorCode",
    ] {
        assert!(events[0].get(key).is_some(), "summary has {key}");
    }
}
