//! OData syntax tree → parameterised SQL, checked against the schema, and the execution of
//! reads (with `$expand`, one extra query per expanded level, batched over all parent rows).
//!
//! Request values only ever reach SQLite as numbered parameters (`?N`); the SQL text is
//! built from identifiers in `crate::schema` and aliases generated here.

use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;
use serde_json::Value as Json;

use crate::odata::{CmpOp, Expr, Func, Key, LambdaKind, Literal, OrderBy, QueryOptions};
use crate::schema::{Guest, Resource, Ty};

/// Who is asking. Tenancy filters depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The server itself: no tenancy filter.
    Root,
    /// A user with a valid API key.
    User(i64),
    /// No or unknown token.
    Guest,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query names something the schema does not know, or misuses it: 400 with this text.
    #[error("{0}")]
    Bad(String),
    /// A guest's query reaches a resource guests may not read at all, even only through a
    /// navigation in `$filter`, `$orderby` or `$expand`: 401 with an empty body. The real
    /// server (pinejs) compiles the permissions of every resource a query touches, and
    /// refuses the whole query when one of them grants a guest nothing; e.g. `fleet list`'s
    /// `is_directly_accessible_by__user/any(…)` reaches `user`.
    #[error("unauthorized")]
    Unauthorized,
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
}

fn bad<T>(msg: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError::Bad(msg.into()))
}

pub fn unknown_field(res: &Resource, name: &str) -> QueryError {
    QueryError::Bad(format!("Unknown field '{name}' of resource '{}'", res.name))
}

fn unknown_nav(res: &Resource, name: &str) -> QueryError {
    QueryError::Bad(format!(
        "Unknown navigation property '{name}' of resource '{}'",
        res.name
    ))
}

/// The navigation property `name` of `res`, or why there is none.
fn nav_of(res: &Resource, name: &str) -> Result<crate::schema::NavInfo, QueryError> {
    match res.nav(name) {
        Some(n) => Ok(n),
        None if res.field(name).is_some() => bad(format!(
            "'{name}' of resource '{}' is not a navigation property",
            res.name
        )),
        None => Err(unknown_nav(res, name)),
    }
}

struct Scope {
    var: String,
    res: &'static Resource,
    alias: String,
}

/// Accumulates the numbered parameters of one SQL statement.
struct Builder {
    params: Vec<Value>,
    aliases: usize,
    access: Access,
}

impl Builder {
    fn new(access: Access) -> Self {
        Builder {
            params: Vec::new(),
            aliases: 0,
            access,
        }
    }

