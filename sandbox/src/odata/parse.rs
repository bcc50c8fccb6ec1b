//! The OData parser. (Filled in by the parser work; see mod.rs for the contract.)
use super::{Expr, ParseError, QueryOptions, ResourcePath};

pub fn parse_resource_path(_path: &str) -> Result<ResourcePath, ParseError> {
    Err(ParseError("not implemented".into()))
}

pub fn parse_query(_raw_query: &str) -> Result<QueryOptions, ParseError> {
    Err(ParseError("not implemented".into()))
}

/// Parses a bare `$filter` expression (already percent-decoded).
pub fn parse_filter(_filter: &str) -> Result<Expr, ParseError> {
    Err(ParseError("not implemented".into()))
}
