//! OData syntax tree → parameterised SQL, checked against the schema, and the execution of
//! reads (with `$expand`, one extra query per expanded level, batched over all parent rows).
//!
//! Request values only ever reach SQLite as numbered parameters (`?N`); the SQL text is
//! built from identifiers in `crate::schema` and aliases generated here.

use std::collections::HashMap;

use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;
use serde_json::{Map, Value as Json};

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

    fn orderby(&mut self, scopes: &[Scope], order: &[OrderBy]) -> Result<Vec<String>, QueryError> {
        let mut out = Vec::new();
        for o in order {
            let (sql, _) = self.path(scopes, &o.path)?;
            if o.descending {
                out.push(format!("{sql} DESC NULLS FIRST"));
            } else {
                out.push(format!("{sql} ASC NULLS LAST"));
            }
        }
        out.push(format!("{}.\"id\" ASC", scopes[0].alias));
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

/// Turns one column of a result row into JSON.
pub fn json_of(v: ValueRef<'_>, ty: Ty) -> Json {
    match (v, ty) {
        (ValueRef::Null, _) => Json::Null,
        (ValueRef::Integer(i), Ty::Bool) => Json::Bool(i != 0),
        (ValueRef::Integer(i), Ty::Fk) => {
            let mut m = Map::new();
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

struct Row {
    parent: i64,
    id: i64,
    fields: Map<String, Json>,
}

fn clamp(n: Option<u64>) -> Option<i64> {
    n.map(|v| v.min(i64::MAX as u64) as i64)
}

fn ids_json(ids: &[i64]) -> String {
    let mut s = String::with_capacity(ids.len() * 8 + 2);
    s.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
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
) -> Result<Vec<Row>, QueryError> {
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

    let (sql, nested) = match &source {
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
            let mut sql = format!(
                "SELECT 0, {} FROM {table} {alias}{where_} ORDER BY {order}",
                cols.join(", ")
            );
            let lim = top.unwrap_or(-1);
            let l = b.param(Value::Integer(lim));
            let o = b.param(Value::Integer(skip));
            sql.push_str(&format!(" LIMIT {l} OFFSET {o}"));
            (sql, false)
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
            let lo = b.param(Value::Integer(skip));
            let hi = match top {
                Some(t) => b.param(Value::Integer(skip.saturating_add(t))),
                None => "-1".to_string(),
            };
            let hi_cond = if top.is_some() {
                format!(" AND __rn <= {hi}")
            } else {
                String::new()
            };
            let sql = format!(
                "SELECT * FROM (SELECT {p}.\"id\" AS __pid, {}, ROW_NUMBER() OVER (PARTITION BY {p}.\"id\" ORDER BY {order}) AS __rn FROM {ptable} {p} JOIN {table} {alias} ON {link} WHERE {}) WHERE __rn > {lo}{hi_cond} ORDER BY __pid, __rn",
                cols.join(", "),
                conds.join(" AND "),
                ptable = parent.table,
            );
            (sql, true)
        }
    };
    let _ = nested;

    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows_out = Vec::new();
    let mut rows = stmt.query(rusqlite::params_from_iter(b.params.iter()))?;
    while let Some(row) = rows.next()? {
        let parent: i64 = match row.get_ref(0)? {
            ValueRef::Integer(i) => i,
            _ => 0,
        };
        let id: i64 = match row.get_ref(1)? {
            ValueRef::Integer(i) => i,
            _ => 0,
        };
        let mut map = Map::new();
        for (i, f) in fields.iter().enumerate() {
            map.insert(f.name.to_string(), json_of(row.get_ref(i + 2)?, f.ty));
        }
        rows_out.push(Row {
            parent,
            id,
            fields: map,
        });
    }
    drop(rows);
    drop(stmt);

    if opts.expand.is_empty() {
        return Ok(rows_out);
    }
    let mut ids: Vec<i64> = rows_out.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut expanded: Vec<(String, HashMap<i64, Json>)> = Vec::new();
    for (e, nav) in opts.expand.iter().zip(navs.iter()) {
        let mut by_parent: HashMap<i64, Json> = HashMap::new();
        if !ids.is_empty() {
            if e.count {
                for (pid, n) in count_children(conn, access, res, nav, &e.options, &ids)? {
                    by_parent.insert(pid, Json::from(n));
                }
            } else {
                let children = read_level(
                    conn,
                    access,
                    nav.target,
                    &e.options,
                    Source::Children {
                        parent: res,
                        link: &nav.link,
                        parent_ids: &ids,
                    },
                )?;
                for c in children {
                    let entry = by_parent
                        .entry(c.parent)
                        .or_insert_with(|| Json::Array(Vec::new()));
                    if let Json::Array(a) = entry {
                        a.push(Json::Object(c.fields));
                    }
                }
            }
        }
        expanded.push((e.property.clone(), by_parent));
    }
    // A child row can stand under several parents (many devices run one release): its
    // expansions are cloned for every use but the last, which takes them.
    let mut last_use: HashMap<i64, usize> = HashMap::with_capacity(rows_out.len());
    for (i, row) in rows_out.iter().enumerate() {
        last_use.insert(row.id, i);
    }
    for (i, row) in rows_out.iter_mut().enumerate() {
        let is_last = last_use.get(&row.id) == Some(&i);
        let mut out = Map::new();
        for ((name, by_parent), e) in expanded.iter_mut().zip(opts.expand.iter()) {
            let v = if is_last {
                by_parent.remove(&row.id)
            } else {
                by_parent.get(&row.id).cloned()
            };
            let v = v.unwrap_or_else(|| {
                if e.count {
                    Json::from(0)
                } else {
                    Json::Array(Vec::new())
                }
            });
            out.insert(name.clone(), v);
        }
        for (k, v) in std::mem::take(&mut row.fields) {
            if !out.contains_key(&k) {
                out.insert(k, v);
            }
        }
        row.fields = out;
    }
    Ok(rows_out)
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

/// Runs a GET: the `d` array of the answer.
pub fn read(
    conn: &Connection,
    access: Access,
    res: &'static Resource,
    key: Option<&Key>,
    opts: &QueryOptions,
) -> Result<Vec<Json>, QueryError> {
    if access == Access::Guest {
        guest_may_read(res, opts)?;
    }
    let extra = key_condition(res, key)?;
    let rows = read_level(conn, access, res, opts, Source::Root(extra))?;
    Ok(rows.into_iter().map(|r| Json::Object(r.fields)).collect())
}

/// Runs a `/$count`.
pub fn count(
    conn: &Connection,
    access: Access,
    res: &'static Resource,
    key: Option<&Key>,
    opts: &QueryOptions,
) -> Result<i64, QueryError> {
    Ok(matching_ids(conn, access, res, key, opts.filter.as_ref())?.len() as i64)
}

/// The ids of the rows a PATCH/DELETE/`$count` addresses, in id order.
pub fn matching_ids(
    conn: &Connection,
    access: Access,
    res: &'static Resource,
    key: Option<&Key>,
    filter: Option<&Expr>,
) -> Result<Vec<i64>, QueryError> {
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
    let sql = format!(
        "SELECT {alias}.\"id\" FROM {} {alias}{where_} ORDER BY {alias}.\"id\"",
        res.table
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(b.params.iter()), |r| {
        r.get::<_, i64>(0)
    })?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r?);
    }
    Ok(out)
}