    fn param(&mut self, v: Value) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }

    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("t{}", self.aliases)
    }

    /// The tenancy condition for `res` aliased `alias`, if any; for a guest, an error when
    /// guests may not read `res` at all.
    fn visibility(&mut self, res: &Resource, alias: &str) -> Result<Option<String>, QueryError> {
        Ok(match self.access {
            Access::Root => None,
            Access::Guest => {
                if res.guest == Guest::Unauthorized {
                    return Err(QueryError::Unauthorized);
                }
                if res.visibility.is_empty() {
                    None
                } else {
                    Some("0".to_string())
                }
            }
            Access::User(u) => match res.visibility_sql(alias) {
                Some(sql) => {
                    let p = self.param(Value::Integer(u));
                    Some(sql.replace('?', &p))
                }
                None => None,
            },
        })
    }

    fn literal(&mut self, l: &Literal) -> String {
        match l {
            Literal::Null => "NULL".to_string(),
            Literal::Bool(b) => self.param(Value::Integer(*b as i64)),
            Literal::Int(i) => self.param(Value::Integer(*i)),
            Literal::Float(f) => {
                if f.is_finite() {
                    self.param(Value::Real(*f))
                } else {
                    "NULL".to_string()
                }
            }
            Literal::String(s) => self.param(Value::Text(s.clone())),
        }
    }

    /// A value path: `field`, `nav/field`, `var/field`, `var/nav/field`.
    fn path(&mut self, scopes: &[Scope], segs: &[String]) -> Result<(String, Ty), QueryError> {
        if segs.is_empty() {
            return bad("Empty property path");
        }
        if let Some(s) = scopes.iter().rev().find(|s| s.var == segs[0]) {
            if segs.len() == 1 {
                return bad(format!(
                    "Lambda variable '{}' cannot be used as a value",
                    segs[0]
                ));
            }
            let (res, alias) = (s.res, s.alias.clone());
            return self.walk(res, &alias, &segs[1..]);
        }
        let root = &scopes[0];
        let (res, alias) = (root.res, root.alias.clone());
        self.walk(res, &alias, segs)
    }

    fn walk(
        &mut self,
        res: &'static Resource,
        alias: &str,
        segs: &[String],
    ) -> Result<(String, Ty), QueryError> {
        let name = segs[0].as_str();
        if segs.len() == 1 {
            if let Some(f) = res.field(name) {
                return Ok((f.expr(alias), f.ty));
            }
            if res.navs.iter().any(|n| n.name == name) {
                return bad(format!(
                    "'{name}' of resource '{}' is a collection: use any() or all()",
                    res.name
                ));
            }
            return Err(unknown_field(res, name));
        }
        let nav = nav_of(res, name)?;
        if !nav.to_one {
            return bad(format!(
                "'{name}' of resource '{}' is a collection: use any() or all()",
                res.name
            ));
        }
        let a = self.alias();
        let (inner, ty) = self.walk(nav.target, &a, &segs[1..])?;
        let mut link = nav.link.replace("{p}", alias).replace("{c}", &a);
        // A row the caller cannot see reads as null, even through a navigation.
        if let Some(v) = self.visibility(nav.target, &a)? {
            link = format!("{link} AND {v}");
        }
        Ok((
            format!(
                "(SELECT {inner} FROM {} {a} WHERE {link})",
                nav.target.table
            ),
            ty,
        ))
    }

    /// A value expression with its type when known (paths only).
    fn value(
        &mut self,
        scopes: &mut Vec<Scope>,
        e: &Expr,
    ) -> Result<(String, Option<Ty>), QueryError> {
        match e {
            Expr::Path(p) => {
                let (sql, ty) = self.path(scopes, p)?;
                Ok((sql, Some(ty)))
            }
            other => Ok((self.filter(scopes, other)?, None)),
        }
    }

    fn filter(&mut self, scopes: &mut Vec<Scope>, e: &Expr) -> Result<String, QueryError> {
        Ok(match e {
            Expr::Literal(l) => self.literal(l),
            Expr::Path(p) => self.path(scopes, p)?.0,
            Expr::Compare { op, left, right } => {
                let l_null = matches!(**left, Expr::Literal(Literal::Null));
                let r_null = matches!(**right, Expr::Literal(Literal::Null));
                if l_null || r_null {
                    let other = if l_null { right } else { left };
                    let (o, _) = self.value(scopes, other)?;
                    if l_null && r_null {
                        return Ok(match op {
                            CmpOp::Eq => "1".into(),
                            CmpOp::Ne => "0".into(),
                            _ => "NULL".into(),
                        });
                    }
                    // Every branch must use `o`: its parameters are already bound.
                    return Ok(match op {
                        CmpOp::Eq => format!("({o} IS NULL)"),
                        CmpOp::Ne => format!("({o} IS NOT NULL)"),
                        _ => format!("(CASE WHEN {o} IS NULL THEN NULL ELSE NULL END)"),
                    });
                }
                let (l, lt) = self.compare_side(scopes, left, right)?;
                let (r, _) = self.compare_side(scopes, right, left)?;
                let _ = lt;
                let sym = match op {
                    CmpOp::Eq => "=",
                    CmpOp::Ne => "IS NOT",
                    CmpOp::Gt => ">",
                    CmpOp::Ge => ">=",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                };
                format!("({l} {sym} {r})")
            }
            Expr::And(a, b) => {
                let a = self.filter(scopes, a)?;
                let b = self.filter(scopes, b)?;
                format!("({a} AND {b})")
            }
            Expr::Or(a, b) => {
                let a = self.filter(scopes, a)?;
                let b = self.filter(scopes, b)?;
                format!("({a} OR {b})")
            }
            Expr::Not(a) => {
                let a = self.filter(scopes, a)?;
                format!("(NOT {a})")
            }
            Expr::In { left, list } => {
                let (l, _) = self.value(scopes, left)?;
                let mut items = Vec::new();
                let mut has_null = false;
                for item in list {
                    if matches!(item, Expr::Literal(Literal::Null)) {
                        has_null = true;
                    } else {
                        items.push(self.value(scopes, item)?.0);
                    }
                }
                let mut parts = Vec::new();
                if !items.is_empty() {
                    parts.push(format!("{l} IN ({})", items.join(", ")));
                }
                if has_null {
                    parts.push(format!("{l} IS NULL"));
                }
                if parts.is_empty() {
                    // `x in ()`: false, but `l`'s parameters are bound, so it must appear.
                    format!("(CASE WHEN {l} IS NULL THEN 0 ELSE 0 END)")
                } else {
                    format!("({})", parts.join(" OR "))
                }
            }
            Expr::Call { func, args } => {
                let want = match func {
                    Func::StartsWith | Func::EndsWith | Func::Contains => 2,
                    Func::ToLower | Func::ToUpper => 1,
                };
                if args.len() != want {
                    return bad(format!(
                        "Function {func:?} takes {want} argument(s), got {}",
                        args.len()
                    ));
                }
                let (a, a_ty) = self.value(scopes, &args[0])?;
                match func {
                    Func::ToLower => format!("lower({a})"),
                    Func::ToUpper => format!("upper({a})"),
                    _ => {
                        let b = self.value(scopes, &args[1])?.0;
                        let literal_prefix = matches!(args[1], Expr::Literal(Literal::String(_)));
                        match func {
                            // The range (implied by the prefix test) lets SQLite use an index,
                            // e.g. for the CLI's short-uuid lookups.
                            Func::StartsWith if a_ty == Some(Ty::Text) && literal_prefix => format!(
                                "({a} >= {b} AND {a} < ({b} || char(1114111)) AND substr({a}, 1, length({b})) = {b})"
                            ),
                            Func::StartsWith => format!("(substr({a}, 1, length({b})) = {b})"),
                            Func::EndsWith => {
                                format!("(length({b}) = 0 OR substr({a}, -length({b})) = {b})")
                            }
                            _ => format!("(instr({a}, {b}) > 0)"),
                        }
                    }
                }
            }
            Expr::Lambda {
                path,
                kind,
                var,
                body,
            } => self.lambda(scopes, path, *kind, var, body)?,
        })
    }

    /// One side of a comparison; a string literal compared with a date field is normalised to
    /// the stored date format so that text comparison orders correctly.
    fn compare_side(
        &mut self,
        scopes: &mut Vec<Scope>,
        side: &Expr,
        other: &Expr,
    ) -> Result<(String, Option<Ty>), QueryError> {
        if let (Expr::Literal(Literal::String(s)), Expr::Path(p)) = (side, other) {
            let mut probe = Builder::new(self.access);
            probe.aliases = self.aliases;
            if let Ok((_, Ty::Date)) = probe.path(scopes, p) {
                if let Some(norm) = crate::db::normalize_date(s) {
                    return Ok((self.param(Value::Text(norm)), None));
                }
            }
        }
        self.value(scopes, side)
    }

    fn lambda(
        &mut self,
        scopes: &mut Vec<Scope>,
        path: &[String],
        kind: LambdaKind,
        var: &str,
        body: &Expr,
    ) -> Result<String, QueryError> {
        if path.is_empty() {
            return bad("Empty lambda path");
        }
        let (res, alias, segs) = if let Some(s) = scopes
            .iter()
            .rev()
            .find(|s| s.var == path[0] && path.len() > 1)
        {
            (s.res, s.alias.clone(), &path[1..])
        } else {
            (scopes[0].res, scopes[0].alias.clone(), path)
        };
        self.lambda_chain(scopes, res, &alias, segs, kind, var, body)
    }

    #[allow(clippy::too_many_arguments)]
    fn lambda_chain(
        &mut self,
        scopes: &mut Vec<Scope>,
        res: &'static Resource,
        alias: &str,
        segs: &[String],
        kind: LambdaKind,
        var: &str,
        body: &Expr,
    ) -> Result<String, QueryError> {
        let name = segs[0].as_str();
        let nav = nav_of(res, name)?;
        let a = self.alias();
        let link = nav.link.replace("{p}", alias).replace("{c}", &a);
        let mut cond = vec![link];
        if let Some(v) = self.visibility(nav.target, &a)? {
            cond.push(v);
        }
        let table = nav.target.table;
        if segs.len() > 1 {
            let inner = self.lambda_chain(scopes, nav.target, &a, &segs[1..], kind, var, body)?;
            cond.push(inner);
            return Ok(format!(
                "EXISTS (SELECT 1 FROM {table} {a} WHERE {})",
                cond.join(" AND ")
            ));
        }
        scopes.push(Scope {
            var: var.to_string(),
            res: nav.target,
            alias: a.clone(),
        });
        let body_sql = self.filter(scopes, body);
        scopes.pop();
        let body_sql = body_sql?;
        Ok(match kind {
            LambdaKind::Any => {
                cond.push(body_sql);
                format!(
                    "EXISTS (SELECT 1 FROM {table} {a} WHERE {})",
                    cond.join(" AND ")
                )
            }
            LambdaKind::All => {
                cond.push(format!("NOT COALESCE({body_sql}, 0)"));
                format!(
                    "NOT EXISTS (SELECT 1 FROM {table} {a} WHERE {})",
                    cond.join(" AND ")
                )
            }
        })
    }

    /// The ORDER BY terms of `order`, then the row id (the order must be total: `$skip`
    /// and expansions depend on it). The id is never null, so its terms have no NULLS
    /// clause and are given once: a NULLS clause other than SQLite's default would keep
    /// SQLite from walking an index such as (fleet, device_name, id) in order.
    fn orderby(&mut self, scopes: &[Scope], order: &[OrderBy]) -> Result<Vec<String>, QueryError> {
        let id = format!("{}.\"id\"", scopes[0].alias);
        let mut out = Vec::new();
        let mut has_id = false;
        for o in order {
            let (sql, _) = self.path(scopes, &o.path)?;
            if sql == id {
                if !has_id {
                    has_id = true;
                    out.push(format!(
                        "{sql} {}",
                        if o.descending { "DESC" } else { "ASC" }
                    ));
                }
            } else if o.descending {
                out.push(format!("{sql} DESC NULLS FIRST"));
            } else {
                out.push(format!("{sql} ASC NULLS LAST"));
            }
        }
        if !has_id {
            out.push(format!("{id} ASC"));
        }
        Ok(out)
    }
}

