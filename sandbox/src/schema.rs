//! The v7 data model, as data: resources, their fields in default output order, navigation
//! properties, tenancy rules, and the write rules (hooks, implemented in `crate::rules`) of
//! each resource.
//!
//! Every field and navigation is an SQL template. `{t}` stands for the alias of the row the
//! field belongs to; in navigation links `{p}` is the parent row and `{c}` the child row.
//! Templates only ever contain identifiers chosen here, never request data.

use crate::rules::{
    ApplicationHooks, DeviceHooks, Hooks, NoHooks, OrganizationHooks, ReleaseHooks, TagHooks,
    UserHooks,
};

/// The JSON type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Text,
    Bool,
    /// ISO-8601 text, `2024-02-02T00:00:00.000Z`.
    Date,
    /// JSON stored as text.
    Json,
    /// A foreign key: `{"__id":N}` or `null` when not expanded.
    Fk,
}

/// Who may write a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Never through the API (computed, or maintained by the server).
    No,
    /// On POST and PATCH.
    Yes,
    /// On POST only.
    Create,
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    /// SQL template; empty means the stored column of the same name.
    pub sql: &'static str,
    /// For `Ty::Fk`: the resource it points to (empty: not expandable).
    pub target: &'static str,
    pub write: Write,
    /// Required on POST (a missing value is refused).
    pub required: bool,
}

impl Field {
    pub fn stored(&self) -> bool {
        self.sql.is_empty()
    }

    /// The SQL expression of this field for the row aliased `alias`.
    pub fn expr(&self, alias: &str) -> String {
        if self.sql.is_empty() {
            format!("{alias}.\"{}\"", self.name)
        } else {
            self.sql.replace("{t}", alias)
        }
    }
}

/// A collection (reverse or many-to-many) navigation.
#[derive(Debug)]
pub struct Nav {
    pub name: &'static str,
    pub target: &'static str,
    /// SQL condition linking parent `{p}` and child `{c}`.
    pub link: &'static str,
}

/// What a caller without a valid token gets for a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guest {
    /// Reads answer an empty list, writes 401 (as the real server does for applications).
    Empty,
    /// Reads and writes answer 401 (as the real server does for devices).
    Unauthorized,
    /// Everything is readable (public data like device types); writes answer 401.
    Public,
}

#[derive(Debug)]
pub struct Resource {
    pub name: &'static str,
    pub table: &'static str,
    pub fields: &'static [Field],
    pub navs: &'static [Nav],
    /// Tenancy: SQL condition on `{t}` given the user id as the single `?` parameter.
    /// Empty: visible to everybody.
    pub visibility: &'static str,
    pub guest: Guest,
    /// Whether POST/PATCH/DELETE are offered at all.
    pub writable: bool,
    /// Alternate keys usable as `resource(key='value')`.
    pub alternate_keys: &'static [&'static str],
    /// Stored columns the API never shows nor accepts; only fixtures write them.
    pub hidden_columns: &'static [(&'static str, Ty)],
    /// The server's rules for writes of this resource: validation, defaults, and what a
    /// create, change or delete implies for other rows.
    pub hooks: &'static dyn Hooks,
}

/// The navigation a name resolves to: where it leads and how parent and child are linked.
#[derive(Debug, Clone)]
pub struct NavInfo {
    pub target: &'static Resource,
    /// The link condition with `{p}` and `{c}` placeholders.
    pub link: String,
    /// True for a foreign key (at most one row).
    pub to_one: bool,
}

impl Resource {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn nav(&self, name: &str) -> Option<NavInfo> {
        if let Some(f) = self.field(name) {
            if f.ty == Ty::Fk && !f.target.is_empty() {
                let target = resource(f.target)?;
                return Some(NavInfo {
                    target,
                    link: format!("{{c}}.\"id\" = {}", f.expr("{p}")),
                    to_one: true,
                });
            }
            return None;
        }
        let n = self.navs.iter().find(|n| n.name == name)?;
        Some(NavInfo {
            target: resource(n.target)?,
            link: n.link.to_string(),
            to_one: false,
        })
    }

