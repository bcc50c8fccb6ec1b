//! A small builder for the OData (pinejs dialect) query strings of the balena API v7.
//!
//! The output is already percent-encoded the way pinejs-client + WHATWG `URL` encode it:
//! - string literals are `'`-quoted with `'` doubled, and their content is encoded like
//!   `encodeURIComponent` (so `/` → `%2F`, `&` → `%26`, `+` → `%2B`, `é` → `%C3%A9`), with
//!   the quote itself always written `%27`;
//! - spaces between tokens are `%20`;
//! - the structural characters `$ ( ) , ; = : /` stay readable.
//!
//! Multi-operand `and`/`or` wrap every operand in parentheses, as pinejs-client-core 8.5.0
//! (the version the official CLI ships) does.

use std::fmt::Write as _;

/// A literal value in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Str(String),
    Int(i64),
    Bool(bool),
    Null,
}

impl From<&str> for Lit {
    fn from(s: &str) -> Self {
        Lit::Str(s.to_owned())
    }
}
impl From<String> for Lit {
    fn from(s: String) -> Self {
        Lit::Str(s)
    }
}
impl From<i64> for Lit {
    fn from(n: i64) -> Self {
        Lit::Int(n)
    }
}
impl From<bool> for Lit {
    fn from(b: bool) -> Self {
        Lit::Bool(b)
    }
}

/// A `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Eq(String, Lit),
    /// `field ne value` (`ne null`: the field is set).
    Ne(String, Lit),
    /// `field gt value`: keyset paging (`id gt <the last id seen>`).
    Gt(String, Lit),
    /// `field ge value`: the lower bound of a keyset page on a sort key that may repeat.
    Ge(String, Lit),
    /// `field le value`: the upper bound of an id range.
    Le(String, Lit),
    /// `a ne b`: two fields of the same row differ (null-safe on the server: pinejs
    /// compiles it to `IS DISTINCT FROM`).
    NeField(String, String),
    StartsWith(String, String),
    /// `field in (a, b, c)`
    In(String, Vec<Lit>),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    /// `nav/any(v:body)`
    Any {
        nav: String,
        var: String,
        body: Box<Filter>,
    },
    /// `1 eq 1`: used in `is_directly_accessible_by__user/any(dau:1 eq 1)`.
    True,
}

impl Filter {
    /// `field in (id, …)`
    pub fn id_in(field: &str, ids: &[i64]) -> Filter {
        Filter::In(field.to_owned(), ids.iter().map(|i| Lit::Int(*i)).collect())
    }
    pub fn eq(field: &str, value: impl Into<Lit>) -> Filter {
        Filter::Eq(field.to_owned(), value.into())
    }
    pub fn starts_with(field: &str, prefix: &str) -> Filter {
        Filter::StartsWith(field.to_owned(), prefix.to_owned())
    }
    pub fn any(nav: &str, var: &str, body: Filter) -> Filter {
        Filter::Any {
            nav: nav.to_owned(),
            var: var.to_owned(),
            body: Box::new(body),
        }
    }
    /// The official CLI's "directly accessible by the user" restriction for name lookups.
    pub fn directly_accessible() -> Filter {
        Filter::any("is_directly_accessible_by__user", "dau", Filter::True)
    }

    /// Renders the (percent-encoded) expression.
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.render_into(&mut s);
        s
    }

    fn render_into(&self, out: &mut String) {
        match self {
            Filter::Eq(field, lit) => {
                out.push_str(field);
                out.push_str("%20eq%20");
                render_lit(lit, out);
            }
            Filter::Ne(field, lit) => {
                out.push_str(field);
                out.push_str("%20ne%20");
                render_lit(lit, out);
            }
            Filter::Gt(field, lit) => {
                out.push_str(field);
                out.push_str("%20gt%20");
                render_lit(lit, out);
            }
            Filter::Ge(field, lit) => {
                out.push_str(field);
                out.push_str("%20ge%20");
                render_lit(lit, out);
            }
            Filter::Le(field, lit) => {
                out.push_str(field);
                out.push_str("%20le%20");
                render_lit(lit, out);
            }
            Filter::NeField(a, b) => {
                out.push_str(a);
                out.push_str("%20ne%20");
                out.push_str(b);
            }
            Filter::StartsWith(field, prefix) => {
                out.push_str("startswith(");
                out.push_str(field);
                out.push(',');
                render_lit(&Lit::Str(prefix.clone()), out);
                out.push(')');
            }
            Filter::In(field, values) => {
                out.push_str(field);
                out.push_str("%20in%20(");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    render_lit(v, out);
                }
                out.push(')');
            }
            Filter::And(parts) => render_joined(parts, "%20and%20", out),
            Filter::Or(parts) => render_joined(parts, "%20or%20", out),
            Filter::Any { nav, var, body } => {
                out.push_str(nav);
                out.push_str("/any(");
                out.push_str(var);
                out.push(':');
                body.render_into(out);
                out.push(')');
            }
            Filter::True => out.push_str("1%20eq%201"),
        }
    }
}