/// The fields a `$select` asks for, in output order.
fn selected_fields(
    res: &'static Resource,
    select: &Option<Vec<String>>,
) -> Result<Vec<&'static crate::schema::Field>, QueryError> {
    match select {
        None => Ok(res.fields.iter().collect()),
        Some(names) if names.iter().any(|n| n == "*") => Ok(res.fields.iter().collect()),
        Some(names) => {
            let mut out: Vec<&'static crate::schema::Field> = Vec::new();
            for n in names {
                match res.field(n) {
                    Some(f) => {
                        if !out.iter().any(|o| o.name == f.name) {
                            out.push(f)
                        }
                    }
                    None => {
                        if res.navs.iter().any(|nav| nav.name == n) {
                            return bad(format!(
                                "'{n}' of resource '{}' is a collection: use $expand",
                                res.name
                            ));
                        }
                        return Err(unknown_field(res, n));
                    }
                }
            }
            Ok(out)
        }
    }
}

/// Turns one column of a result row into JSON: the reference [`write_json_of`] is tested
/// against.
#[cfg(test)]
fn json_of(v: ValueRef<'_>, ty: Ty) -> Json {
    match (v, ty) {
        (ValueRef::Null, _) => Json::Null,
        (ValueRef::Integer(i), Ty::Bool) => Json::Bool(i != 0),
        (ValueRef::Integer(i), Ty::Fk) => {
            let mut m = serde_json::Map::new();
            m.insert("__id".into(), Json::from(i));
            Json::Object(m)
        }
        (ValueRef::Integer(i), _) => Json::from(i),
        (ValueRef::Real(f), _) => serde_json::Number::from_f64(f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        (ValueRef::Text(t), Ty::Json) => {
            let s = String::from_utf8_lossy(t);
            serde_json::from_str(&s).unwrap_or(Json::String(s.into_owned()))
        }
        (ValueRef::Text(t), _) => Json::String(String::from_utf8_lossy(t).into_owned()),
        (ValueRef::Blob(b), _) => Json::String(String::from_utf8_lossy(b).into_owned()),
    }
}

/// Where the rows of one level come from.
enum Source<'a> {
    /// The top level, with an optional extra condition on alias `{t}` and its parameters.
    Root(Option<(String, Vec<Value>)>),
    /// An expansion: the children of these parent ids.
    Children {
        parent: &'static Resource,
        link: &'a str,
        parent_ids: &'a [i64],
    },
}

