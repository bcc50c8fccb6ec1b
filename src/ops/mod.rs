//! Operations over several requests. They print nothing and return typed results; progress
//! goes through the observer traits of [`crate::policy`], which the view implements.

pub mod bulk;
pub mod find;
pub mod interrupt;
pub mod outcome;
pub mod wait;
pub mod waves;

use balena_api::models::{Application, Device};
use balena_api::Client;

use crate::error::Error;
use crate::policy::plan::{DevicePlan, FleetPlan};

/// The write of a fleet plan, if it changes anything. A write whose answer was lost is
/// read back ([`outcome`]): `Ok` only when the fleet holds the change.
pub async fn write_fleet(api: &Client, app: &Application, plan: &FleetPlan) -> Result<(), Error> {
    match &plan.patch {
        Some(patch) => outcome::patch_fleet(api, app.id, &app.slug, patch).await,
        None => Ok(()),
    }
}

/// The write of a device plan, if it changes anything, read back like
/// [`write_fleet`]'s.
pub async fn write_device(api: &Client, dev: &Device, plan: &DevicePlan) -> Result<(), Error> {
    match &plan.patch {
        Some(patch) => outcome::patch_device(api, dev.id, &dev.uuid, patch).await,
        None => Ok(()),
    }
}
