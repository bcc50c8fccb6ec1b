//! Finding fleets, devices and releases: one lookup each (see [`balena_api::lookup`]), with
//! "not found" and "ambiguous" as typed errors that list the candidates.

use balena_api::lookup::{release_filter, Found, Keyed};
use balena_api::models::{Application, Device, Release};
use balena_api::odata::Query;
use balena_api::Client;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{usage, Error};
use crate::policy::release::{self, Caveat};
use crate::policy::ReleaseSelector;

/// How a fleet row is listed among the candidates of an ambiguous identifier.
pub trait FleetCandidate {
    fn fleet_candidate(&self) -> String;
}

/// How a device row is listed among the candidates of an ambiguous identifier.
pub trait DeviceCandidate {
    fn device_candidate(&self) -> String;
}

impl FleetCandidate for Application {
    fn fleet_candidate(&self) -> String {
        format!("{} (id {})", self.slug, self.id)
    }
}

impl DeviceCandidate for Device {
    fn device_candidate(&self) -> String {
        let fleet = self.fleet.first().map(|f| f.slug.as_str()).unwrap_or("N/a");
        let name = self.device_name.as_deref().unwrap_or("N/a");
        format!("{} {name} ({fleet})", self.uuid)
    }
}

impl FleetCandidate for Value {
    fn fleet_candidate(&self) -> String {
        format!(
            "{} (id {})",
            self.get("slug").and_then(Value::as_str).unwrap_or_default(),
            self.get("id").cloned().unwrap_or(Value::Null)
        )
    }
}

impl DeviceCandidate for Value {
    fn device_candidate(&self) -> String {
        let s = |p: &str| self.pointer(p).and_then(Value::as_str);
        format!(
            "{} {} ({})",
            s("/uuid").unwrap_or_default(),
            s("/device_name").unwrap_or("N/a"),
            s("/belongs_to__application/0/slug").unwrap_or("N/a")
        )
    }
}

/// One request: the fleet `arg` names, with the options of `q`.
pub async fn fleet<T: DeserializeOwned + Keyed + FleetCandidate>(
    api: &Client,
    arg: &str,
    q: Query,
) -> Result<T, Error> {
    fleet_among(api, arg, q, false).await
}

/// One request: the fleet `arg` names among those the user accesses directly (the official
/// CLI's visibility for `fleet <fleet>` and `device list --fleet`).
pub async fn visible_fleet<T: DeserializeOwned + Keyed + FleetCandidate>(
    api: &Client,
    arg: &str,
    q: Query,
) -> Result<T, Error> {
    fleet_among(api, arg, q, true).await
}

async fn fleet_among<T: DeserializeOwned + Keyed + FleetCandidate>(
    api: &Client,
    arg: &str,
    q: Query,
    directly_accessible: bool,
) -> Result<T, Error> {
    // Trimmed: a CRLF file or stray spaces name the same fleet.
    let arg = arg.trim();
    if arg.is_empty() {
        return Err(usage("the fleet must not be empty", "balena fleet <fleet>"));
    }
    let found = if directly_accessible {
        api.find_visible_fleet(arg, q).await?
    } else {
        api.find_fleet(arg, q).await?
    };
    match found {
        Found::One(f) => Ok(f),
        Found::None => Err(Error::FleetNotFound(arg.to_owned())),
        Found::Many(rows) => Err(Error::FleetAmbiguous {
            arg: arg.to_owned(),
            candidates: rows.iter().map(FleetCandidate::fleet_candidate).collect(),
        }),
    }
}

/// One request: the device `arg` names (uuid or unique prefix), with the options of `q`.
pub async fn device<T: DeserializeOwned + Keyed + DeviceCandidate>(
    api: &Client,
    arg: &str,
    q: Query,
) -> Result<T, Error> {
    if arg.trim().is_empty() {
        // The official CLI's words for it.
        return Err(Error::Usage {
            message: format!(
                "Invalid parameter: {arg} is not a valid value for parameter 'uuidOrId'"
            ),
            hint: "Usage: balena device <uuid> (see --help)".into(),
        });
    }
    match api.find_device(arg, q).await? {
        Found::One(d) => Ok(d),
        Found::None => Err(Error::DeviceNotFound(arg.to_owned())),
        Found::Many(rows) => Err(Error::DeviceAmbiguous {
            arg: arg.to_owned(),
            candidates: rows.iter().map(DeviceCandidate::device_candidate).collect(),
        }),
    }
}

/// The release `sel` names in `app`, whose `owns__release` was expanded with
/// [`release::expansion`], and its caveats. When the argument names no release of the
/// fleet, ONE extra request tells a foreign release (exit 6) from an unknown one (exit 4).
pub async fn release_in_fleet(
    api: &Client,
    sel: &ReleaseSelector,
    app: &Application,
) -> Result<(Release, Vec<Caveat>), Error> {
    let arg = match sel {
        ReleaseSelector::Latest => {
            return app
                .releases
                .first()
                .cloned()
                .map(|r| (r, Vec::new()))
                .ok_or_else(|| Error::NoPinnableRelease {
                    fleet: app.slug.clone(),
                })
        }
        ReleaseSelector::Ident(a) => a,
    };
    match release::pick(arg, app.releases.rows()) {
        Found::One(r) => {
            let caveats = release::check_pinnable(arg, &r, &app.slug)?;
            Ok((r, caveats))
        }
        Found::Many(rs) => Err(Error::ReleaseAmbiguous {
            arg: arg.to_owned(),
            candidates: rs.iter().map(release::candidate).collect(),
        }),
        Found::None => Err(foreign_or_unknown(api, arg, app).await),
    }
}

/// The error for a release argument that names no release of `app`: foreign when it names
/// a release of another fleet, not found otherwise.
async fn foreign_or_unknown(api: &Client, arg: &str, app: &Application) -> Error {
    let not_found = || Error::ReleaseNotFound {
        arg: arg.to_owned(),
        fleet: Some(app.slug.clone()),
    };
    let Some(filter) = release_filter(arg) else {
        return not_found();
    };
    let q = Query::new()
        .select(release::FIELDS)
        .filter(filter)
        .expand(
            "belongs_to__application",
            Query::new().select(&["id", "slug"]),
        )
        .top(release::TOP);
    let rows: Vec<Release> = match api.get(&balena_api::odata::path("release", &q)).await {
        Ok(r) => r,
        Err(e) => return e.into(),
    };
    let others: Vec<Release> = rows
        .into_iter()
        .filter(|r| r.fleet.id() != Some(app.id))
        .collect();
    let fleets_of = |rs: &[Release]| -> String {
        let mut v: Vec<String> = Vec::new();
        for r in rs {
            let slug = r
                .fleet
                .first()
                .map(|a| a.slug.clone())
                .unwrap_or_else(|| "another fleet".into());
            if !v.contains(&slug) {
                v.push(slug);
            }
        }
        v.join(", ")
    };
    let foreign = |other: String| Error::ForeignRelease {
        arg: arg.to_owned(),
        other,
        fleet: app.slug.clone(),
    };
    match release::pick(arg, &others) {
        Found::One(r) => foreign(fleets_of(std::slice::from_ref(&r))),
        Found::Many(rs) => foreign(fleets_of(&rs)),
        Found::None => not_found(),
    }
}