    pub fn visibility_sql(&self, alias: &str) -> Option<String> {
        if self.visibility.is_empty() {
            None
        } else {
            Some(self.visibility.replace("{t}", alias))
        }
    }
}

const fn f(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        sql: "",
        target: "",
        write: Write::No,
        required: false,
    }
}
const fn w(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        sql: "",
        target: "",
        write: Write::Yes,
        required: false,
    }
}
const fn fk(name: &'static str, target: &'static str, write: Write, required: bool) -> Field {
    Field {
        name,
        ty: Ty::Fk,
        sql: "",
        target,
        write,
        required,
    }
}
const fn computed(name: &'static str, ty: Ty, sql: &'static str) -> Field {
    Field {
        name,
        ty,
        sql,
        target: "",
        write: Write::No,
        required: false,
    }
}

/// Organisations the current user (`?`) belongs to.
macro_rules! user_orgs {
    () => {
        "SELECT _m.\"organization_id\" FROM org_member _m WHERE _m.\"user_id\" = ?"
    };
}

/// SQL of the device's target release: its pin, else its fleet's target.
pub const DEVICE_TARGET_SQL: &str = "COALESCE({t}.\"is_pinned_on__release\", (SELECT _a.\"should_be_running__release\" FROM t_application _a WHERE _a.\"id\" = {t}.\"belongs_to__application\"))";

/// SQL of `overall_status`, a simplification of the real server's rules: an online device
/// is `updating` while it downloads (a download progress, status `Downloading`) or while its
/// `update_status` is one of the in-progress values (`downloading`, `downloaded`, `applying
/// changes`).
pub const DEVICE_OVERALL_STATUS_SQL: &str = "(CASE WHEN {t}.\"is_online\" = 0 AND {t}.\"last_connectivity_event\" IS NULL THEN 'configuring' WHEN {t}.\"is_online\" = 0 THEN 'offline' WHEN {t}.\"download_progress\" IS NOT NULL OR {t}.\"status\" = 'Downloading' OR {t}.\"update_status\" IN ('downloading', 'downloaded', 'applying changes') THEN 'updating' ELSE 'idle' END)";

pub static ORGANIZATION: Resource = Resource {
    name: "organization",
    table: "t_organization",
    fields: &[
        f("created_at", Ty::Date),
        f("modified_at", Ty::Date),
        f("id", Ty::Int),
        f("name", Ty::Text),
        f("handle", Ty::Text),
    ],
    navs: &[Nav {
        name: "application",
        target: "application",
        link: "{c}.\"organization\" = {p}.\"id\"",
    }],
    visibility: concat!("{t}.\"id\" IN (", user_orgs!(), ")"),
    guest: Guest::Empty,
    writable: false,
    alternate_keys: &["handle"],
    hidden_columns: &[],
    hooks: &OrganizationHooks,
};

pub static USER: Resource = Resource {
    name: "user",
    table: "t_user",
    fields: &[
        f("created_at", Ty::Date),
        f("modified_at", Ty::Date),
        f("id", Ty::Int),
        fk("actor", "", Write::No, false),
        f("username", Ty::Text),
    ],
    navs: &[],
    visibility: concat!(
        "{t}.\"id\" IN (SELECT _m2.\"user_id\" FROM org_member _m2 WHERE _m2.\"organization_id\" IN (",
        user_orgs!(),
        "))"
    ),
    guest: Guest::Unauthorized,
    writable: false,
    alternate_keys: &["username"],
    hidden_columns: &[("email", Ty::Text)],
    hooks: &UserHooks,
};

pub static DEVICE_TYPE: Resource = Resource {
    name: "device_type",
    table: "t_device_type",
    fields: &[
        f("created_at", Ty::Date),
        f("modified_at", Ty::Date),
        f("id", Ty::Int),
        f("slug", Ty::Text),
        f("name", Ty::Text),
        f("is_private", Ty::Bool),
    ],
    navs: &[],
    visibility: "",
    guest: Guest::Public,
    writable: false,
    alternate_keys: &["slug"],
    hidden_columns: &[],
    hooks: &NoHooks,
};

