//! A JSON request body read as its schema says, and no looser.
//!
//! poem-openapi reads a number or a boolean given for a string field as its
//! text: `{"name": 5}` becomes the name "5", and the client is told that no
//! module is called "5" instead of that a name is a string. [`StrictJson`]
//! is poem-openapi's `Json` with one more step before the fields are read:
//! every value the schema types as a string must be a JSON string.
//! Anything else is a 422 naming the field. The schema each body type needs
//! is flattened once per type and kept.

use std::any::TypeId;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock};

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::error::ContentTypeError;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde_json::Value;

use super::problem::ApiError;

/// A JSON request body, checked against its schema's types before parsing.
#[derive(Debug, Clone)]
pub struct StrictJson<T>(pub T);

impl<T> std::ops::Deref for StrictJson<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Type> Payload for StrictJson<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        <Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON + 'static> ParsePayload for StrictJson<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = <Vec<u8> as FromRequest>::from_request(request, body).await?;
        // Text that is not JSON is a 400; JSON that does not fit the schema a 422.
        let value = if data.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&data).map_err(|err| ApiError::bad_request(format!("malformed JSON body: {err}")))?
        };
        if let Some(path) = shape_of::<T>().first_mistyped(&value, "") {
            return Err(ApiError::unprocessable(format!("invalid request body: `{path}` must be a string")).into());
        }
        T::parse_from_json(Some(value))
            .map(Self)
            .map_err(|err| ApiError::unprocessable(format!("invalid request body: {}", err.into_message())).into())
    }
}

impl<'a, T: ParseFromJSON + 'static> ApiExtractor<'a> for StrictJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: <Self as Payload>::CONTENT_TYPE,
                schema: <Self as Payload>::schema_ref(),
            }],
            required: <Self as ParsePayload>::IS_REQUIRED,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(ct) if <Self as Payload>::check_content_type(ct) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            Some(ct) => Err(ContentTypeError::NotSupported { content_type: ct.to_owned() }.into()),
            None => Err(ContentTypeError::ExpectContentType.into()),
        }
    }
}

/// Where a schema wants strings: all a body check needs of it.
#[derive(Debug, Default)]
enum Shape {
    /// Anything goes here (numbers, free-form JSON, unions).
    #[default]
    Any,
    String,
    Object(BTreeMap<String, Shape>),
    Array(Box<Shape>),
}

impl Shape {
    fn of(schema: &MetaSchemaRef, registry: &Registry, depth: usize) -> Self {
        if depth > 16 {
            return Shape::Any;
        }
        let meta = match schema {
            MetaSchemaRef::Inline(meta) => meta.as_ref(),
            MetaSchemaRef::Reference(name) => match registry.schemas.get(name) {
                Some(meta) => meta,
                None => return Shape::Any,
            },
        };
        // `Option<T>` and friends: one alternative that is not null.
        if let [only] = meta.all_of.as_slice() {
            return Shape::of(only, registry, depth + 1);
        }
        match meta.ty {
            "string" => Shape::String,
            "object" if !meta.properties.is_empty() => Shape::Object(
                meta.properties
                    .iter()
                    .map(|(name, s)| ((*name).to_owned(), Shape::of(s, registry, depth + 1)))
                    .collect(),
            ),
            "array" => match &meta.items {
                Some(items) => Shape::Array(Box::new(Shape::of(items, registry, depth + 1))),
                None => Shape::Any,
            },
            _ => Shape::Any,
        }
    }

    /// The path of the first value that should be a string and is a number
    /// or a boolean (other mistakes are poem-openapi's to report).
    fn first_mistyped(&self, value: &Value, at: &str) -> Option<String> {
        match (self, value) {
            (Shape::String, Value::Number(_) | Value::Bool(_)) => Some(at.trim_start_matches('.').to_owned()),
            (Shape::Object(fields), Value::Object(map)) => fields
                .iter()
                .find_map(|(name, shape)| map.get(name).and_then(|v| shape.first_mistyped(v, &format!("{at}.{name}")))),
            (Shape::Array(items), Value::Array(list)) => {
                list.iter().enumerate().find_map(|(i, v)| items.first_mistyped(v, &format!("{at}[{i}]")))
            }
            _ => None,
        }
    }
}

/// The shape of `T`'s schema, worked out on first use and kept.
fn shape_of<T: Type + 'static>() -> Arc<Shape> {
    static SHAPES: OnceLock<RwLock<HashMap<TypeId, Arc<Shape>>>> = OnceLock::new();
    let shapes = SHAPES.get_or_init(RwLock::default);
    let id = TypeId::of::<T>();
    if let Some(shape) = shapes.read().ok().and_then(|s| s.get(&id).cloned()) {
        return shape;
    }
    let mut registry = Registry::new();
    T::register(&mut registry);
    let shape = Arc::new(Shape::of(&T::schema_ref(), &registry, 0));
    if let Ok(mut s) = shapes.write() {
        s.insert(id, Arc::clone(&shape));
    }
    shape
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::Object;
    use serde_json::json;

    #[derive(Object)]
    struct Inner {
        label: String,
        count: u32,
    }

    #[derive(Object)]
    struct Body {
        name: String,
        note: Option<String>,
        tags: Vec<String>,
        inner: Option<Inner>,
        extra: Value,
    }

    #[test]
    fn strings_must_be_strings_and_the_rest_is_left_alone() {
        let shape = shape_of::<Body>();
        let ok = json!({ "name": "x", "note": null, "tags": ["a"], "inner": { "label": "l", "count": 3 }, "extra": 5 });
        assert_eq!(shape.first_mistyped(&ok, ""), None);
        for (bad, path) in [
            (json!({ "name": 5 }), "name"),
            (json!({ "name": "x", "note": true }), "note"),
            (json!({ "name": "x", "tags": ["a", 2] }), "tags[1]"),
            (json!({ "name": "x", "inner": { "label": 1.5 } }), "inner.label"),
        ] {
            assert_eq!(shape.first_mistyped(&bad, "").as_deref(), Some(path), "{bad}");
        }
    }
}
