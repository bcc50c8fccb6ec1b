//! Typed views of the v7 rows these commands read. Expanded navigation properties are arrays
//! (`[]` or `[obj]`); every field not always selected is optional.

use serde::{Deserialize, Serialize};

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
    #[serde(default, rename = "belongs_to__application")]
    pub belongs_to_application: Option<Vec<AppRef>>,
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
