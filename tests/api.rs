//! The router's contract: exactly the routes `swagger.yaml` documents, JSON
//! errors with 4xx for bad requests, and the same router behind API Gateway
//! (a real proxy event through `lambda_http`). Beside the API, the dashboard's
//! page routes (`dashboard::PAGE_ROUTES`, not API routes): served locally and
//! through API Gateway under a stage prefix, every asset the page names
//! included, all as text `lambda_http` passes through.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use serde_json::Value;
use tower::ServiceExt;
use tracker_runtime::api::{ApiState, ROUTES, dashboard, router};
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
        "/ui",
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

/// `GET uri` through the router: status, content type and body text.
async fn get_text(
    app: &Router,
    request: axum::http::Request<axum::body::Body>,
) -> (u16, String, String, axum::http::HeaderMap) {
    let response = app.clone().oneshot(request).await.expect("router");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let kind = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        kind,
        String::from_utf8_lossy(&body).into_owned(),
        headers,
    )
}

/// The `ui/NAME?v=VERSION` references of the page.
fn asset_references(html: &str) -> Vec<String> {
    html.split("\"ui/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_is_served_beside_the_api() {
    assert_eq!(dashboard::PAGE_ROUTES, ["/", "/ui/{file}"]);
    for route in dashboard::PAGE_ROUTES {
        assert!(
            !ROUTES.contains(route),
            "{route} is a page, not an API route"
        );
    }
    let app = empty_app().await;
    let request = |uri: &str| {
        axum::http::Request::get(uri)
            .body(axum::body::Body::empty())
            .expect("request")
    };
    let (status, kind, html, headers) = get_text(&app, request("/")).await;
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    assert!(html.contains("<base href=\"/\">"), "{html}");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap_or_default()
            .contains("script-src 'self'")
    );
    let assets = asset_references(&html);
    assert!(assets.len() >= 3, "{assets:?}");
    for asset in &assets {
        let (status, kind, body, headers) = get_text(&app, request(&format!("/ui/{asset}"))).await;
        assert_eq!(status, 200, "/ui/{asset}");
        assert!(!body.is_empty() && !kind.is_empty(), "/ui/{asset}");
        assert!(
            headers["cache-control"]
                .to_str()
                .unwrap_or_default()
                .contains("immutable"),
            "a versioned asset is cached for good"
        );
    }
    let (status, kind, body, _) = get_text(&app, request("/ui/app.js")).await;
    assert_eq!(
        (status, kind.as_str()),
        (200, "text/javascript; charset=utf-8")
    );
    assert!(body.contains("x-api-key"), "the page sends the key");
    let (status, _, body, _) = get_text(&app, request("/ui/secrets.txt")).await;
    assert_eq!(status, 404, "{body}");
    let (status, _, body, _) = get_text(
        &app,
        axum::http::Request::head("/")
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, ""));
}

/// A proxy event of the fixture's shape for `path` (under stage `v1`), as
/// API Gateway sends it for `resource`.
fn proxy_event(resource: &str, path: &str, query: &[(&str, &str)]) -> lambda_http::Request {
    let mut event: Value = serde_json::from_str(include_str!("fixtures/apigw-rest-request.json"))
        .expect("the fixture is JSON");
    event["resource"] = resource.into();
    event["path"] = path.into();
    event["requestContext"]["resourcePath"] = resource.into();
    event["requestContext"]["path"] = format!("/v1{path}").into();
    event["pathParameters"] = match path.strip_prefix(resource.trim_end_matches("{proxy+}")) {
        Some(rest) if resource.ends_with("{proxy+}") => serde_json::json!({ "proxy": rest }),
        _ => Value::Null,
    };
    let single: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    let multi: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!([v])))
        .collect();
    event["queryStringParameters"] = if query.is_empty() {
        Value::Null
    } else {
        single.into()
    };
    event["multiValueQueryStringParameters"] = if query.is_empty() {
        Value::Null
    } else {
        multi.into()
    };
    let request =
        lambda_http::request::from_str(&event.to_string()).expect("the proxy event parses");
    tracker_runtime::lambda::behind_api_gateway(request)
}

/// The router's answer as the Lambda host returns it: status, content
/// type, and the body, which must be text (API Gateway has no binary media
/// types configured).
async fn through_lambda(app: &Router, request: lambda_http::Request) -> (u16, String, String) {
    use lambda_http::IntoResponse;
    let response = app.clone().oneshot(request).await.expect("router");
    let response = response.into_response().await;
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = match response.into_body() {
        lambda_http::Body::Text(text) => text,
        lambda_http::Body::Empty => String::new(),
        other => panic!("a {kind} body would go to API Gateway as binary: {other:?}"),
    };
    (status, kind, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_through_api_gateway_under_a_stage() {
    let app = empty_app().await;
    let (status, kind, html) = through_lambda(&app, proxy_event("/", "/", &[])).await;
    assert_eq!(
        (status, kind.as_str()),
        (200, "text/html; charset=utf-8"),
        "{html}"
    );
    assert!(
        html.contains("<base href=\"/v1/\">"),
        "asset and API URLs resolve under the stage: {html}"
    );
    for asset in asset_references(&html) {
        let (name, version) = asset.split_once("?v=").expect("a versioned asset URL");
        let (status, kind, body) = through_lambda(
            &app,
            proxy_event("/ui/{proxy+}", &format!("/ui/{name}"), &[("v", version)]),
        )
        .await;
        assert_eq!(status, 200, "/v1/ui/{asset}: {body}");
        assert!(!body.is_empty(), "/v1/ui/{asset} ({kind})");
    }
    // The data routes the page calls, relative to the same base.
    let (status, kind, body) = through_lambda(
        &app,
        proxy_event(
            "/{proxy+}",
            "/stats",
            &[("by", "principal"), ("from", "2014-01-01")],
        ),
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "application/json"), "{body}");
    let stats: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(stats["by"], "principal");
    let (status, _, body) = through_lambda(
        &app,
        proxy_event("/{proxy+}", "/stats/daily", &[("from", "2014-01-01")]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}
