//! The one decoding layer for request bodies: JSON matched to our types the way Consul's Go
//! decoding matches it.
//!
//! Go's `encoding/json` matches an object key to a struct field case-insensitively (an exact
//! match is preferred), and Consul translates
//! snake_case aliases (`service_id`, `enable_tag_override`, `deregister_critical_service_after`)
//! in service, check and proxy definitions. Here every struct field is matched in that order:
//! exactly, then ignoring ASCII case, then ignoring case and underscores. Map keys (`Meta`,
//! `NodeMeta`, `Header`) are data and are never changed.
//!
//! A `null` value leaves the field at its default, as Go does for slices, maps and strings.
//! Unknown fields are ignored, as Go does, unless the body is decoded with [`Unknown::Reject`]
//! (Consul rejects them in ACL and config-entry bodies: `json: unknown field "x"`).
//!
//! The wrapper is a [`serde::Deserializer`] over a parsed [`Value`], so the `Deserialize`
//! derives of the body types stay plain; the only rule for them is that `#[serde(flatten)]`
//! cannot be used (a flattened struct is decoded as a map, so its fields could not be matched).

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

/// What to do with a key that matches no field of the struct being decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unknown {
    /// Ignore it (Go's default).
    Ignore,
    /// Fail with Go's `json: unknown field "<key>"`.
    Reject,
}

/// Decodes `value` into `T` with Consul's key matching.
pub fn from_value<T: de::DeserializeOwned>(
    value: Value,
    unknown: Unknown,
) -> Result<T, serde_json::Error> {
    T::deserialize(Loose { value, unknown })
}

/// Parses and decodes a JSON body with Consul's key matching.
pub fn from_slice<T: de::DeserializeOwned>(
    body: &[u8],
    unknown: Unknown,
) -> Result<T, serde_json::Error> {
    from_value(serde_json::from_slice(body)?, unknown)
}

/// Lower-case without underscores: `service_id`, `ServiceID` and `serviceid` all give
/// `serviceid`.
fn loose(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The field name `key` stands for, if any, and how closely it matched (0 = exactly,
/// 1 = ignoring case, 2 = ignoring case and underscores).
fn field_for(key: &str, fields: &'static [&'static str]) -> Option<(&'static str, u8)> {
    if let Some(f) = fields.iter().find(|f| **f == key) {
        return Some((f, 0));
    }
    if let Some(f) = fields.iter().find(|f| f.eq_ignore_ascii_case(key)) {
        return Some((f, 1));
    }
    let wanted = loose(key);
    fields.iter().find(|f| loose(f) == wanted).map(|f| (*f, 2))
}

/// An object's entries renamed to the struct's field names. When several keys name one field
/// the closest match wins (Go keeps the last in document order; the parsed object no longer
/// has that order, so this is the deterministic rule instead).
fn rename_fields(
    map: Map<String, Value>,
    fields: &'static [&'static str],
    unknown: Unknown,
) -> Result<Vec<(String, Value)>, serde_json::Error> {
    let mut out: Vec<(String, Value, u8)> = Vec::with_capacity(map.len());
    for (key, value) in map {
        // Go leaves a field alone when its value is null (a nil slice, an empty string).
        if value.is_null() {
            continue;
        }
        let (name, rank) = match field_for(&key, fields) {
            Some(found) => found,
            None if unknown == Unknown::Reject => {
                return Err(de::Error::custom(format_args!(
                    "json: unknown field {key:?}"
                )));
            }
            None => continue,
        };
        match out.iter_mut().find(|(k, _, _)| *k == name) {
            Some(slot) if rank < slot.2 => *slot = (name.to_string(), value, rank),
            Some(_) => {}
            None => out.push((name.to_string(), value, rank)),
        }
    }
    Ok(out.into_iter().map(|(k, v, _)| (k, v)).collect())
}

/// A JSON value being decoded with Consul's key matching.
struct Loose {
    value: Value,
    unknown: Unknown,
}

impl<'de> de::Deserializer<'de> for Loose {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let unknown = self.unknown;
        match self.value {
            Value::Array(items) => visitor.visit_seq(Items {
                iter: items.into_iter(),
                unknown,
            }),
            Value::Object(map) => visitor.visit_map(Entries {
                iter: map.into_iter().collect::<Vec<_>>().into_iter(),
                value: None,
                unknown,
            }),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let unknown = self.unknown;
        match self.value {
            Value::Object(map) => visitor.visit_map(Entries {
                iter: rename_fields(map, fields, unknown)?.into_iter(),
                value: None,
                unknown,
            }),
            other => other.deserialize_struct(name, fields, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.value.deserialize_enum(name, variants, visitor)
    }

    // Scalars go straight to serde_json (so its type errors are the ones reported);
    // sequences and maps come back through `deserialize_any`, which wraps their elements.
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_bool(v)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_i8(v)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_i16(v)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_i32(v)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_i64(v)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_u8(v)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_u16(v)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_u32(v)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_u64(v)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_f32(v)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_f64(v)
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_char(v)
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_str(v)
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_string(v)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_bytes(v)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_byte_buf(v)
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_unit(v)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        self.value.deserialize_identifier(v)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_unit()
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Array(_) => self.deserialize_any(v),
            other => other.deserialize_seq(v),
        }
    }
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Object(_) => self.deserialize_any(v),
            other => other.deserialize_map(v),
        }
    }

    forward_to_deserialize_any! {
        unit_struct tuple tuple_struct
    }
}

/// The elements of an array, each decoded loosely.
struct Items {
    iter: std::vec::IntoIter<Value>,
    unknown: Unknown,
}

