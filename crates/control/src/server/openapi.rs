//! `GET /api/v1/openapi.json`: the routes described for tools (a static document; a test
//! holds it to [`ROUTES`](super::ROUTES) both ways).

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as written by hand in `openapi.json`.
pub(crate) const DOCUMENT: &str = include_str!("openapi.json");

pub(crate) async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::DOCUMENT;
    use crate::server::ROUTES;

    #[test]
    fn the_document_lists_exactly_the_routes_served() {
        let doc: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().unwrap().keys() {
                if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                    documented.insert((method.clone(), path.clone()));
                }
            }
        }
        // axum's `{*path}` wildcard is OpenAPI's `{path}`.
        let served: BTreeSet<_> = ROUTES
            .iter()
            .map(|(m, p, _)| (m.to_string(), p.replace("{*", "{")))
            .collect();
        assert_eq!(documented, served);
    }
}
