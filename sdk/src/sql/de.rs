//! A serde `Deserializer` over one row, so `query_as` maps rows straight
//! onto the caller's types without a detour through `serde_json::Value`
//! (and can read SQLite's 0/1 integers as booleans, which JSON cannot).

use std::fmt;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::Value;

/// Why a row does not fit the requested type.
#[derive(Debug)]
pub(crate) struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

/// One row: a map from column name to value (or, for tuples and
/// sequences, the values in column order).
pub(crate) struct RowDeserializer<'de> {
    columns: &'de [String],
    row: &'de [Value],
}

impl<'de> RowDeserializer<'de> {
    pub(crate) fn new(columns: &'de [String], row: &'de [Value]) -> Self {
        Self { columns, row }
    }

    fn seq(self) -> SeqDeserializer<impl Iterator<Item = ValueDeserializer<'de>>, DeError> {
        SeqDeserializer::new(self.row.iter().map(ValueDeserializer))
    }
}

impl<'de> de::Deserializer<'de> for RowDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let entries = self.columns.iter().map(String::as_str).zip(self.row.iter().map(ValueDeserializer));
        let mut map = MapDeserializer::new(entries);
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let mut seq = self.seq();
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct map struct enum identifier ignored_any
    }
}

/// One value. Text holding JSON can fill a nested struct, map or list
/// (the portable dialect keeps JSON in TEXT columns).
pub(crate) struct ValueDeserializer<'de>(&'de Value);

impl<'de> IntoDeserializer<'de, DeError> for ValueDeserializer<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> ValueDeserializer<'de> {
    /// Parses text as JSON into whatever the visitor wants.
    fn json<V: Visitor<'de>>(text: &'de str, visitor: V) -> Result<V::Value, DeError> {
        let mut json = serde_json::Deserializer::from_str(text);
        let value = de::Deserializer::deserialize_any(&mut json, visitor)
            .map_err(|err| DeError(format!("JSON text: {err}")))?;
        json.end().map_err(|err| DeError(format!("JSON text: {err}")))?;
        Ok(value)
    }
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Integer(i) => visitor.visit_i64(*i),
            Value::Real(r) => visitor.visit_f64(*r),
            Value::Text(s) => visitor.visit_borrowed_str(s),
            Value::Blob(b) => {
                let mut seq = SeqDeserializer::<_, DeError>::new(b.iter().copied());
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Value::Boolean(b) => visitor.visit_bool(*b),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Integer(0) => visitor.visit_bool(false),
            Value::Integer(1) => visitor.visit_bool(true),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Blob(b) => visitor.visit_borrowed_bytes(b),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Text(s) if s.trim_start().starts_with('{') => Self::json(s, visitor),
            Value::Text(s) => visitor.visit_enum(IntoDeserializer::<DeError>::into_deserializer(s.as_str())),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Text(s) => Self::json(s, visitor),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit unit_struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::super::{Rows, Value, rows_as};

    #[derive(Debug, Deserialize, PartialEq)]
    struct Faq {
        q: String,
        a: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Post {
        tags: Vec<String>,
        faq: Option<Faq>,
        raw: serde_json::Value,
    }

    #[test]
    fn json_text_columns_fill_nested_types() {
        let rows = Rows {
            columns: vec!["tags".into(), "faq".into(), "raw".into()],
            rows: vec![vec![
                Value::Text(r#"["a","b"]"#.into()),
                Value::Text(r#"{"q":"why","a":"because"}"#.into()),
                Value::Text("[1]".into()),
            ]],
        };
        let posts: Vec<Post> = rows_as(&rows).unwrap();
        assert_eq!(
            posts,
            vec![Post {
                tags: vec!["a".into(), "b".into()],
                faq: Some(Faq { q: "why".into(), a: "because".into() }),
                raw: serde_json::Value::String("[1]".into()),
            }]
        );
    }
}
