//! OData (balena API v7 / pinejs dialect) request parsing.
//!
//! This module is schema-free: it turns the raw resource path and query string of a request
//! into the syntax tree below. Checking names against the data model and turning the tree into
//! parameterised SQL happens elsewhere (`crate::query`).
//!
//! Contract for the rest of the sandbox:
//! - [`parse_resource_path`] takes the path after `/v7/` (still percent-encoded), e.g.
//!   `device`, `device(12)`, `device(uuid='abc')`, `release/$count`.
//!   [`parse_resource_path_with_query`] also resolves parameter aliases in the key
//!   (`device(uuid=@u)`) from the query string.
//! - [`parse_query`] takes the raw query string (without `?`, still percent-encoded) and
//!   returns every `$`-option it understands. Unknown `$`-options are a [`ParseError`];
//!   parameters without `$` are ignored, as pinejs ignores them.
//! - [`parse_filter`] takes a bare, already decoded `$filter` expression.
//! - None of them panics, whatever the input.

mod parse;

pub use parse::{parse_filter, parse_query, parse_resource_path, parse_resource_path_with_query};

/// The resource addressed by a request path.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourcePath {
    /// e.g. `application`, `device`, `release`, `release_tag`.
    pub resource: String,
    /// `(12)` or `(uuid='abc')`, if present.
    pub key: Option<Key>,
    /// `/$count` after the resource (or after the key).
    pub count: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// `resource(12)`
    Id(i64),
    /// `resource(uuid='abc')` or `resource(uuid=@param)` resolved to its value.
    Alternate { field: String, value: Literal },
}

/// Every `$`-option of one query level. Nested `$expand` options use the same type.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryOptions {
    /// `$select=a,b,c`. `None` means "all default fields". `*` is returned as `Some(vec!["*"])`.
    pub select: Option<Vec<String>>,
    /// `$expand=nav($select=..;$filter=..),other`
    pub expand: Vec<Expand>,
    /// `$filter=...`
    pub filter: Option<Expr>,
    /// `$orderby=a desc,b asc` (asc is the default). Each key may be a path `nav/field`.
    pub orderby: Vec<OrderBy>,
    /// `$top=N` (N >= 0)
    pub top: Option<u64>,
    /// `$skip=N` (N >= 0)
    pub skip: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    /// The navigation property, e.g. `owns__release`.
    pub property: String,
    /// `nav/$count` form: the expansion is a count, not rows.
    pub count: bool,
    /// Options in the parentheses, `;`-separated.
    pub options: QueryOptions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    /// `created_at` is `["created_at"]`; `belongs_to__application/slug` is two segments.
    pub path: Vec<String>,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Quoted string, `''` already unescaped.
    String(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaKind {
    Any,
    All,
}

/// The functions the sandbox supports. Unknown function names are a parse error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `startswith(haystack, prefix)`
    StartsWith,
    /// `endswith(haystack, suffix)`
    EndsWith,
    /// `contains(haystack, needle)` (also accepted: `substringof(needle, haystack)`, args swapped by the parser)
    Contains,
    /// `tolower(x)`
    ToLower,
    /// `toupper(x)`
    ToUpper,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Literal),
    /// A property path: `slug`, `belongs_to__application/slug`, or inside a lambda `d/actor`
    /// (the first segment is then the lambda variable).
    Path(Vec<String>),
    Compare {
        op: CmpOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// `x in (1, 2, 3)`
    In {
        left: Box<Expr>,
        list: Vec<Expr>,
    },
    Call {
        func: Func,
        args: Vec<Expr>,
    },
    /// `nav/any(v: body)` / `nav/all(v: body)`. `path` is the navigation path before `/any`.
    Lambda {
        path: Vec<String>,
        kind: LambdaKind,
        var: String,
        body: Box<Expr>,
    },
}

/// A malformed path or query. The server answers it with 400 and
/// `"Malformed url: '<path and query>'"`, as open-balena-api does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);
