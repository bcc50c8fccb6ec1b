//! Typed views of the v7 rows these commands read. Expanded navigation properties are arrays
//! (`[]` or `[obj]`); every field not always selected is optional.

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Release {
    pub id: i64,
    #[serde(default)]
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
    pub created_at: Option<String>,
    #[serde(
        default,
        rename = "belongs_to__application",
        deserialize_with = "app_refs"
    )]
    pub belongs_to_application: Option<Vec<AppRef>>,
}

/// `belongs_to__application`: expanded (`[{…}]`), or not expanded, when the API answers the
/// deferred form `{"__id": N}` (a release read without `$select`, e.g. `release --json`).
fn app_refs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<AppRef>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Nav {
        Expanded(Vec<AppRef>),
        Deferred {
            #[serde(rename = "__id")]
            id: i64,
        },
    }
    Ok(match Option::<Nav>::deserialize(d)? {
        None => None,
        Some(Nav::Expanded(v)) => Some(v),
        Some(Nav::Deferred { id }) => Some(vec![AppRef {
            id: Some(id),
            slug: None,
        }]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_with_a_deferred_fleet_reference() {
        let r: Release = serde_json::from_str(
            r#"{"id":1,"commit":"abc","belongs_to__application":{"__id":10}}"#,
        )
        .unwrap();
        assert_eq!(
            r.belongs_to_application,
            Some(vec![AppRef {
                id: Some(10),
                slug: None
            }])
        );
        let r: Release =
            serde_json::from_str(r#"{"id":1,"belongs_to__application":[{"id":10,"slug":"o/f"}]}"#)
                .unwrap();
        assert_eq!(
            r.belongs_to_application.unwrap()[0].slug.as_deref(),
            Some("o/f")
        );
        let r: Release =
            serde_json::from_str(r#"{"id":1,"belongs_to__application":null}"#).unwrap();
        assert_eq!(r.belongs_to_application, None);
        let r: Release = serde_json::from_str(r#"{"id":1}"#).unwrap();
        assert_eq!(r.belongs_to_application, None);
    }
}

/// A minimal fleet reference (`$select=id,slug`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AppRef {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub slug: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Application {
    pub id: i64,
    #[serde(default)]
    pub app_name: Option<String>,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub should_track_latest_release: Option<bool>,
    #[serde(default, rename = "should_be_running__release")]
    pub target: Vec<Release>,
    #[serde(default, rename = "owns__release")]
    pub releases: Vec<Release>,
}

impl Application {
    pub fn target(&self) -> Option<&Release> {
        self.target.first()
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Device {
    pub id: i64,
    #[serde(default)]
    pub uuid: String,
    #[serde(default)]
    pub device_name: Option<String>,
    #[serde(default, rename = "belongs_to__application")]
    pub fleet: Vec<Application>,
    #[serde(default, rename = "is_pinned_on__release")]
    pub pinned: Vec<Release>,
    #[serde(default, rename = "should_be_running__release")]
    pub target: Vec<Release>,
}