pub static APPLICATION_TYPE: Resource = Resource {
    name: "application_type",
    table: "t_application_type",
    fields: &[f("id", Ty::Int), f("name", Ty::Text), f("slug", Ty::Text)],
    navs: &[],
    visibility: "",
    guest: Guest::Public,
    writable: false,
    alternate_keys: &["slug"],
    hidden_columns: &[],
    hooks: &NoHooks,
};

pub static APPLICATION: Resource = Resource {
    name: "application",
    table: "t_application",
    fields: &[
        f("created_at", Ty::Date),
        f("modified_at", Ty::Date),
        f("id", Ty::Int),
        fk("actor", "", Write::No, false),
        w("should_track_latest_release", Ty::Bool),
        f("is_of__class", Ty::Text),
        fk("organization", "organization", Write::Create, true),
        Field {
            required: true,
            ..w("app_name", Ty::Text)
        },
        f("slug", Ty::Text),
        fk("is_for__device_type", "device_type", Write::Yes, true),
        fk("should_be_running__release", "release", Write::Yes, false),
        fk("application_type", "application_type", Write::No, false),
        f("is_host", Ty::Bool),
        w("is_archived", Ty::Bool),
        f("uuid", Ty::Text),
        w("is_public", Ty::Bool),
    ],
    navs: &[
        Nav {
            name: "owns__release",
            target: "release",
            link: "{c}.\"belongs_to__application\" = {p}.\"id\"",
        },
        Nav {
            name: "owns__device",
            target: "device",
            link: "{c}.\"belongs_to__application\" = {p}.\"id\"",
        },
        Nav {
            name: "application_tag",
            target: "application_tag",
            link: "{c}.\"application\" = {p}.\"id\"",
        },
        Nav {
            name: "is_directly_accessible_by__user",
            target: "user",
            link: "{c}.\"id\" IN (SELECT _m3.\"user_id\" FROM org_member _m3 WHERE _m3.\"organization_id\" = {p}.\"organization\")",
        },
    ],
    visibility: concat!("{t}.\"organization\" IN (", user_orgs!(), ")"),
    guest: Guest::Empty,
    writable: true,
    alternate_keys: &["slug", "uuid"],
    hidden_columns: &[],
    hooks: &ApplicationHooks,
};

macro_rules! in_user_fleets {
    ($col:literal) => {
        concat!(
            "{t}.\"",
            $col,
            "\" IN (SELECT _f.\"id\" FROM t_application _f WHERE _f.\"organization\" IN (",
            user_orgs!(),
            "))"
        )
    };
}

