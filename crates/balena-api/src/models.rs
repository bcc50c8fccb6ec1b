//! Typed rows of the v7 resources the release policy reads. Every field that a query may
//! leave out is optional (or defaults), so one model serves every `$select`.
//!
//! Navigation properties come back in three shapes: expanded (`[]` or `[{…}]`), deferred
//! (`{"__id": N}`, when not expanded) or `null`. [`Nav`] reads all three.

use serde::{Deserialize, Deserializer, Serialize};

/// `null` as the type's default (a field that is null on some rows).
fn or_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A row with a numeric id.
pub trait HasId {
    fn id(&self) -> i64;
}

/// A navigation property: not there, deferred (`{"__id": N}`), or expanded (`[{…}]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Nav<T> {
    #[default]
    Absent,
    Deferred(i64),
    Expanded(Vec<T>),
}

impl<T> Nav<T> {
    /// The expanded row, if any.
    pub fn first(&self) -> Option<&T> {
        match self {
            Nav::Expanded(v) => v.first(),
            _ => None,
        }
    }

    /// Takes the expanded rows out (none for the other shapes).
    pub fn into_rows(self) -> Vec<T> {
        match self {
            Nav::Expanded(v) => v,
            _ => Vec::new(),
        }
    }

    /// The expanded rows (none for the other shapes).
    pub fn rows(&self) -> &[T] {
        match self {
            Nav::Expanded(v) => v,
            _ => &[],
        }
    }
}

impl<T: HasId> Nav<T> {
    /// The id of the row it points at, in either shape.
    pub fn id(&self) -> Option<i64> {
        match self {
            Nav::Absent => None,
            Nav::Deferred(id) => Some(*id),
            Nav::Expanded(v) => v.first().map(HasId::id),
        }
    }
}

