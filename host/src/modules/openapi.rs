//! A tenant's OpenAPI document: the host's tenant API and the routes of
//! every module the tenant has enabled, in one OpenAPI 3.0 document.
//!
//! Paths are the tenant's own (`/t/acme/files`, `/t/acme/hello/greetings`),
//! so a generated client needs no tenant parameter. Module routes are
//! tagged with the module, their operation ids prefixed with it, and their
//! JSON Schemas (2020-12, as schemars writes them) turned into OpenAPI 3.0
//! schemas whose shared definitions become components named
//! `{module}.{Name}`, so two modules never clash.

use serde_json::{Map, Value, json};

use super::LoadedModule;
use crate::contract::{Access, Method, Route};

/// Builds the document of `tenant` from the host's spec and its modules.
pub fn tenant_document(host: &Value, tenant: &str, modules: &[&LoadedModule]) -> Value {
    let mut doc = host.clone();
    doc["info"]["title"] = json!(format!("Plaza API for tenant {tenant}"));
    let mut paths = Map::new();
    if let Some(host_paths) = host["paths"].as_object() {
        for (path, item) in host_paths {
            if let Some(rest) = path.strip_prefix("/t/{tenant}") {
                paths.insert(format!("/t/{tenant}{rest}"), without_tenant_parameter(item));
            }
        }
    }
    let mut schemas = doc["components"]["schemas"].as_object().cloned().unwrap_or_default();
    let mut tags: Vec<Value> = doc["tags"].as_array().cloned().unwrap_or_default();
    for module in modules {
        let name = module.name();
        tags.push(json!({ "name": name, "description": module.manifest.description }));
        for route in &module.manifest.routes {
            let path = format!("/t/{tenant}/{name}{}", route.path);
            let op = operation(name, route, &mut schemas);
            let item = paths.entry(path).or_insert_with(|| json!({}));
            item[route.method.as_str().to_ascii_lowercase()] = op;
        }
    }
    doc["paths"] = Value::Object(paths);
    doc["components"]["schemas"] = Value::Object(schemas);
    doc["tags"] = Value::Array(tags);
    doc
}

/// Removes every operation that needs credentials (its `security` is not
/// the empty list), and the paths left without one: the document an
/// anonymous caller may see.
pub fn keep_public_operations(doc: &mut Value) {
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            if let Some(ops) = item.as_object_mut() {
                ops.retain(|_, op| !op.is_object() || op["security"].as_array().is_some_and(Vec::is_empty));
            }
        }
        paths.retain(|_, item| item.as_object().is_some_and(|ops| ops.values().any(Value::is_object)));
    }
}

/// A host path item with the `tenant` path parameter taken out (it is fixed).
fn without_tenant_parameter(item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(ops) = item.as_object_mut() {
        for op in ops.values_mut() {
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                params.retain(|p| !(p["name"] == "tenant" && p["in"] == "path"));
            }
        }
    }
    item
}