pub static RELEASE: Resource = Resource {
    name: "release",
    table: "t_release",
    fields: &[
        f("created_at", Ty::Date),
        f("modified_at", Ty::Date),
        f("id", Ty::Int),
        fk(
            "belongs_to__application",
            "application",
            Write::Create,
            true,
        ),
        Field {
            required: true,
            ..w("commit", Ty::Text)
        },
        w("composition", Ty::Json),
        w("status", Ty::Text),
        w("source", Ty::Text),
        w("build_log", Ty::Text),
        w("is_invalidated", Ty::Bool),
        Field {
            required: true,
            ..w("start_timestamp", Ty::Date)
        },
        w("end_timestamp", Ty::Date),
        f("update_timestamp", Ty::Date),
        w("release_version", Ty::Text),
        w("contract", Ty::Json),
        w("is_passing_tests", Ty::Bool),
        f("is_finalized_at__date", Ty::Date),
        w("phase", Ty::Text),
        Field {
            write: Write::Yes,
            ..computed("is_final", Ty::Bool, "({t}.\"revision\" IS NOT NULL)")
        },
        w("semver", Ty::Text),
        f("semver_major", Ty::Int),
        f("semver_minor", Ty::Int),
        f("semver_patch", Ty::Int),
        f("semver_prerelease", Ty::Text),
        f("semver_build", Ty::Text),
        w("variant", Ty::Text),
        f("revision", Ty::Int),
        f("raw_version", Ty::Text),
        f("version", Ty::Json),
        w("known_issue_list", Ty::Text),
        w("note", Ty::Text),
        w("invalidation_reason", Ty::Text),
    ],
    navs: &[
        Nav {
            name: "release_tag",
            target: "release_tag",
            link: "{c}.\"release\" = {p}.\"id\"",
        },
        Nav {
            name: "should_be_running_on__application",
            target: "application",
            link: "{c}.\"should_be_running__release\" = {p}.\"id\"",
        },
        Nav {
            name: "is_pinned_to__device",
            target: "device",
            link: "{c}.\"is_pinned_on__release\" = {p}.\"id\"",
        },
        Nav {
            name: "is_running_on__device",
            target: "device",
            link: "{c}.\"is_running__release\" = {p}.\"id\"",
        },
    ],
    visibility: in_user_fleets!("belongs_to__application"),
    guest: Guest::Empty,
    writable: true,
    alternate_keys: &[],
    hidden_columns: &[],
    hooks: &ReleaseHooks,
};

pub static DEVICE: Resource = Resource {
    name: "device",
    table: "t_device",
    fields: &[
        f("created_at", Ty::Date),
        f("modified_at", Ty::Date),
        f("id", Ty::Int),
        fk("actor", "", Write::No, false),
        w("api_heartbeat_state", Ty::Text),
        f("changed_api_heartbeat_state_on__date", Ty::Date),
        Field {
            write: Write::Create,
            ..f("uuid", Ty::Text)
        },
        w("local_id", Ty::Text),
        w("device_name", Ty::Text),
        w("note", Ty::Text),
        fk("is_of__device_type", "device_type", Write::Yes, true),
        fk("belongs_to__application", "application", Write::Yes, true),
        w("is_online", Ty::Bool),
        w("last_connectivity_event", Ty::Date),
        w("is_connected_to_vpn", Ty::Bool),
        w("last_vpn_event", Ty::Date),
        w("is_locked_until__date", Ty::Date),
        w("public_address", Ty::Text),
        w("ip_address", Ty::Text),
        w("mac_address", Ty::Text),
        w("is_web_accessible", Ty::Bool),
        w("memory_usage", Ty::Int),
        w("memory_total", Ty::Int),
        w("storage_block_device", Ty::Text),
        w("storage_usage", Ty::Int),
        w("storage_total", Ty::Int),
        w("cpu_usage", Ty::Int),
        w("cpu_temp", Ty::Int),
        w("is_undervolted", Ty::Bool),
        w("cpu_id", Ty::Text),
        fk("is_running__release", "release", Write::Yes, false),
        w("download_progress", Ty::Int),
        w("status", Ty::Text),
        w("os_version", Ty::Text),
        w("os_variant", Ty::Text),
        computed("overall_status", Ty::Text, DEVICE_OVERALL_STATUS_SQL),
        computed(
            "overall_progress",
            Ty::Int,
            "(CASE WHEN {t}.\"download_progress\" IS NOT NULL AND {t}.\"is_online\" = 1 THEN {t}.\"download_progress\" END)",
        ),
        w("supervisor_version", Ty::Text),
        w("provisioning_progress", Ty::Int),
        w("provisioning_state", Ty::Text),
        w("api_port", Ty::Int),
        w("api_secret", Ty::Text),
        fk("is_managed_by__service_instance", "", Write::No, false),
        fk("is_pinned_on__release", "release", Write::Yes, false),
        Field {
            name: "should_be_running__release",
            ty: Ty::Fk,
            sql: DEVICE_TARGET_SQL,
            target: "release",
            write: Write::No,
            required: false,
        },
        fk("should_be_operated_by__release", "release", Write::Yes, false),
        fk("should_be_managed_by__release", "release", Write::Yes, false),
        w("update_status", Ty::Text),
        w("last_update_status_event", Ty::Date),
    ],
    navs: &[Nav {
        name: "device_tag",
        target: "device_tag",
        link: "{c}.\"device\" = {p}.\"id\"",
    }],
    visibility: in_user_fleets!("belongs_to__application"),
    guest: Guest::Unauthorized,
    writable: true,
    alternate_keys: &["uuid"],
    hidden_columns: &[],
    hooks: &DeviceHooks,
};