/// Reads an expanded array element by element (no buffering of the whole expansion); an
/// object is the deferred `{"__id": N}` form, or one row.
impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Nav<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::de::DeserializeOwned> serde::de::Visitor<'de> for V<T> {
            type Value = Nav<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an expanded navigation ([…]), {\"__id\": N} or null")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Nav<T>, E> {
                Ok(Nav::Absent)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Nav<T>, E> {
                Ok(Nav::Absent)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Nav<T>, D2::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Nav<T>, A::Error> {
                let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(r) = seq.next_element::<T>()? {
                    rows.push(r);
                }
                Ok(Nav::Expanded(rows))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Nav<T>, A::Error> {
                use serde::de::Error as _;
                let v = serde_json::Value::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                if let Some(id) = v.get("__id").and_then(serde_json::Value::as_i64) {
                    return Ok(Nav::Deferred(id));
                }
                T::deserialize(v)
                    .map(|r| Nav::Expanded(vec![r]))
                    .map_err(A::Error::custom)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Release {
    pub id: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub commit: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub raw_version: Option<String>,
    #[serde(default)]
    pub semver: Option<String>,
    #[serde(default)]
    pub is_final: Option<bool>,
    #[serde(default)]
    pub is_invalidated: Option<bool>,
    #[serde(default)]
    pub is_passing_tests: Option<bool>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub start_timestamp: Option<String>,
    #[serde(default, rename = "belongs_to__application", skip_serializing)]
    pub fleet: Nav<Application>,
}

impl HasId for Release {
    fn id(&self) -> i64 {
        self.id
    }
}

/// A device type (`is_for__device_type`, `is_of__device_type`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct DeviceType {
    #[serde(default, deserialize_with = "or_default")]
    pub slug: String,
}

/// A fleet.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Application {
    /// 0 when not selected (an expansion of the slug only).
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub app_name: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub slug: String,
    #[serde(default)]
    pub should_track_latest_release: Option<bool>,
    #[serde(default, rename = "should_be_running__release")]
    pub target: Nav<Release>,
    #[serde(default, rename = "owns__release")]
    pub releases: Nav<Release>,
    #[serde(default, rename = "owns__device")]
    pub devices: Nav<Device>,
    #[serde(default, rename = "is_for__device_type")]
    pub device_type: Nav<DeviceType>,
}

impl HasId for Application {
    fn id(&self) -> i64 {
        self.id
    }
}

impl Application {
    /// The release the fleet's devices should run (when they follow the fleet).
    pub fn target(&self) -> Option<&Release> {
        self.target.first()
    }

    /// Whether the fleet follows its latest trackable release (missing reads as no).
    pub fn tracks_latest(&self) -> bool {
        self.should_track_latest_release.unwrap_or(false)
    }
}

/// A device.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Device {
    pub id: i64,
    #[serde(default, deserialize_with = "or_default")]
    pub uuid: String,
    #[serde(default)]
    pub device_name: Option<String>,
    #[serde(default)]
    pub is_online: Option<bool>,
    #[serde(default)]
    pub overall_status: Option<String>,
    #[serde(default, rename = "belongs_to__application")]
    pub fleet: Nav<Application>,
    #[serde(default, rename = "is_pinned_on__release")]
    pub pinned: Nav<Release>,
    #[serde(default, rename = "should_be_running__release")]
    pub target: Nav<Release>,
    #[serde(default, rename = "is_running__release")]
    pub running: Nav<Release>,
}

impl HasId for Device {
    fn id(&self) -> i64 {
        self.id
    }
}

/// A device or release tag.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Tag {
    #[serde(default, deserialize_with = "or_default")]
    pub tag_key: String,
    #[serde(default, deserialize_with = "or_default")]
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn navigation_in_every_shape() {
        let r: Release = serde_json::from_str(
            r#"{"id":1,"commit":"abc","belongs_to__application":{"__id":10}}"#,
        )
        .unwrap();
        assert_eq!(r.fleet, Nav::Deferred(10));
        assert_eq!(r.fleet.id(), Some(10));
        assert_eq!(r.fleet.first(), None);
        let r: Release =
            serde_json::from_str(r#"{"id":1,"belongs_to__application":[{"id":10,"slug":"o/f"}]}"#)
                .unwrap();
        assert_eq!(r.fleet.first().map(|a| a.slug.as_str()), Some("o/f"));
        assert_eq!(r.fleet.id(), Some(10));
        let r: Release =
            serde_json::from_str(r#"{"id":1,"belongs_to__application":null}"#).unwrap();
        assert_eq!(r.fleet, Nav::Absent);
        let r: Release = serde_json::from_str(r#"{"id":1}"#).unwrap();
        assert_eq!(r.fleet, Nav::Absent);
        let r: Release = serde_json::from_str(r#"{"id":1,"belongs_to__application":[]}"#).unwrap();
        assert_eq!(r.fleet.id(), None);
        let d: Device =
            serde_json::from_str(r#"{"id":3,"is_pinned_on__release":{"id":7}}"#).unwrap();
        assert_eq!(d.pinned.id(), Some(7));
    }

    #[test]
    fn fleet_rows() {
        let a: Application = serde_json::from_str(
            r#"{"id":5,"slug":"o/f","should_track_latest_release":true,
                "should_be_running__release":[{"id":9,"commit":"c","raw_version":null}],
                "owns__release":[{"id":9,"commit":"c","start_timestamp":"2024-01-01T00:00:00.000Z"}]}"#,
        )
        .unwrap();
        assert!(a.tracks_latest());
        assert_eq!(a.target().map(|r| r.id), Some(9));
        assert_eq!(
            a.releases.rows()[0].start_timestamp.as_deref(),
            Some("2024-01-01T00:00:00.000Z")
        );
        assert!(a.devices.rows().is_empty());
        // Partial selects and nulls still decode.
        let d: Device = serde_json::from_str(
            r#"{"id":1,"uuid":null,"belongs_to__application":[{"slug":"o/f"}],
                "is_running__release":[{"id":2,"commit":null}]}"#,
        )
        .unwrap();
        assert_eq!(d.fleet.first().map(|f| f.slug.as_str()), Some("o/f"));
        assert_eq!(d.running.id(), Some(2));
    }
}