fn operation(module: &str, route: &crate::contract::Route, schemas: &mut Map<String, Value>) -> Value {
    let parameters: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    let problem = json!({ "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } });
    // A manifest does not say which success status a route answers with,
    // so the document admits each one it may use: a generated client then
    // parses the answer instead of taking it for a problem.
    let mut responses = Map::new();
    match &route.response_schema {
        Some(s) => {
            let success = json!({ "description": "Success", "content": content(module, s, schemas) });
            if route.method == Method::Post {
                responses.insert("201".to_owned(), json!({ "description": "Created", "content": success["content"] }));
            }
            responses.insert("200".to_owned(), success);
        }
        None => {
            if route.method == Method::Post {
                responses.insert("201".to_owned(), json!({ "description": "Created" }));
            }
            responses.insert("200".to_owned(), json!({ "description": "Success" }));
            responses.insert("204".to_owned(), json!({ "description": "Done, no content" }));
        }
    }
    responses.insert("default".to_owned(), json!({ "description": "A problem", "content": problem }));
    let security = match &route.access {
        Access::Public => json!([]),
        Access::Roles(_) => json!([{ "bearerAuth": [] }, { "apiKey": [] }]),
    };
    let mut op = json!({
        "tags": [module],
        "summary": route.summary,
        "operationId": format!("{module}_{}", route.operation_id),
        "parameters": parameters,
        "responses": responses,
        "security": security,
    });
    if let Access::Roles(roles) = &route.access {
        let text = format!("Needs one of the roles: {}.", roles.join(", "));
        op["description"] = json!(match &route.description {
            Some(d) => format!("{d}\n\n{text}"),
            None => text,
        });
    } else if let Some(d) = &route.description {
        op["description"] = json!(d);
    }
    if route.deprecated {
        op["deprecated"] = json!(true);
    }
    match &route.request_schema {
        Some(s) => {
            op["requestBody"] = json!({ "required": true, "content": content(module, s, schemas) });
        }
        // Routes that read raw bytes (a blob, a value) declare no schema.
        None if matches!(route.method, Method::Post | Method::Put | Method::Patch) => {
            op["requestBody"] = json!({ "required": false, "content": {
                "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } });
        }
        None => {}
    }
    op
}

/// A body's `content` map for a JSON Schema document (text): JSON, unless
/// the schema says otherwise with JSON Schema's `contentMediaType` (an RSS
/// feed: `application/rss+xml`; an image: `image/*`), and
/// `contentEncoding: binary` for bytes.
fn content(module: &str, text: &str, schemas: &mut Map<String, Value>) -> Value {
    match declared_media(text) {
        Some((media, binary)) => {
            let schema =
                if binary { json!({ "type": "string", "format": "binary" }) } else { json!({ "type": "string" }) };
            json!({ media: { "schema": schema } })
        }
        None => json!({ "application/json": { "schema": convert_document(module, text, schemas) } }),
    }
}

/// The media type a body schema declares instead of JSON
/// (`contentMediaType`), and whether it is bytes (`contentEncoding: binary`).
fn declared_media(schema: &str) -> Option<(String, bool)> {
    let doc = serde_json::from_str::<Value>(schema).ok()?;
    let media = doc.get("contentMediaType")?.as_str()?.to_owned();
    Some((media, doc.get("contentEncoding").and_then(Value::as_str) == Some("binary")))
}

/// Whether a route's request body is JSON: it has a schema that declares no
/// other media type.
pub fn takes_json(route: &Route) -> bool {
    route.request_schema.as_deref().is_some_and(|s| declared_media(s).is_none())
}

/// Converts one JSON Schema document (text) to an OpenAPI 3.0 schema; its
/// `$defs` go to `schemas` as `{module}.{Name}`, and so does the document
/// itself when it has a title (a Rust type's name): one component per type,
/// however many routes use it.
fn convert_document(module: &str, text: &str, schemas: &mut Map<String, Value>) -> Value {
    let Ok(doc) = serde_json::from_str::<Value>(text) else { return json!({}) };
    let mut doc = schema_value(&doc);
    if let Some(defs) = doc.as_object_mut().and_then(|o| o.remove("$defs").or_else(|| o.remove("definitions"))) {
        for (name, schema) in defs.as_object().into_iter().flatten() {
            let name = format!("{module}.{name}");
            schemas.insert(name.clone(), titled(convert(module, schema), &name));
        }
    }
    let converted = convert(module, &doc);
    let title = doc.get("title").and_then(Value::as_str).filter(|t| {
        !t.is_empty()
            && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && converted.get("type") == Some(&json!("object"))
    });
    match title {
        Some(title) => {
            let name = format!("{module}.{title}");
            schemas.entry(name.clone()).or_insert_with(|| titled(converted, &name));
            json!({ "$ref": format!("#/components/schemas/{name}") })
        }
        None => converted,
    }
}

/// A component titled with its namespaced name: generators name classes
/// after titles (`hello.Greeting` → `HelloGreeting`), so two modules'
/// `Greeting` types never meet.
fn titled(mut schema: Value, name: &str) -> Value {
    if let Some(o) = schema.as_object_mut() {
        o.insert("title".into(), json!(name));
    }
    schema
}

/// JSON Schema 2020-12 → the OpenAPI 3.0 subset: `$ref`s to components,
/// `type: [T, "null"]` → `type: T, nullable: true`, `const` → `enum`, and
/// keywords 3.0 does not know dropped.
fn convert(module: &str, schema: &Value) -> Value {
    match schema {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                match k.as_str() {
                    "$schema" | "$id" | "examples" | "$comment" | "unevaluatedProperties" => {}
                    "$ref" => {
                        let target = v.as_str().unwrap_or_default();
                        let name = target.rsplit('/').next().unwrap_or_default();
                        out.insert("$ref".into(), json!(format!("#/components/schemas/{module}.{name}")));
                    }
                    "type" => match v {
                        Value::Array(types) => {
                            let non_null: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
                            if non_null.len() < types.len() {
                                out.insert("nullable".into(), json!(true));
                            }
                            if let [one] = non_null.as_slice() {
                                out.insert("type".into(), (*one).clone());
                            }
                        }
                        other => {
                            out.insert("type".into(), other.clone());
                        }
                    },
                    "const" => {
                        out.insert("enum".into(), json!([v]));
                    }
                    // Maps of schemas: a boolean schema (`true`: anything) is `{}` in 3.0.
                    "properties" | "patternProperties" => {
                        let map = v.as_object().map(|m| {
                            m.iter().map(|(name, sub)| (name.clone(), convert(module, &schema_value(sub)))).collect()
                        });
                        out.insert(k.clone(), Value::Object(map.unwrap_or_default()));
                    }
                    "items" | "not" => {
                        out.insert(k.clone(), convert(module, &schema_value(v)));
                    }
                    _ => {
                        out.insert(k.clone(), convert(module, v));
                    }
                }
            }
            // `anyOf: [X, {type: null}]` (schemars' Option<Struct>) → nullable X.
            if let Some(Value::Array(any)) = out.get("anyOf").cloned() {
                let rest: Vec<Value> = any.iter().filter(|s| s.get("type") != Some(&json!("null"))).cloned().collect();
                if rest.len() < any.len() {
                    out.insert("nullable".into(), json!(true));
                    out.insert("anyOf".into(), Value::Array(rest));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| convert(module, i)).collect()),
        other => other.clone(),
    }
}

/// A boolean schema as an object schema.
fn schema_value(v: &Value) -> Value {
    match v {
        Value::Bool(true) => json!({}),
        Value::Bool(false) => json!({ "not": {} }),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_schema_becomes_openapi_3_0_with_namespaced_components() {
        let mut schemas = Map::new();
        let text = r##"{"$schema":"https://json-schema.org/draft/2020-12/schema","title":"Post","type":"object",
            "properties":{"title":{"type":["string","null"]},"author":{"$ref":"#/$defs/Author"},
            "kind":{"const":"post"}},"$defs":{"Author":{"type":"object","properties":{"name":{"type":"string"}}}}}"##;
        let r = convert_document("blog", text, &mut schemas);
        assert_eq!(r, json!({ "$ref": "#/components/schemas/blog.Post" }), "a titled type is a component");
        let s = &schemas["blog.Post"];
        assert_eq!(s.get("$schema"), None);
        assert_eq!(s["properties"]["title"], json!({ "type": "string", "nullable": true }));
        assert_eq!(s["properties"]["author"]["$ref"], "#/components/schemas/blog.Author");
        assert_eq!(s["properties"]["kind"], json!({ "enum": ["post"] }));
        assert!(schemas.contains_key("blog.Author"));
    }

    #[test]
    fn a_content_media_type_names_the_body_instead_of_json() {
        let mut schemas = Map::new();
        let rss = r#"{"title":"Feed","type":"string","contentMediaType":"application/rss+xml"}"#;
        assert_eq!(
            content("blog", rss, &mut schemas),
            json!({ "application/rss+xml": { "schema": { "type": "string" } } })
        );
        let image = r#"{"type":"string","contentMediaType":"image/*","contentEncoding":"binary"}"#;
        assert_eq!(
            content("blog", image, &mut schemas),
            json!({ "image/*": { "schema": { "type": "string", "format": "binary" } } })
        );
        let post = r#"{"title":"Post","type":"object","properties":{}}"#;
        assert_eq!(
            content("blog", post, &mut schemas),
            json!({ "application/json": { "schema": { "$ref": "#/components/schemas/blog.Post" } } })
        );
        assert!(!schemas.contains_key("blog.Feed"), "a non-JSON body is no component");
    }
}