impl<'de> SeqAccess<'de> for Items {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        match self.iter.next() {
            Some(value) => seed
                .deserialize(Loose {
                    value,
                    unknown: self.unknown,
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The entries of an object (keys as given, or renamed to field names), values decoded loosely.
struct Entries {
    iter: std::vec::IntoIter<(String, Value)>,
    value: Option<Value>,
    unknown: Unknown,
}

impl<'de> MapAccess<'de> for Entries {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("value without a key"))?;
        seed.deserialize(Loose {
            value,
            unknown: self.unknown,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase", default)]
    struct Inner {
        #[serde(rename = "ServiceID")]
        service_id: String,
        deregister_critical_service_after: String,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase", default)]
    struct Outer {
        #[serde(rename = "ID")]
        id: String,
        #[serde(alias = "Service")]
        name: String,
        port: u16,
        tags: Vec<String>,
        meta: BTreeMap<String, String>,
        enable_tag_override: bool,
        check: Option<Inner>,
        checks: Vec<Inner>,
        #[serde(rename = "TTL")]
        ttl: Option<String>,
    }

    fn expected() -> Outer {
        let inner = Inner {
            service_id: "web".into(),
            deregister_critical_service_after: "1m".into(),
        };
        Outer {
            id: "web-1".into(),
            name: "web".into(),
            port: 80,
            tags: vec!["a".into()],
            meta: BTreeMap::from([("Env_Name".to_string(), "prod".to_string())]),
            enable_tag_override: true,
            check: Some(Inner {
                service_id: "web".into(),
                deregister_critical_service_after: "1m".into(),
            }),
            checks: vec![inner],
            ttl: Some("20s".into()),
        }
    }

    fn decode(v: Value) -> Outer {
        from_value(v, Unknown::Ignore).expect("decodes")
    }

    #[test]
    fn canonical_lower_and_snake_case_decode_the_same() {
        let canonical = json!({"ID": "web-1", "Name": "web", "Port": 80, "Tags": ["a"],
            "Meta": {"Env_Name": "prod"}, "EnableTagOverride": true, "TTL": "20s",
            "Check": {"ServiceID": "web", "DeregisterCriticalServiceAfter": "1m"},
            "Checks": [{"ServiceID": "web", "DeregisterCriticalServiceAfter": "1m"}]});
        let lower = json!({"id": "web-1", "name": "web", "port": 80, "tags": ["a"],
            "meta": {"Env_Name": "prod"}, "enabletagoverride": true, "ttl": "20s",
            "check": {"serviceid": "web", "deregistercriticalserviceafter": "1m"},
            "checks": [{"serviceid": "web", "deregistercriticalserviceafter": "1m"}]});
        let snake = json!({"id": "web-1", "name": "web", "port": 80, "tags": ["a"],
            "meta": {"Env_Name": "prod"}, "enable_tag_override": true, "ttl": "20s",
            "check": {"service_id": "web", "deregister_critical_service_after": "1m"},
            "checks": [{"service_id": "web", "deregister_critical_service_after": "1m"}]});
        assert_eq!(decode(canonical), expected());
        assert_eq!(decode(lower), expected());
        assert_eq!(decode(snake), expected());
    }

    #[test]
    fn aliases_match_loosely_too() {
        assert_eq!(decode(json!({"service": "web"})).name, "web");
        assert_eq!(decode(json!({"SERVICE": "web"})).name, "web");
    }

    #[test]
    fn map_keys_are_data() {
        let o = decode(json!({"meta": {"enable_tag_override": "x", "Port": "y"}}));
        assert_eq!(
            o.meta.get("enable_tag_override").map(String::as_str),
            Some("x")
        );
        assert_eq!(o.meta.get("Port").map(String::as_str), Some("y"));
        assert_eq!(o.port, 0);
    }

    #[test]
    fn the_closest_duplicate_wins() {
        assert_eq!(decode(json!({"Port": 1, "port": 2})).port, 1);
        assert_eq!(decode(json!({"port": 2, "Port": 1})).port, 1);
        assert!(
            decode(json!({"enable_tag_override": false, "enabletagoverride": true}))
                .enable_tag_override
        );
    }

    #[test]
    fn unknown_fields_are_ignored_or_rejected() {
        assert_eq!(decode(json!({"Bogus": 1, "Port": 3})).port, 3);
        let e = from_value::<Outer>(json!({"Bogus": 1}), Unknown::Reject).unwrap_err();
        assert_eq!(e.to_string(), "json: unknown field \"Bogus\"");
        // Nested structs follow the same rule.
        let e = from_value::<Outer>(json!({"Check": {"Nope": 1}}), Unknown::Reject).unwrap_err();
        assert!(e.to_string().contains("Nope"), "{e}");
    }

    #[test]
    fn type_errors_and_nulls() {
        assert!(from_value::<Outer>(json!({"Port": "80"}), Unknown::Ignore).is_err());
        assert!(from_value::<Outer>(json!({"Port": 70000}), Unknown::Ignore).is_err());
        assert!(from_value::<Outer>(json!([1]), Unknown::Ignore).is_err());
        assert_eq!(decode(json!({"TTL": null})).ttl, None);
        assert_eq!(decode(json!({"Check": null})).check, None);
        assert_eq!(
            decode(json!({"Tags": null, "Port": null})).tags,
            Vec::<String>::new()
        );
        // A raw value keeps its keys.
        let v: Value = from_value(json!({"a_b": {"C": 1}}), Unknown::Ignore).expect("value");
        assert_eq!(v, json!({"a_b": {"C": 1}}));
    }
}
