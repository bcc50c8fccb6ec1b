//! Operations over several requests. They print nothing and return typed results; progress
//! goes through the observer traits of [`crate::policy`], which the view implements.

pub mod bulk;
pub mod find;
pub mod interrupt;
pub mod wait;

use balena_api::odata;
use balena_api::Client;

use crate::error::Error;
use crate::policy::plan::{DevicePlan, FleetPlan};

/// The write of a fleet plan, if it changes anything.
pub async fn write_fleet(api: &Client, fleet_id: i64, plan: &FleetPlan) -> Result<(), Error> {
    if let Some(patch) = &plan.patch {
        api.patch(&odata::entity("application", fleet_id), patch)
            .await?;
    }
    Ok(())
}

/// The write of a device plan, if it changes anything.
pub async fn write_device(api: &Client, device_id: i64, plan: &DevicePlan) -> Result<(), Error> {
    if let Some(patch) = &plan.patch {
        api.patch(&odata::entity("device", device_id), patch)
            .await?;
    }
    Ok(())
}