/// The rows of one level of a read, with their expansions, ready to be written as JSON.
///
/// The selected fields of every row are written as JSON while the rows are read, end to
/// end in one buffer (`"name":value` members, comma-separated, without braces); an object
/// is then put together from its expansions' members and that text, without building
/// `serde_json` values. A child row standing under several parents (many devices run one
/// release) is stored once and written for each of them.
struct Level {
    /// The parent id of each row (expansions only; 0 at the top level).
    parents: Vec<i64>,
    ids: Vec<i64>,
    /// The fields' members of all rows; row `i` ends at `ends[i]`.
    fields: Vec<u8>,
    ends: Vec<usize>,
    /// The members that come first, in `$expand` order: the key (`"name":`) and the index
    /// in `expansions` of the expansion that fills it (the last one of that name).
    slots: Vec<(Vec<u8>, usize)>,
    expansions: Vec<Expansion>,
}

enum Expansion {
    /// `nav/$count`: (parent id, count), by parent id; a missing parent counts 0.
    Count(Vec<(i64, i64)>),
    /// The child rows, and for each parent id (in increasing order) its range of them.
    Rows {
        level: Level,
        groups: Vec<(i64, usize, usize)>,
    },
}

impl Level {
    fn empty() -> Self {
        Level {
            parents: Vec::new(),
            ids: Vec::new(),
            fields: Vec::new(),
            ends: Vec::new(),
            slots: Vec::new(),
            expansions: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    /// A guess at the JSON size of all rows, for reserving the answer's buffer.
    fn size_hint(&self) -> usize {
        let mut n = self.fields.len() + 3 * self.len();
        for e in &self.expansions {
            if let Expansion::Rows { level, .. } = e {
                n += level.size_hint();
            }
        }
        n
    }

    /// Writes row `i` as a JSON object.
    fn write_row(&self, i: usize, out: &mut Vec<u8>) {
        out.push(b'{');
        let id = self.ids[i];
        for (n, (key, e)) in self.slots.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            match &self.expansions[*e] {
                Expansion::Count(counts) => {
                    let c = counts
                        .binary_search_by_key(&id, |c| c.0)
                        .map_or(0, |k| counts[k].1);
                    write_int(out, c);
                }
                Expansion::Rows { level, groups } => {
                    out.push(b'[');
                    if let Ok(k) = groups.binary_search_by_key(&id, |g| g.0) {
                        let (_, start, end) = groups[k];
                        for j in start..end {
                            if j > start {
                                out.push(b',');
                            }
                            level.write_row(j, out);
                        }
                    }
                    out.push(b']');
                }
            }
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let fields = &self.fields[start..self.ends[i]];
        if !fields.is_empty() {
            if !self.slots.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(fields);
        }
        out.push(b'}');
    }

    /// Writes all rows as a JSON array.
    fn write_array(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for i in 0..self.len() {
            if i > 0 {
                out.push(b',');
            }
            self.write_row(i, out);
        }
        out.push(b']');
    }
}

/// Serialises `v` with serde_json into `out`.
fn write_ser<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    serde_json::to_writer(out, v).expect("serialising JSON into memory cannot fail");
}

fn write_int(out: &mut Vec<u8>, i: i64) {
    write_ser(out, &i);
}

/// Writes one column of a result row as JSON: the serialisation of [`json_of`]'s value,
/// byte for byte.
fn write_json_of(out: &mut Vec<u8>, v: ValueRef<'_>, ty: Ty) {
    match (v, ty) {
        (ValueRef::Null, _) => out.extend_from_slice(b"null"),
        (ValueRef::Integer(i), Ty::Bool) => {
            out.extend_from_slice(if i != 0 { b"true" } else { b"false" })
        }
        (ValueRef::Integer(i), Ty::Fk) => {
            out.extend_from_slice(b"{\"__id\":");
            write_int(out, i);
            out.push(b'}');
        }
        (ValueRef::Integer(i), _) => write_int(out, i),
        (ValueRef::Real(f), _) => match serde_json::Number::from_f64(f) {
            Some(n) => write_ser(out, &n),
            None => out.extend_from_slice(b"null"),
        },
        (ValueRef::Text(t), Ty::Json) => {
            let s = String::from_utf8_lossy(t);
            match serde_json::from_str::<Json>(&s) {
                Ok(j) => write_ser(out, &j),
                Err(_) => write_ser(out, &*s),
            }
        }
        (ValueRef::Text(t), _) | (ValueRef::Blob(t), _) => {
            write_ser(out, &*String::from_utf8_lossy(t))
        }
    }
}

/// `"name":`, as serde_json writes an object key.
fn member_key(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 3);
    write_ser(&mut k, name);
    k.push(b':');
    k
}