fn render_joined(parts: &[Filter], op: &str, out: &mut String) {
    if parts.len() == 1 {
        parts[0].render_into(out);
        return;
    }
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(op);
        }
        out.push('(');
        p.render_into(out);
        out.push(')');
    }
}

fn render_lit(lit: &Lit, out: &mut String) {
    match lit {
        Lit::Str(s) => {
            out.push_str("%27");
            out.push_str(&encode_string_value(&s.replace('\'', "''")));
            out.push_str("%27");
        }
        Lit::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Lit::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Lit::Null => out.push_str("null"),
    }
}

/// What `encodeURIComponent` leaves alone, less `'`: the WHATWG URL parser encodes it in a
/// query, so pinejs clients send `%27`.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'(')
    .remove(b')');

/// `encodeURIComponent`, followed by the WHATWG query encoding of `'` (→ `%27`).
pub fn encode_string_value(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

/// One `$expand` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expand {
    pub nav: String,
    pub opts: Query,
}

/// The options of one query level: `$select`, `$filter`, `$expand`, `$orderby`, `$top`,
/// `$skip`. They are rendered in that order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub select: Vec<String>,
    pub filter: Option<Filter>,
    pub expand: Vec<Expand>,
    pub orderby: Option<String>,
    pub top: Option<u32>,
    pub skip: Option<u64>,
}

impl Query {
    pub fn new() -> Query {
        Query::default()
    }
    pub fn select(mut self, fields: &[&str]) -> Query {
        self.select = fields.iter().map(|f| (*f).to_owned()).collect();
        self
    }
    pub fn filter(mut self, f: Filter) -> Query {
        self.filter = Some(f);
        self
    }
    pub fn expand(mut self, nav: &str, opts: Query) -> Query {
        self.expand.push(Expand {
            nav: nav.to_owned(),
            opts,
        });
        self
    }
    /// e.g. `created_at desc`
    pub fn orderby(mut self, o: &str) -> Query {
        self.orderby = Some(o.to_owned());
        self
    }
    pub fn top(mut self, n: u32) -> Query {
        self.top = Some(n);
        self
    }
    /// `$skip=n` (omitted for 0).
    pub fn skip(mut self, n: u64) -> Query {
        self.skip = (n > 0).then_some(n);
        self
    }

    fn options(&self) -> Vec<String> {
        let mut opts = Vec::new();
        if !self.select.is_empty() {
            opts.push(format!("$select={}", self.select.join(",")));
        }
        if let Some(f) = &self.filter {
            opts.push(format!("$filter={}", f.render()));
        }
        if !self.expand.is_empty() {
            let parts: Vec<String> = self
                .expand
                .iter()
                .map(|e| {
                    let inner = e.opts.options();
                    if inner.is_empty() {
                        e.nav.clone()
                    } else {
                        format!("{}({})", e.nav, inner.join(";"))
                    }
                })
                .collect();
            opts.push(format!("$expand={}", parts.join(",")));
        }
        if let Some(o) = &self.orderby {
            opts.push(format!("$orderby={}", o.replace(' ', "%20")));
        }
        if let Some(t) = self.top {
            opts.push(format!("$top={t}"));
        }
        if let Some(n) = self.skip {
            opts.push(format!("$skip={n}"));
        }
        opts
    }

    /// The query string, without the leading `?` (empty if there are no options).
    pub fn render(&self) -> String {
        self.options().join("&")
    }
}

/// `resource(id)`: one entity of a resource, e.g. `device(42)`.
pub fn entity(resource: &str, id: i64) -> String {
    format!("{resource}({id})")
}

/// `resource(id)` + `?query`, relative to the `/v7/` prefix.
pub fn entity_path(resource: &str, id: i64, q: &Query) -> String {
    path(&entity(resource, id), q)
}

