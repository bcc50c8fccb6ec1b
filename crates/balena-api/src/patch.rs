//! Typed PATCH bodies of the release-policy writes. Each serialises to the exact bytes the
//! official CLI sends (key order included).

use serde::ser::{Serialize, SerializeMap, Serializer};

/// A change of a fleet's release policy (`PATCH /v7/application(id)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetPatch {
    /// `{"should_be_running__release":id,"should_track_latest_release":false}`
    PinTo(i64),
    /// `{"should_track_latest_release":true,"should_be_running__release":id}`, or only the
    /// flag when the fleet has no trackable release yet.
    TrackLatest(Option<i64>),
}

impl Serialize for FleetPatch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            FleetPatch::PinTo(id) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("should_be_running__release", &id)?;
                m.serialize_entry("should_track_latest_release", &false)?;
                m.end()
            }
            FleetPatch::TrackLatest(latest) => {
                let mut m = s.serialize_map(Some(1 + usize::from(latest.is_some())))?;
                m.serialize_entry("should_track_latest_release", &true)?;
                if let Some(id) = latest {
                    m.serialize_entry("should_be_running__release", &id)?;
                }
                m.end()
            }
        }
    }
}

/// A change of a device's pin (`PATCH /v7/device(id)`, or `device?$filter=…` in bulk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DevicePatch {
    /// `{"is_pinned_on__release":id}`
    PinTo(i64),
    /// `{"is_pinned_on__release":null}`: the device follows its fleet again.
    Unpin,
}

impl DevicePatch {
    /// The release the device is pinned to after the write (`None`: it follows its fleet).
    pub fn pin(&self) -> Option<i64> {
        match self {
            DevicePatch::PinTo(id) => Some(*id),
            DevicePatch::Unpin => None,
        }
    }
}

impl Serialize for DevicePatch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("is_pinned_on__release", &self.pin())?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(v: &impl Serialize) -> String {
        serde_json::to_string(v).unwrap()
    }

    #[test]
    fn bodies_are_the_official_bytes() {
        assert_eq!(
            json(&FleetPatch::PinTo(5002)),
            r#"{"should_be_running__release":5002,"should_track_latest_release":false}"#
        );
        assert_eq!(
            json(&FleetPatch::TrackLatest(Some(5002))),
            r#"{"should_track_latest_release":true,"should_be_running__release":5002}"#
        );
        assert_eq!(
            json(&FleetPatch::TrackLatest(None)),
            r#"{"should_track_latest_release":true}"#
        );
        assert_eq!(
            json(&DevicePatch::PinTo(7)),
            r#"{"is_pinned_on__release":7}"#
        );
        assert_eq!(
            json(&DevicePatch::Unpin),
            r#"{"is_pinned_on__release":null}"#
        );
    }
}