fn clamp(n: Option<u64>) -> Option<i64> {
    n.map(|v| v.min(i64::MAX as u64) as i64)
}

fn ids_json(ids: &[i64]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(ids.len() * 8 + 2);
    s.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{id}");
    }
    s.push(']');
    s
}

/// Reads one level of rows, then its expansions recursively.
fn read_level(
    conn: &Connection,
    access: Access,
    res: &'static Resource,
    opts: &QueryOptions,
    source: Source<'_>,
) -> Result<Level, QueryError> {
    let fields = selected_fields(res, &opts.select)?;
    // Validate expansions before running anything.
    let mut navs = Vec::new();
    for e in &opts.expand {
        let nav = res.nav(&e.property).ok_or_else(|| {
            if res.field(&e.property).is_some() {
                QueryError::Bad(format!(
                    "'{}' of resource '{}' is not a navigation property",
                    e.property, res.name
                ))
            } else {
                unknown_nav(res, &e.property)
            }
        })?;
        navs.push(nav);
    }
    // An expansion takes the place of the field of its name.
    let fields: Vec<_> = fields
        .into_iter()
        .filter(|f| !opts.expand.iter().any(|e| e.property == f.name))
        .collect();
    let keys: Vec<Vec<u8>> = fields.iter().map(|f| member_key(f.name)).collect();

    let mut b = Builder::new(access);
    let alias = b.alias();
    let mut scopes = vec![Scope {
        var: "$it".into(),
        res,
        alias: alias.clone(),
    }];
    let mut cols = vec![format!("{alias}.\"id\"")];
    for f in &fields {
        cols.push(f.expr(&alias));
    }
    let mut conds = Vec::new();
    if let Some(v) = b.visibility(res, &alias)? {
        conds.push(v);
    }
    if let Some(filter) = &opts.filter {
        conds.push(b.filter(&mut scopes, filter)?);
    }
    let order = b.orderby(&scopes, &opts.orderby)?.join(", ");
    let table = res.table;
    let top = clamp(opts.top);
    let skip = clamp(opts.skip).unwrap_or(0);

    let sql = match &source {
        Source::Root(extra) => {
            if let Some((cond, params)) = extra {
                let mut c = cond.replace("{t}", &alias);
                // Renumber the extra condition's `?` parameters.
                for p in params {
                    let n = b.param(p.clone());
                    c = c.replacen("?#", &n, 1);
                }
                conds.push(c);
            }
            let where_ = if conds.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", conds.join(" AND "))
            };
            let lim = b.param(Value::Integer(top.unwrap_or(-1)));
            let off = b.param(Value::Integer(skip));
            format!(
                "SELECT 0, {} FROM {table} {alias}{where_} ORDER BY {order} LIMIT {lim} OFFSET {off}",
                cols.join(", ")
            )
        }
        Source::Children {
            parent,
            link,
            parent_ids,
        } => {
            let p = "p0";
            let ids = b.param(Value::Text(ids_json(parent_ids)));
            conds.insert(
                0,
                format!("{p}.\"id\" IN (SELECT value FROM json_each({ids}))"),
            );
            let link = link.replace("{p}", p).replace("{c}", &alias);
            let from = format!(
                "FROM {ptable} {p} JOIN {table} {alias} ON {link} WHERE {}",
                conds.join(" AND "),
                ptable = parent.table,
            );
            if top.is_none() && skip == 0 {
                // All children of each parent: the rows in parent order, each parent's in
                // the requested order (which ends with the child id, so it is total).
                format!(
                    "SELECT {p}.\"id\" AS __pid, {} {from} ORDER BY __pid, {order}",
                    cols.join(", ")
                )
            } else {
                let lo = b.param(Value::Integer(skip));
                let hi_cond = match top {
                    Some(t) => {
                        let hi = b.param(Value::Integer(skip.saturating_add(t)));
                        format!(" AND __rn <= {hi}")
                    }
                    None => String::new(),
                };
                format!(
                    "SELECT * FROM (SELECT {p}.\"id\" AS __pid, {}, ROW_NUMBER() OVER (PARTITION BY {p}.\"id\" ORDER BY {order}) AS __rn {from}) WHERE __rn > {lo}{hi_cond} ORDER BY __pid, __rn",
                    cols.join(", ")
                )
            }
        }
    };

    let mut level = Level::empty();
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(b.params.iter()))?;
    while let Some(row) = rows.next()? {
        let int_at = |i: usize| -> Result<i64, QueryError> {
            Ok(match row.get_ref(i)? {
                ValueRef::Integer(i) => i,
                _ => 0,
            })
        };
        level.parents.push(int_at(0)?);
        level.ids.push(int_at(1)?);
        for (i, (f, key)) in fields.iter().zip(&keys).enumerate() {
            if i > 0 {
                level.fields.push(b',');
            }
            level.fields.extend_from_slice(key);
            write_json_of(&mut level.fields, row.get_ref(i + 2)?, f.ty);
        }
        level.ends.push(level.fields.len());
    }
    drop(rows);
    drop(stmt);

    if opts.expand.is_empty() {
        return Ok(level);
    }
    let mut ids = level.ids.clone();
    ids.sort_unstable();
    ids.dedup();
    for (k, (e, nav)) in opts.expand.iter().zip(navs.iter()).enumerate() {
        let expansion = if e.count {
            let mut counts = if ids.is_empty() {
                Vec::new()
            } else {
                count_children(conn, access, res, nav, &e.options, &ids)?
            };
            counts.sort_unstable();
            Expansion::Count(counts)
        } else {
            let child = if ids.is_empty() {
                Level::empty()
            } else {
                read_level(
                    conn,
                    access,
                    nav.target,
                    &e.options,
                    Source::Children {
                        parent: res,
                        link: &nav.link,
                        parent_ids: &ids,
                    },
                )?
            };
            // The children come ordered by parent id.
            let mut groups: Vec<(i64, usize, usize)> = Vec::new();
            for (j, &pid) in child.parents.iter().enumerate() {
                match groups.last_mut() {
                    Some(g) if g.0 == pid => g.2 = j + 1,
                    _ => groups.push((pid, j, j + 1)),
                }
            }
            Expansion::Rows {
                level: child,
                groups,
            }
        };
        level.expansions.push(expansion);
        // A name expanded twice keeps its first place and takes the last expansion.
        let key = member_key(&e.property);
        if let Some(slot) = level.slots.iter_mut().find(|s| s.0 == key) {
            slot.1 = k;
        } else {
            level.slots.push((key, k));
        }
    }
    Ok(level)
}