/// `resource` + `?query` (or just `resource`), relative to the `/v7/` prefix.
pub fn path(resource: &str, q: &Query) -> String {
    let qs = q.render();
    if qs.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}?{qs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_or_uuid_matches_official_bytes() {
        let f = Filter::Or(vec![
            Filter::eq("slug", "myorg/myfleet"),
            Filter::eq("uuid", "myorg/myfleet"),
        ]);
        assert_eq!(
            f.render(),
            "(slug%20eq%20%27myorg%2Fmyfleet%27)%20or%20(uuid%20eq%20%27myorg%2Fmyfleet%27)"
        );
    }

    #[test]
    fn special_characters_are_encoded_like_pinejs() {
        let f = Filter::And(vec![
            Filter::directly_accessible(),
            Filter::eq("app_name", "My_O'Fl&et-é+#"),
        ]);
        assert_eq!(
            f.render(),
            "(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20(app_name%20eq%20%27My_O%27%27Fl%26et-%C3%A9%2B%23%27)"
        );
        assert_eq!(
            Filter::eq("slug", "org/my+fl'eet").render(),
            "slug%20eq%20%27org%2Fmy%2Bfl%27%27eet%27"
        );
    }

    #[test]
    fn startswith_in_and_literals() {
        assert_eq!(
            Filter::starts_with("uuid", "abcdef0").render(),
            "startswith(uuid,%27abcdef0%27)"
        );
        assert_eq!(
            Filter::In("id".into(), vec![Lit::Int(1), Lit::Int(2)]).render(),
            "id%20in%20(1,2)"
        );
        assert_eq!(
            Filter::eq("is_final", true).render(),
            "is_final%20eq%20true"
        );
        assert_eq!(Filter::Eq("x".into(), Lit::Null).render(), "x%20eq%20null");
        assert_eq!(Filter::Ne("x".into(), Lit::Null).render(), "x%20ne%20null");
        assert_eq!(
            Filter::NeField("a__release".into(), "b__release".into()).render(),
            "a__release%20ne%20b__release"
        );
        // A single operand gets no parentheses.
        assert_eq!(
            Filter::And(vec![Filter::eq("id", 5i64)]).render(),
            "id%20eq%205"
        );
    }

    #[test]
    fn track_latest_query_matches_official_expand() {
        let trackable = Filter::And(vec![
            Filter::eq("is_final", true),
            Filter::eq("is_passing_tests", true),
            Filter::eq("is_invalidated", false),
            Filter::eq("status", "success"),
        ]);
        let q = Query::new().select(&["id"]).expand(
            "owns__release",
            Query::new()
                .select(&["id"])
                .filter(trackable)
                .orderby("created_at desc")
                .top(1),
        );
        assert_eq!(
            q.render(),
            "$select=id&$expand=owns__release($select=id;$filter=(is_final%20eq%20true)%20and%20(is_passing_tests%20eq%20true)%20and%20(is_invalidated%20eq%20false)%20and%20(status%20eq%20%27success%27);$orderby=created_at%20desc;$top=1)"
        );
    }

    #[test]
    fn nested_expand_and_path() {
        let q = Query::new()
            .filter(Filter::starts_with("uuid", "abc"))
            .expand(
                "belongs_to__application",
                Query::new().select(&["id", "slug"]).expand(
                    "owns__release",
                    Query::new().select(&["id"]).filter(Filter::eq("id", 5i64)),
                ),
            )
            .expand(
                "is_pinned_on__release",
                Query::new().select(&["id", "commit"]),
            )
            .top(10);
        assert_eq!(
            path("device", &q),
            "device?$filter=startswith(uuid,%27abc%27)&$expand=belongs_to__application($select=id,slug;$expand=owns__release($select=id;$filter=id%20eq%205)),is_pinned_on__release($select=id,commit)&$top=10"
        );
        assert_eq!(path("release(5)", &Query::new()), "release(5)");
        assert_eq!(
            entity_path("device", 7, &Query::new().select(&["id"])),
            "device(7)?$select=id"
        );
        assert_eq!(Query::new().top(2).skip(4).render(), "$top=2&$skip=4");
        assert_eq!(Query::new().skip(0).render(), "");
    }

    #[test]
    fn encode_string_value_keeps_unreserved() {
        assert_eq!(encode_string_value("a-b_c.d!e~f*g(h)"), "a-b_c.d!e~f*g(h)");
        assert_eq!(encode_string_value("a b/c'd"), "a%20b%2Fc%27d");
    }
}