/// Tags whose parent (`release`, `device`) is seen by whoever sees its fleet.
macro_rules! parent_in_user_fleets {
    ($parent:literal, $parent_table:literal) => {
        concat!(
            "{t}.\"",
            $parent,
            "\" IN (SELECT _p.\"id\" FROM ",
            $parent_table,
            " _p WHERE _p.\"belongs_to__application\" IN (SELECT _f.\"id\" FROM t_application _f WHERE _f.\"organization\" IN (",
            user_orgs!(),
            ")))"
        )
    };
}

/// A tag resource (`application_tag`, `release_tag`, `device_tag`): a key and a value on a
/// parent row, unique per parent and key, seen by whoever sees the parent's fleet
/// (`$visibility`).
macro_rules! tag_resource {
    ($name:literal, $table:literal, $parent:literal, $guest:expr, $visibility:expr) => {
        Resource {
            name: $name,
            table: $table,
            fields: &[
                f("created_at", Ty::Date),
                f("modified_at", Ty::Date),
                f("id", Ty::Int),
                fk($parent, $parent, Write::Create, true),
                Field {
                    required: true,
                    ..w("tag_key", Ty::Text)
                },
                Field {
                    required: true,
                    ..w("value", Ty::Text)
                },
            ],
            navs: &[],
            visibility: $visibility,
            guest: $guest,
            writable: true,
            alternate_keys: &[],
            hidden_columns: &[],
            hooks: &TagHooks { parent: $parent },
        }
    };
}

/// `application_tag` (open-balena-api: "application has tag key", term form "application
/// tag"): guests may read the tags of public fleets only, so a guest gets `{"d":[]}` as for
/// applications.
pub static APPLICATION_TAG: Resource = tag_resource!(
    "application_tag",
    "t_application_tag",
    "application",
    Guest::Empty,
    in_user_fleets!("application")
);

pub static RELEASE_TAG: Resource = tag_resource!(
    "release_tag",
    "t_release_tag",
    "release",
    Guest::Empty,
    parent_in_user_fleets!("release", "t_release")
);

pub static DEVICE_TAG: Resource = tag_resource!(
    "device_tag",
    "t_device_tag",
    "device",
    Guest::Unauthorized,
    parent_in_user_fleets!("device", "t_device")
);

pub static RESOURCES: &[&Resource] = &[
    &ORGANIZATION,
    &USER,
    &DEVICE_TYPE,
    &APPLICATION_TYPE,
    &APPLICATION,
    &RELEASE,
    &DEVICE,
    &RELEASE_TAG,
    &DEVICE_TAG,
    &APPLICATION_TAG,
];

pub fn resource(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().copied().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fk_target_and_nav_target_exists() {
        for r in RESOURCES {
            for f in r.fields {
                if f.ty == Ty::Fk && !f.target.is_empty() {
                    assert!(resource(f.target).is_some(), "{}.{}", r.name, f.name);
                    assert!(r.nav(f.name).is_some());
                }
            }
            for n in r.navs {
                assert!(resource(n.target).is_some(), "{}.{}", r.name, n.name);
                assert!(r.field(n.name).is_none(), "{}.{} is both", r.name, n.name);
            }
            assert_eq!(
                r.fields[r.fields.iter().position(|f| f.name == "id").unwrap()].ty,
                Ty::Int
            );
        }
    }
}