fn count_children(
    conn: &Connection,
    access: Access,
    parent: &'static Resource,
    nav: &crate::schema::NavInfo,
    opts: &QueryOptions,
    ids: &[i64],
) -> Result<Vec<(i64, i64)>, QueryError> {
    let mut b = Builder::new(access);
    let alias = b.alias();
    let mut scopes = vec![Scope {
        var: "$it".into(),
        res: nav.target,
        alias: alias.clone(),
    }];
    let p = "p0";
    let idp = b.param(Value::Text(ids_json(ids)));
    let mut conds = vec![format!(
        "{p}.\"id\" IN (SELECT value FROM json_each({idp}))"
    )];
    if let Some(v) = b.visibility(nav.target, &alias)? {
        conds.push(v);
    }
    if let Some(f) = &opts.filter {
        conds.push(b.filter(&mut scopes, f)?);
    }
    let link = nav.link.replace("{p}", p).replace("{c}", &alias);
    let sql = format!(
        "SELECT {p}.\"id\", COUNT(*) FROM {} {p} JOIN {} {alias} ON {link} WHERE {} GROUP BY {p}.\"id\"",
        parent.table,
        nav.target.table,
        conds.join(" AND ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(b.params.iter()), |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r?);
    }
    Ok(out)
}

/// The extra condition a key puts on the top level (`{t}` alias, `?#` parameters).
pub fn key_condition(
    res: &Resource,
    key: Option<&Key>,
) -> Result<Option<(String, Vec<Value>)>, QueryError> {
    Ok(match key {
        None => None,
        Some(Key::Id(id)) => Some(("{t}.\"id\" = ?#".to_string(), vec![Value::Integer(*id)])),
        Some(Key::Alternate { field, value }) => {
            if field == "id" {
                Some(("{t}.\"id\" = ?#".to_string(), vec![literal_value(value)]))
            } else if res.alternate_keys.contains(&field.as_str()) {
                Some((
                    format!("{{t}}.\"{field}\" = ?#"),
                    vec![literal_value(value)],
                ))
            } else if res.field(field).is_some() {
                return bad(format!("'{field}' is not a key of resource '{}'", res.name));
            } else {
                return Err(unknown_field(res, field));
            }
        }
    })
}

pub fn literal_value(l: &Literal) -> Value {
    match l {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Integer(*b as i64),
        Literal::Int(i) => Value::Integer(*i),
        Literal::Float(f) => Value::Real(*f),
        Literal::String(s) => Value::Text(s.clone()),
    }
}

/// Whether a guest may run `opts` on `res`: [`QueryError::Unauthorized`] when the query
/// reaches, at any depth, a resource guests may not read. The real server decides this
/// from the query alone, before any row is read; the expansions here run only for the rows
/// found, so their options are checked up front. Any other problem of the query is left to
/// the read itself.
fn guest_may_read(res: &'static Resource, opts: &QueryOptions) -> Result<(), QueryError> {
    if res.guest == Guest::Unauthorized {
        return Err(QueryError::Unauthorized);
    }
    let mut b = Builder::new(Access::Guest);
    let alias = b.alias();
    let mut scopes = vec![Scope {
        var: "$it".into(),
        res,
        alias,
    }];
    let unauthorized = |r: Result<_, QueryError>| match r {
        Err(QueryError::Unauthorized) => Err(QueryError::Unauthorized),
        _ => Ok(()),
    };
    if let Some(filter) = &opts.filter {
        unauthorized(b.filter(&mut scopes, filter).map(drop))?;
    }
    unauthorized(b.orderby(&scopes, &opts.orderby).map(drop))?;
    for e in &opts.expand {
        if let Some(nav) = res.nav(&e.property) {
            guest_may_read(nav.target, &e.options)?;
        }
    }
    Ok(())
}

fn read_top(
    conn: &Connection,
    access: Access,
    res: &'static Resource,
    key: Option<&Key>,
    opts: &QueryOptions,
) -> Result<Level, QueryError> {
    if access == Access::Guest {
        guest_may_read(res, opts)?;
    }
    let extra = key_condition(res, key)?;
    read_level(conn, access, res, opts, Source::Root(extra))
}

/// Runs a GET: the body of the answer, `{"d":[…]}`.
pub fn read_body(
    conn: &Connection,
    access: Access,
    res: &'static Resource,
    key: Option<&Key>,
    opts: &QueryOptions,
) -> Result<Vec<u8>, QueryError> {
    let level = read_top(conn, access, res, key, opts)?;
    let mut out = Vec::with_capacity(level.size_hint() + 8);
    out.extend_from_slice(b"{\"d\":");
    level.write_array(&mut out);
    out.push(b'}');
    Ok(out)
}

/// Runs a GET: the first row found as JSON text, `null` when there is none.
pub fn read_first(
    conn: &Connection,
    access: Access,
    res: &'static Resource,
    key: Option<&Key>,
    opts: &QueryOptions,
) -> Result<Vec<u8>, QueryError> {
    let level = read_top(conn, access, res, key, opts)?;
    let mut out = Vec::new();
    if level.len() == 0 {
        out.extend_from_slice(b"null");
    } else {
        level.write_row(0, &mut out);
    }
    Ok(out)
}

/// The `FROM … WHERE …` of the rows a PATCH/DELETE/`$count` addresses, its alias, and
/// its parameters.
fn addressed(
    access: Access,
    res: &'static Resource,
    key: Option<&Key>,
    filter: Option<&Expr>,
) -> Result<(String, String, Vec<Value>), QueryError> {
    let mut b = Builder::new(access);
    let alias = b.alias();
    let mut scopes = vec![Scope {
        var: "$it".into(),
        res,
        alias: alias.clone(),
    }];
    let mut conds = Vec::new();
    if let Some(v) = b.visibility(res, &alias)? {
        conds.push(v);
    }
    if let Some((cond, params)) = key_condition(res, key)? {
        let mut c = cond.replace("{t}", &alias);
        for p in params {
            let n = b.param(p);
            c = c.replacen("?#", &n, 1);
        }
        conds.push(c);
    }
    if let Some(f) = filter {
        conds.push(b.filter(&mut scopes, f)?);
    }
    let where_ = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    Ok((
        format!("FROM {} {alias}{where_}", res.table),
        alias,
        b.params,
    ))
}

/// Runs a `/$count`.
pub fn count(
    conn: &Connection,
    access: Access,
    res: &'static Resource,
    key: Option<&Key>,
    opts: &QueryOptions,
) -> Result<i64, QueryError> {
    let (from, _, params) = addressed(access, res, key, opts.filter.as_ref())?;
    let mut stmt = conn.prepare_cached(&format!("SELECT COUNT(*) {from}"))?;
    Ok(stmt.query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))?)
}

