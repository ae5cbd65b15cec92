//! Arbitrary bytes as an HTTP/1 request, parsed as hyper does (httparse),
//! through the server's request decisions: path and method routing, Accept
//! negotiation, Accept-Encoding, the scrape timeout header, query strings,
//! and basic-auth credentials. Never a panic, and every decision is one the
//! server can answer.

#![no_main]

use std::sync::OnceLock;

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Uri};
use libfuzzer_sys::fuzz_target;
use wasm_exporter::exposition::Format;
use wasm_exporter::server::{Route, plan};
use wasm_exporter::webconfig::WebSecurity;

/// One user, `u:p`, with the cheapest bcrypt cost, so credentials that
/// decode reach bcrypt without slowing the fuzzer much.
fn web() -> &'static WebSecurity {
    static WEB: OnceLock<WebSecurity> = OnceLock::new();
    WEB.get_or_init(|| {
        let hash = bcrypt::hash("p", 4).expect("hashing");
        WebSecurity::parse(
            &format!("basic_auth_users:\n  u: '{hash}'\n"),
            std::path::Path::new("/"),
        )
        .expect("the fixed web config parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(_)) = req.parse(data) else {
        return;
    };
    let (Some(method), Some(path)) = (req.method, req.path) else {
        return;
    };
    // What hyper refuses with 400 never reaches the service.
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let Ok(uri) = path.parse::<Uri>() else {
        return;
    };
    let mut map = HeaderMap::new();
    for h in req.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) else {
            return;
        };
        map.append(name, value);
    }
    match plan(&method, &uri, &map, "/metrics") {
        Route::Metrics(scrape) => {
            assert_eq!(uri.path(), "/metrics");
            assert!(HeaderValue::from_str(scrape.format.content_type()).is_ok());
            if let Some(budget) = scrape.budget {
                assert!(!budget.is_zero());
            }
            let accept = map.get("accept").and_then(|v| v.to_str().ok());
            assert_eq!(scrape.format, Format::negotiate(accept));
        }
        Route::BadRequest(message) => assert!(message.contains("X-Prometheus-Scrape-Timeout")),
        Route::MethodNotAllowed(allowed) => assert!(!allowed.contains(&method)),
        Route::PluginFile(rest) | Route::ModulePage(rest) => {
            assert!(uri.path().ends_with(rest.as_str()))
        }
        Route::Landing | Route::Health | Route::Reload | Route::NotFound => {}
    }
    let authorization = map.get("authorization").and_then(|v| v.to_str().ok());
    if web().authorized(authorization) {
        assert!(authorization.is_some());
    }
});