/// The ids of the rows a PATCH/DELETE addresses, in id order.
pub fn matching_ids(
    conn: &Connection,
    access: Access,
    res: &'static Resource,
    key: Option<&Key>,
    filter: Option<&Expr>,
) -> Result<Vec<i64>, QueryError> {
    let (from, alias, params) = addressed(access, res, key, filter)?;
    let sql = format!("SELECT {alias}.\"id\" {from} ORDER BY {alias}.\"id\"");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| {
        r.get::<_, i64>(0)
    })?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_written_as_their_values_serialise() {
        let texts: &[&[u8]] = &[
            b"",
            b"plain",
            b"tab\t \"quoted\" \\ \x01\x1f\x7f \xc3\xa9 \xf0\x9f\x8e\x89",
            b"invalid \xff utf-8",
            b"{\"b\":1.5,\"a\":[1e300,-0.0,0.1,123456789012345678901234567890],\"z\":{\"y\":null,\"x\":true,\"y\":2}}",
            b"[1,\"two\",3.25,null]",
            b"12",
            b"not json {",
            b"\"a string\"",
        ];
        let mut values = vec![
            ValueRef::Null,
            ValueRef::Integer(0),
            ValueRef::Integer(1),
            ValueRef::Integer(-7),
            ValueRef::Integer(i64::MAX),
            ValueRef::Integer(i64::MIN),
            ValueRef::Real(0.1 + 0.2),
            ValueRef::Real(-0.0),
            ValueRef::Real(1e300 * 10.0),
            ValueRef::Real(f64::NAN),
            ValueRef::Real(3.5),
        ];
        for t in texts {
            values.push(ValueRef::Text(t));
            values.push(ValueRef::Blob(t));
        }
        for ty in [Ty::Int, Ty::Bool, Ty::Fk, Ty::Text, Ty::Date, Ty::Json] {
            for v in &values {
                let mut out = Vec::new();
                write_json_of(&mut out, *v, ty);
                let want = serde_json::to_vec(&json_of(*v, ty)).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&want),
                    "{v:?} as {ty:?}"
                );
            }
        }
    }
}
