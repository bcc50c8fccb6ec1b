//! The OData parser: a small tokenizer plus a hand-written recursive-descent parser.
//! See mod.rs for the contract.
//!
//! Behaviour choices, beyond the contract:
//! - The raw query is split on `&` first, then each name and value is percent-decoded once,
//!   so `%26` inside a string literal survives as `&`. `+` is a literal plus, not a space.
//!   Empty pieces (`a=1&&b=2`, a trailing `&`) are skipped.
//! - In `$filter`, a percent-encoded `(`, `,` or `)` outside a string literal is a
//!   [`ParseError`], as on the real server (which parses the structure before decoding);
//!   inside a literal it is just a character.
//! - Recognised options: `$select`, `$expand`, `$filter`, `$orderby`, `$top`, `$skip`.
//!   Every other `$`-option, including `$count` and `$format`, is a [`ParseError`]: silently
//!   ignoring `$count=true` would change the meaning of the answer. Parameters without `$`
//!   are ignored (their value is not even decoded). A repeated option is a [`ParseError`],
//!   at the top level and inside `$expand(...)`.
//! - Inside `nav/$count(...)` only `$filter` is allowed.
//! - Comparisons do not chain: `a eq b eq c` is a [`ParseError`]. `not` binds tighter than a
//!   comparison (`not a eq b` is `(not a) eq b`), comparisons tighter than `and`, `and`
//!   tighter than `or`; `and`/`or` are left-associative.
//! - Whitespace is free between tokens in query options, but not allowed in a resource path.
//! - Integers that do not fit an `i64` are a [`ParseError`] (so `$top`/`$skip` are at most
//!   `i64::MAX`, which is also what SQLite's LIMIT/OFFSET take); decimals and exponents give
//!   [`Literal::Float`] (non-finite values are an error).
//! - `datetime'...'` is returned as [`Literal::String`] with the text between the quotes.
//! - Parameter aliases: query parameters named `@name` define aliases whose value is one
//!   literal (`@u='abc'`, `@id=12`). [`parse_query`] substitutes them wherever a `$filter`
//!   (top level or in `$expand`) says `@name`; [`parse_resource_path_with_query`] does so for
//!   keys (`device(uuid=@u)`, `device(@id)`), as pinejs clients send them. An undefined alias,
//!   a repeated alias or an alias whose value is not a single literal is a [`ParseError`].
//!   [`parse_resource_path`] and [`parse_filter`] know no aliases, so `@name` fails there.
//! - Limits: at most [`MAX_DEPTH`] nested parentheses / `not` / function calls / lambdas /
//!   `$expand` levels, and no filter tree taller than [`MAX_HEIGHT`] (long `and` chains count),
//!   so neither the parser nor any recursive consumer of the tree can run out of stack.
use std::fmt;

use percent_encoding::percent_decode_str;

use super::{
    CmpOp, Expand, Expr, Func, Key, LambdaKind, Literal, OrderBy, ParseError, QueryOptions,
    ResourcePath,
};

/// Maximum nesting of parentheses, `not`, function calls, lambdas and `$expand` levels.
pub const MAX_DEPTH: usize = 64;
/// Maximum height of a filter expression tree.
pub const MAX_HEIGHT: usize = 128;

fn err(msg: impl Into<String>) -> ParseError {
    ParseError(msg.into())
}

fn decode(s: &str) -> Result<String, ParseError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| err("invalid UTF-8 after percent-decoding"))
}

pub fn parse_resource_path(path: &str) -> Result<ResourcePath, ParseError> {
    parse_resource_path_with_query(path, "")
}

/// Like [`parse_resource_path`], but resolves parameter aliases in the key (`device(@id)`,
/// `device(uuid=@uuid)`) from the `@name=value` parameters of `raw_query`.
pub fn parse_resource_path_with_query(
    path: &str,
    raw_query: &str,
) -> Result<ResourcePath, ParseError> {
    let decoded = decode(path)?;
    let mut p = Parser::new(&decoded)?;
    if decoded.contains('@') {
        p.aliases = collect_aliases(raw_query)?;
    }
    if p.toks.iter().any(|t| t.ws_before) {
        return Err(err("whitespace in resource path"));
    }
    let resource = match p.bump() {
        Some(Tok::Ident(name)) => name,
        _ => return Err(err(format!("expected a resource name in '{decoded}'"))),
    };
    let mut key = None;
    if p.eat(&Tok::LParen) {
        key = Some(match p.bump() {
            Some(Tok::Int(id)) => Key::Id(id),
            Some(Tok::Alias(name)) => match p.alias(&name)? {
                Literal::Int(id) => Key::Id(id),
                _ => return Err(err(format!("the value of @{name} is not an integer id"))),
            },
            Some(Tok::Ident(field)) => {
                p.expect(&Tok::Equals, "'=' after the key field")?;
                let value = p.literal()?;
                Key::Alternate { field, value }
            }
            _ => return Err(err(format!("malformed key in '{decoded}'"))),
        });
        p.expect(&Tok::RParen, "')' after the key")?;
    }
    let mut count = false;
    if p.eat(&Tok::Slash) {
        match p.bump() {
            Some(Tok::Dollar(d)) if d == "$count" => count = true,
            _ => return Err(err(format!("unsupported path segment in '{decoded}'"))),
        }
    }
    p.expect_end()?;
    Ok(ResourcePath {
        resource,
        key,
        count,
    })
}

pub fn parse_query(raw_query: &str) -> Result<QueryOptions, ParseError> {
    let mut opts = QueryOptions::default();
    let mut seen: Vec<String> = Vec::new();
    let aliases = collect_aliases(raw_query)?;
    for piece in raw_query.split('&') {
        if piece.is_empty() {
            continue;
        }
        let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        let name = decode(raw_name)?;
        if !name.starts_with('$') {
            continue;
        }
        if seen.contains(&name) {
            return Err(err(format!("duplicate query option {name}")));
        }
        if name == "$filter" {
            check_encoded_structure(raw_value).map_err(|e| err(format!("{name}: {}", e.0)))?;
        }
        let value = decode(raw_value)?;
        let parsed = Parser::new(&value).and_then(|mut p| {
            p.aliases = aliases.clone();
            p.option(&name, &mut opts, false)?;
            p.expect_end()
        });
        parsed.map_err(|e| err(format!("{name}: {}", e.0)))?;
        seen.push(name);
    }
    Ok(opts)
}

/// Refuses a percent-encoded `(`, `,` or `)` (`%28`, `%2C`, `%29`, any case) outside the
/// string literals of a raw (still encoded) option value: the real server parses the
/// structure of `$filter` before decoding, so there they are not parentheses or commas.
/// Inside a literal (opened and closed by `'` or `%27`) they are just characters.
fn check_encoded_structure(raw: &str) -> Result<(), ParseError> {
    let b = raw.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut in_string = false;
    let mut i = 0;
    while i < b.len() {
        let (byte, width) = match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(hi), Some(lo)) => ((hi * 16 + lo) as u8, 3),
            (c, _, _) => (c, 1),
        };
        if byte == b'\'' {
            in_string = !in_string;
        } else if width == 3 && !in_string && matches!(byte, b'(' | b')' | b',') {
            return Err(err(format!(
                "percent-encoded '{}' outside a string literal",
                byte as char
            )));
        }
        i += width;
    }
    Ok(())
}

/// The `@name=literal` parameter aliases of a raw query string.
fn collect_aliases(raw_query: &str) -> Result<Vec<(String, Literal)>, ParseError> {
    let mut aliases: Vec<(String, Literal)> = Vec::new();
    for piece in raw_query.split('&') {
        let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        let name = decode(raw_name)?;
        let Some(name) = name.strip_prefix('@') else {
            continue;
        };
        let b = name.as_bytes();
        if b.is_empty() || !is_ident_start(b[0]) || !b.iter().all(|&c| is_ident_char(c)) {
            return Err(err(format!("invalid parameter alias name '@{name}'")));
        }
        if aliases.iter().any(|(n, _)| n == name) {
            return Err(err(format!("duplicate parameter alias @{name}")));
        }
        let value = decode(raw_value)?;
        let literal = Parser::new(&value)
            .and_then(|mut p| {
                let l = p.literal()?;
                p.expect_end()?;
                Ok(l)
            })
            .map_err(|e| err(format!("@{name}: {}", e.0)))?;
        aliases.push((name.to_string(), literal));
    }
    Ok(aliases)
}

/// Parses a bare `$filter` expression (already percent-decoded).
pub fn parse_filter(filter: &str) -> Result<Expr, ParseError> {
    let mut p = Parser::new(filter)?;
    let (e, _) = p.expr()?;
    p.expect_end()?;
    Ok(e)
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `$name`, including the `$`.
    Dollar(String),
    /// `@name`, without the `@`.
    Alias(String),
    Str(String),
    Int(i64),
    Float(f64),
    LParen,
    RParen,
    Comma,
    Semi,
    Slash,
    Colon,
    Equals,
    Star,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) | Tok::Dollar(s) => write!(f, "'{s}'"),
            Tok::Alias(s) => write!(f, "'@{s}'"),
            Tok::Str(_) => f.write_str("a string"),
            Tok::Int(n) => write!(f, "'{n}'"),
            Tok::Float(x) => write!(f, "'{x}'"),
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::Comma => f.write_str("','"),
            Tok::Semi => f.write_str("';'"),
            Tok::Slash => f.write_str("'/'"),
            Tok::Colon => f.write_str("':'"),
            Tok::Equals => f.write_str("'='"),
            Tok::Star => f.write_str("'*'"),
        }
    }
}

#[derive(Debug)]
struct Token {
    tok: Tok,
    /// Whether whitespace came right before this token.
    ws_before: bool,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut ws_before = false;
    while i < b.len() {
        let c = b[i];
        let tok = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                ws_before = true;
                i += 1;
                continue;
            }
            b'(' => single(&mut i, Tok::LParen),
            b')' => single(&mut i, Tok::RParen),
            b',' => single(&mut i, Tok::Comma),
            b';' => single(&mut i, Tok::Semi),
            b'/' => single(&mut i, Tok::Slash),
            b':' => single(&mut i, Tok::Colon),
            b'=' => single(&mut i, Tok::Equals),
            b'*' => single(&mut i, Tok::Star),
            b'\'' => lex_string(src, &mut i)?,
            b'@' => {
                i += 1;
                let start = i;
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                if start == i || !is_ident_start(b[start]) {
                    return Err(err("expected a name after '@'"));
                }
                Tok::Alias(src[start..i].to_string())
            }
            b'$' => {
                let start = i;
                i += 1;
                if i >= b.len() || !is_ident_start(b[i]) {
                    return Err(err("expected a name after '$'"));
                }
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                Tok::Dollar(src[start..i].to_string())
            }
            b'-' | b'0'..=b'9' => lex_number(src, &mut i)?,
            _ if is_ident_start(c) => {
                let start = i;
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                let word = &src[start..i];
                if i < b.len() && b[i] == b'\'' {
                    if word != "datetime" {
                        return Err(err(format!("unexpected quote after '{word}'")));
                    }
                    lex_string(src, &mut i)?
                } else {
                    Tok::Ident(word.to_string())
                }
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(err(format!("unexpected character '{ch}'")));
            }
        };
        out.push(Token { tok, ws_before });
        ws_before = false;
    }
    Ok(out)
}

fn single(i: &mut usize, tok: Tok) -> Tok {
    *i += 1;
    tok
}

/// Lexes a `'...'` string starting at `*i` (which must be a quote); `''` is an escaped quote.
fn lex_string(src: &str, i: &mut usize) -> Result<Tok, ParseError> {
    let b = src.as_bytes();
    let mut s = String::new();
    let mut start = *i + 1;
    let mut j = start;
    loop {
        if j >= b.len() {
            return Err(err("unterminated string literal"));
        }
        if b[j] == b'\'' {
            s.push_str(&src[start..j]);
            if j + 1 < b.len() && b[j + 1] == b'\'' {
                s.push('\'');
                j += 2;
                start = j;
            } else {
                *i = j + 1;
                return Ok(Tok::Str(s));
            }
        } else {
            j += 1;
        }
    }
}

fn lex_number(src: &str, i: &mut usize) -> Result<Tok, ParseError> {
    let b = src.as_bytes();
    let start = *i;
    let mut j = start;
    if b[j] == b'-' {
        j += 1;
    }
    let digits = |j: &mut usize| {
        let from = *j;
        while *j < b.len() && b[*j].is_ascii_digit() {
            *j += 1;
        }
        *j > from
    };
    if !digits(&mut j) {
        return Err(err("expected a digit after '-'"));
    }
    let mut float = false;
    if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
        j += 1;
        digits(&mut j);
        float = true;
    }
    if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
        let mut k = j + 1;
        if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
            k += 1;
        }
        if k < b.len() && b[k].is_ascii_digit() {
            digits(&mut k);
            j = k;
            float = true;
        }
    }
    if j < b.len() && (is_ident_char(b[j]) || b[j] == b'.') {
        return Err(err(format!(
            "malformed number '{}'",
            &src[start..=j.min(b.len() - 1)]
        )));
    }
    let text = &src[start..j];
    *i = j;
    if float {
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Tok::Float(x)),
            _ => Err(err(format!("number out of range: {text}"))),
        }
    } else {
        text.parse::<i64>()
            .map(Tok::Int)
            .map_err(|_| err(format!("integer out of range: {text}")))
    }
}

// ---------------------------------------------------------------------------------------------
// Parser

/// Words that are operators in `$filter` and therefore cannot be property names there.
const RESERVED: &[&str] = &["eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "in"];

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    /// Parameter aliases (`@name` → value) that `@name` tokens resolve to.
    aliases: Vec<(String, Literal)>,
}

fn grow(height: usize) -> Result<usize, ParseError> {
    let h = height + 1;
    if h > MAX_HEIGHT {
        Err(err("expression too complex"))
    } else {
        Ok(h)
    }
}

impl Parser {
    fn new(src: &str) -> Result<Self, ParseError> {
        Ok(Parser {
            toks: tokenize(src)?,
            pos: 0,
            depth: 0,
            aliases: Vec::new(),
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn bump(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.tok.clone());
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w == kw)
    }

    fn unexpected(&self, expected: &str) -> ParseError {
        match self.peek() {
            Some(t) => err(format!("expected {expected}, found {t}")),
            None => err(format!("expected {expected}, found end of input")),
        }
    }

    fn expect(&mut self, t: &Tok, expected: &str) -> Result<(), ParseError> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn expect_end(&self) -> Result<(), ParseError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(err(format!("unexpected {t}"))),
        }
    }

    fn ident(&mut self, expected: &str) -> Result<String, ParseError> {
        match self.peek() {
            Some(Tok::Ident(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(err("nested too deeply"))
        } else {
            Ok(())
        }
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn alias(&self, name: &str) -> Result<Literal, ParseError> {
        self.aliases
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, l)| l.clone())
            .ok_or_else(|| err(format!("undefined parameter alias @{name}")))
    }

    fn literal(&mut self) -> Result<Literal, ParseError> {
        let lit = match self.peek() {
            Some(Tok::Alias(name)) => self.alias(name)?,
            Some(Tok::Str(s)) => Literal::String(s.clone()),
            Some(Tok::Int(n)) => Literal::Int(*n),
            Some(Tok::Float(x)) => Literal::Float(*x),
            Some(Tok::Ident(w)) if w == "true" => Literal::Bool(true),
            Some(Tok::Ident(w)) if w == "false" => Literal::Bool(false),
            Some(Tok::Ident(w)) if w == "null" => Literal::Null,
            _ => return Err(self.unexpected("a literal")),
        };
        self.pos += 1;
        Ok(lit)
    }

    // ----- query options -----

    /// Parses the value of option `name` (with its `$`) into `opts`. The caller checks for
    /// duplicates and for what follows the value.
    fn option(
        &mut self,
        name: &str,
        opts: &mut QueryOptions,
        count_only: bool,
    ) -> Result<(), ParseError> {
        if count_only && name != "$filter" {
            return Err(err(format!("{name} is not allowed in a $count expansion")));
        }
        match name {
            "$select" => opts.select = Some(self.select()?),
            "$expand" => opts.expand = self.expand_list()?,
            "$filter" => opts.filter = Some(self.expr()?.0),
            "$orderby" => opts.orderby = self.orderby()?,
            "$top" => opts.top = Some(self.count_value()?),
            "$skip" => opts.skip = Some(self.count_value()?),
            _ => return Err(err(format!("unsupported query option {name}"))),
        }
        Ok(())
    }

    fn select(&mut self) -> Result<Vec<String>, ParseError> {
        if self.eat(&Tok::Star) {
            return Ok(vec!["*".to_string()]);
        }
        let mut fields = vec![self.ident("a field name")?];
        while self.eat(&Tok::Comma) {
            fields.push(self.ident("a field name")?);
        }
        Ok(fields)
    }

    fn count_value(&mut self) -> Result<u64, ParseError> {
        match self.peek() {
            Some(Tok::Int(n)) if *n >= 0 => {
                let n = *n as u64;
                self.pos += 1;
                Ok(n)
            }
            _ => Err(self.unexpected("a non-negative integer")),
        }
    }

    fn orderby(&mut self) -> Result<Vec<OrderBy>, ParseError> {
        let mut keys = Vec::new();
        loop {
            let mut path = vec![self.ident("a field name")?];
            while self.eat(&Tok::Slash) {
                path.push(self.ident("a field name")?);
            }
            let descending = if self.is_kw("desc") {
                self.pos += 1;
                true
            } else {
                if self.is_kw("asc") {
                    self.pos += 1;
                }
                false
            };
            keys.push(OrderBy { path, descending });
            if !self.eat(&Tok::Comma) {
                return Ok(keys);
            }
        }
    }

    fn expand_list(&mut self) -> Result<Vec<Expand>, ParseError> {
        self.enter()?;
        let mut items = vec![self.expand_item()?];
        while self.eat(&Tok::Comma) {
            items.push(self.expand_item()?);
        }
        self.leave();
        Ok(items)
    }

    fn expand_item(&mut self) -> Result<Expand, ParseError> {
        let property = self.ident("a navigation property")?;
        let mut count = false;
        if self.eat(&Tok::Slash) {
            match self.bump() {
                Some(Tok::Dollar(d)) if d == "$count" => count = true,
                _ => return Err(err("expected '$count' after '/' in $expand")),
            }
        }
        let mut options = QueryOptions::default();
        if self.eat(&Tok::LParen) {
            let mut seen: Vec<String> = Vec::new();
            loop {
                let name = match self.peek() {
                    Some(Tok::Dollar(d)) => d.clone(),
                    _ => return Err(self.unexpected("a $option")),
                };
                self.pos += 1;
                if seen.contains(&name) {
                    return Err(err(format!("duplicate option {name} in $expand")));
                }
                self.expect(&Tok::Equals, "'='")?;
                self.option(&name, &mut options, count)?;
                seen.push(name);
                if !self.eat(&Tok::Semi) {
                    break;
                }
            }
            self.expect(&Tok::RParen, "';' or ')'")?;
        }
        Ok(Expand {
            property,
            count,
            options,
        })
    }

    // ----- $filter expressions; each returns the expression and its tree height -----

    fn expr(&mut self) -> Result<(Expr, usize), ParseError> {
        let (mut e, mut h) = self.and_expr()?;
        while self.is_kw("or") {
            self.pos += 1;
            let (r, rh) = self.and_expr()?;
            h = grow(h.max(rh))?;
            e = Expr::Or(Box::new(e), Box::new(r));
        }
        Ok((e, h))
    }

    fn and_expr(&mut self) -> Result<(Expr, usize), ParseError> {
        let (mut e, mut h) = self.cmp_expr()?;
        while self.is_kw("and") {
            self.pos += 1;
            let (r, rh) = self.cmp_expr()?;
            h = grow(h.max(rh))?;
            e = Expr::And(Box::new(e), Box::new(r));
        }
        Ok((e, h))
    }

    fn cmp_op(&self) -> Option<CmpOp> {
        match self.peek() {
            Some(Tok::Ident(w)) => match w.as_str() {
                "eq" => Some(CmpOp::Eq),
                "ne" => Some(CmpOp::Ne),
                "gt" => Some(CmpOp::Gt),
                "ge" => Some(CmpOp::Ge),
                "lt" => Some(CmpOp::Lt),
                "le" => Some(CmpOp::Le),
                _ => None,
            },
            _ => None,
        }
    }

    fn cmp_expr(&mut self) -> Result<(Expr, usize), ParseError> {
        let (left, lh) = self.unary()?;
        if let Some(op) = self.cmp_op() {
            self.pos += 1;
            let (right, rh) = self.unary()?;
            let h = grow(lh.max(rh))?;
            return Ok((
                Expr::Compare {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                h,
            ));
        }
        if self.is_kw("in") {
            self.pos += 1;
            self.expect(&Tok::LParen, "'(' after 'in'")?;
            self.enter()?;
            let mut h = lh;
            let mut list = Vec::new();
            loop {
                let (x, xh) = self.unary()?;
                h = h.max(xh);
                list.push(x);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
            self.expect(&Tok::RParen, "',' or ')'")?;
            self.leave();
            return Ok((
                Expr::In {
                    left: Box::new(left),
                    list,
                },
                grow(h)?,
            ));
        }
        Ok((left, lh))
    }

    fn unary(&mut self) -> Result<(Expr, usize), ParseError> {
        if self.is_kw("not") {
            self.pos += 1;
            self.enter()?;
            let (e, h) = self.unary()?;
            self.leave();
            return Ok((Expr::Not(Box::new(e)), grow(h)?));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<(Expr, usize), ParseError> {
        match self.peek() {
            Some(Tok::LParen) => {
                self.pos += 1;
                self.enter()?;
                let r = self.expr()?;
                self.expect(&Tok::RParen, "')'")?;
                self.leave();
                Ok(r)
            }
            Some(Tok::Str(_) | Tok::Int(_) | Tok::Float(_) | Tok::Alias(_)) => {
                Ok((Expr::Literal(self.literal()?), 1))
            }
            Some(Tok::Ident(w)) => {
                let w = w.clone();
                match w.as_str() {
                    "true" | "false" | "null" => Ok((Expr::Literal(self.literal()?), 1)),
                    _ if RESERVED.contains(&w.as_str()) => Err(self.unexpected("an operand")),
                    _ => {
                        self.pos += 1;
                        if self.peek() == Some(&Tok::LParen) {
                            self.call(&w)
                        } else {
                            self.path(w)
                        }
                    }
                }
            }
            _ => Err(self.unexpected("an operand")),
        }
    }

    /// A property path starting with `first` (already consumed), possibly ending in a lambda.
    fn path(&mut self, first: String) -> Result<(Expr, usize), ParseError> {
        let mut segs = vec![first];
        while self.eat(&Tok::Slash) {
            let seg = match self.peek() {
                Some(Tok::Ident(w)) if !RESERVED.contains(&w.as_str()) => w.clone(),
                _ => return Err(self.unexpected("a property name after '/'")),
            };
            self.pos += 1;
            let kind = match seg.as_str() {
                "any" => Some(LambdaKind::Any),
                "all" => Some(LambdaKind::All),
                _ => None,
            };
            match kind {
                Some(kind) if self.peek() == Some(&Tok::LParen) => {
                    return self.lambda(segs, kind);
                }
                _ => segs.push(seg),
            }
        }
        Ok((Expr::Path(segs), 1))
    }

    /// `(var: body)` after `path/any` or `path/all`.
    fn lambda(&mut self, path: Vec<String>, kind: LambdaKind) -> Result<(Expr, usize), ParseError> {
        self.expect(&Tok::LParen, "'('")?;
        self.enter()?;
        let var = match self.peek() {
            Some(Tok::Ident(w)) if !RESERVED.contains(&w.as_str()) => w.clone(),
            _ => return Err(self.unexpected("a lambda variable")),
        };
        self.pos += 1;
        self.expect(&Tok::Colon, "':' after the lambda variable")?;
        let (body, h) = self.expr()?;
        self.expect(&Tok::RParen, "')'")?;
        self.leave();
        Ok((
            Expr::Lambda {
                path,
                kind,
                var,
                body: Box::new(body),
            },
            grow(h)?,
        ))
    }

    /// A function call `name(args)`; the name is consumed, the `(` is next.
    fn call(&mut self, name: &str) -> Result<(Expr, usize), ParseError> {
        let (func, arity, swap) = match name {
            "startswith" => (Func::StartsWith, 2, false),
            "endswith" => (Func::EndsWith, 2, false),
            "contains" => (Func::Contains, 2, false),
            "substringof" => (Func::Contains, 2, true),
            "tolower" => (Func::ToLower, 1, false),
            "toupper" => (Func::ToUpper, 1, false),
            _ => return Err(err(format!("unknown function '{name}'"))),
        };
        self.expect(&Tok::LParen, "'('")?;
        self.enter()?;
        let mut args = Vec::new();
        let mut h = 0;
        if self.peek() != Some(&Tok::RParen) {
            loop {
                let (a, ah) = self.expr()?;
                h = h.max(ah);
                args.push(a);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        self.expect(&Tok::RParen, "',' or ')'")?;
        self.leave();
        if args.len() != arity {
            return Err(err(format!(
                "{name} takes {arity} argument(s), got {}",
                args.len()
            )));
        }
        if swap {
            args.swap(0, 1);
        }
        Ok((Expr::Call { func, args }, grow(h)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        Expr::Path(s.split('/').map(String::from).collect())
    }
    fn s(v: &str) -> Expr {
        Expr::Literal(Literal::String(v.to_string()))
    }
    fn int(n: i64) -> Expr {
        Expr::Literal(Literal::Int(n))
    }
    fn b(v: bool) -> Expr {
        Expr::Literal(Literal::Bool(v))
    }
    fn cmp(op: CmpOp, l: Expr, r: Expr) -> Expr {
        Expr::Compare {
            op,
            left: Box::new(l),
            right: Box::new(r),
        }
    }
    fn eq(l: Expr, r: Expr) -> Expr {
        cmp(CmpOp::Eq, l, r)
    }
    fn and(l: Expr, r: Expr) -> Expr {
        Expr::And(Box::new(l), Box::new(r))
    }
    fn or(l: Expr, r: Expr) -> Expr {
        Expr::Or(Box::new(l), Box::new(r))
    }
    fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }
    fn call(func: Func, args: Vec<Expr>) -> Expr {
        Expr::Call { func, args }
    }
    fn lambda(path: &str, kind: LambdaKind, var: &str, body: Expr) -> Expr {
        Expr::Lambda {
            path: path.split('/').map(String::from).collect(),
            kind,
            var: var.to_string(),
            body: Box::new(body),
        }
    }
    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }
    fn sel(v: &[&str]) -> Option<Vec<String>> {
        Some(strs(v))
    }
    fn expand(property: &str, options: QueryOptions) -> Expand {
        Expand {
            property: property.to_string(),
            count: false,
            options,
        }
    }
    fn select_only(v: &[&str]) -> QueryOptions {
        QueryOptions {
            select: sel(v),
            ..Default::default()
        }
    }
    fn order(path: &str, descending: bool) -> OrderBy {
        OrderBy {
            path: strs(&path.split('/').collect::<Vec<_>>()),
            descending,
        }
    }
    fn f(src: &str) -> Expr {
        parse_filter(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }
    fn q(raw: &str) -> QueryOptions {
        parse_query(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    // ----- resource paths -----

    #[test]
    fn resource_paths() {
        let rp = |r: &str, key: Option<Key>, count: bool| ResourcePath {
            resource: r.to_string(),
            key,
            count,
        };
        assert_eq!(
            parse_resource_path("application"),
            Ok(rp("application", None, false))
        );
        assert_eq!(
            parse_resource_path("application(1)"),
            Ok(rp("application", Some(Key::Id(1)), false))
        );
        let uuid = Key::Alternate {
            field: "uuid".into(),
            value: Literal::String("de1ce000000000000000000000000001".into()),
        };
        assert_eq!(
            parse_resource_path("device(uuid=%27de1ce000000000000000000000000001%27)"),
            Ok(rp("device", Some(uuid), false))
        );
        let abc = Key::Alternate {
            field: "uuid".into(),
            value: Literal::String("abc".into()),
        };
        assert_eq!(
            parse_resource_path("device(uuid='abc')"),
            Ok(rp("device", Some(abc), false))
        );
        assert_eq!(
            parse_resource_path("release/$count"),
            Ok(rp("release", None, true))
        );
        assert_eq!(
            parse_resource_path("release_tag"),
            Ok(rp("release_tag", None, false))
        );
        assert_eq!(
            parse_resource_path("device(12)/$count"),
            Ok(rp("device", Some(Key::Id(12)), true))
        );
    }

    #[test]
    fn bad_resource_paths() {
        for bad in [
            "application(",
            "application(abc)",
            "app lication",
            "app%20lication",
            "",
            "1device",
            "device/",
            "device/$value",
            "device(1",
            "device(1))",
            "device(uuid=)",
            "device(uuid='x)",
            "device(99999999999999999999)",
            "device()",
            "device/x",
            "device%FF",
            "dévice",
        ] {
            assert!(parse_resource_path(bad).is_err(), "{bad:?} should fail");
        }
    }

    // ----- $filter -----

    #[test]
    fn comparisons() {
        assert_eq!(f("a eq 1"), eq(p("a"), int(1)));
        assert_eq!(f("a ne 'x'"), cmp(CmpOp::Ne, p("a"), s("x")));
        assert_eq!(f("a gt -5"), cmp(CmpOp::Gt, p("a"), int(-5)));
        assert_eq!(
            f("a ge 1.5"),
            cmp(CmpOp::Ge, p("a"), Expr::Literal(Literal::Float(1.5)))
        );
        assert_eq!(
            f("a lt null"),
            cmp(CmpOp::Lt, p("a"), Expr::Literal(Literal::Null))
        );
        assert_eq!(f("a le true"), cmp(CmpOp::Le, p("a"), b(true)));
        assert_eq!(f("false eq a"), eq(b(false), p("a")));
        assert_eq!(f("1 eq 1"), eq(int(1), int(1)));
        assert_eq!(f("  a   eq\t1 "), eq(p("a"), int(1)));
    }

    #[test]
    fn literals() {
        assert_eq!(f("a eq 'it''s'"), eq(p("a"), s("it's")));
        assert_eq!(f("a eq ''''"), eq(p("a"), s("'")));
        assert_eq!(f("a eq ''"), eq(p("a"), s("")));
        assert_eq!(f("a eq 'a/b'"), eq(p("a"), s("a/b")));
        assert_eq!(f("a eq 'ünï'"), eq(p("a"), s("ünï")));
        assert_eq!(
            f("created_at gt datetime'2024-01-01T00:00:00.000Z'"),
            cmp(CmpOp::Gt, p("created_at"), s("2024-01-01T00:00:00.000Z"))
        );
        assert_eq!(f("a eq 0"), eq(p("a"), int(0)));
        assert_eq!(f("a eq 9223372036854775807"), eq(p("a"), int(i64::MAX)));
        assert_eq!(f("a eq -9223372036854775808"), eq(p("a"), int(i64::MIN)));
        assert_eq!(
            f("a eq 1e3"),
            eq(p("a"), Expr::Literal(Literal::Float(1000.0)))
        );
        assert_eq!(
            f("a eq -0.25"),
            eq(p("a"), Expr::Literal(Literal::Float(-0.25)))
        );
    }

    #[test]
    fn precedence() {
        // and binds tighter than or
        assert_eq!(
            f("a eq 1 or b eq 2 and c eq 3"),
            or(
                eq(p("a"), int(1)),
                and(eq(p("b"), int(2)), eq(p("c"), int(3)))
            )
        );
        assert_eq!(
            f("a eq 1 and b eq 2 or c eq 3"),
            or(
                and(eq(p("a"), int(1)), eq(p("b"), int(2))),
                eq(p("c"), int(3))
            )
        );
        // left associative
        assert_eq!(
            f("a eq 1 and b eq 2 and c eq 3"),
            and(
                and(eq(p("a"), int(1)), eq(p("b"), int(2))),
                eq(p("c"), int(3))
            )
        );
        // parentheses
        assert_eq!(
            f("a eq 1 and (b eq 2 or c eq 3)"),
            and(
                eq(p("a"), int(1)),
                or(eq(p("b"), int(2)), eq(p("c"), int(3)))
            )
        );
        assert_eq!(f("((a eq 1))"), eq(p("a"), int(1)));
    }

    #[test]
    fn equivalent_parenthesisations() {
        assert_eq!(
            f("(slug eq 'a/b') or (uuid eq 'a/b')"),
            f("slug eq 'a/b' or uuid eq 'a/b'")
        );
        assert_eq!(
            f("(slug eq 'a/b') or (uuid eq 'a/b')"),
            or(eq(p("slug"), s("a/b")), eq(p("uuid"), s("a/b")))
        );
        assert_eq!(
            f("(is_directly_accessible_by__user/any(dau:1 eq 1)) and ((slug eq 'x') or (uuid eq 'x'))"),
            and(
                lambda("is_directly_accessible_by__user", LambdaKind::Any, "dau", eq(int(1), int(1))),
                or(eq(p("slug"), s("x")), eq(p("uuid"), s("x")))
            )
        );
        assert_eq!(
            f("(commit eq 'c') and ((belongs_to__application eq 1001) and (status eq 'success'))"),
            and(
                eq(p("commit"), s("c")),
                and(
                    eq(p("belongs_to__application"), int(1001)),
                    eq(p("status"), s("success"))
                )
            )
        );
    }

    #[test]
    fn not_forms() {
        let inner = eq(p("a"), int(1));
        assert_eq!(f("not (a eq 1)"), not(inner.clone()));
        assert_eq!(f("not(a eq 1)"), not(inner.clone()));
        assert_eq!(f("not not (a eq 1)"), not(not(inner.clone())));
        // not binds tighter than a comparison
        assert_eq!(f("not a eq true"), eq(not(p("a")), b(true)));
        assert_eq!(
            f("not (a eq 1) and b eq 2"),
            and(not(inner), eq(p("b"), int(2)))
        );
        assert_eq!(
            f("not startswith(a,'x')"),
            not(call(Func::StartsWith, vec![p("a"), s("x")]))
        );
    }

    #[test]
    fn in_lists() {
        assert_eq!(
            f("x in (1, 2, 3)"),
            Expr::In {
                left: Box::new(p("x")),
                list: vec![int(1), int(2), int(3)]
            }
        );
        assert_eq!(
            f("id in (3001)"),
            Expr::In {
                left: Box::new(p("id")),
                list: vec![int(3001)]
            }
        );
        assert_eq!(
            f("status in ('a','b') and id eq 1"),
            and(
                Expr::In {
                    left: Box::new(p("status")),
                    list: vec![s("a"), s("b")]
                },
                eq(p("id"), int(1))
            )
        );
    }

    #[test]
    fn functions() {
        assert_eq!(
            f("startswith(uuid,'abc')"),
            call(Func::StartsWith, vec![p("uuid"), s("abc")])
        );
        assert_eq!(
            f("endswith(a, 'b')"),
            call(Func::EndsWith, vec![p("a"), s("b")])
        );
        assert_eq!(
            f("contains(a,'b')"),
            call(Func::Contains, vec![p("a"), s("b")])
        );
        assert_eq!(
            f("substringof('b',a)"),
            call(Func::Contains, vec![p("a"), s("b")])
        );
        assert_eq!(
            f("tolower(slug) eq 'x'"),
            eq(call(Func::ToLower, vec![p("slug")]), s("x"))
        );
        assert_eq!(
            f("toupper(a/b) eq 'X'"),
            eq(call(Func::ToUpper, vec![p("a/b")]), s("X"))
        );
        assert_eq!(
            f("startswith(a,'x') eq true"),
            eq(call(Func::StartsWith, vec![p("a"), s("x")]), b(true))
        );
        assert_eq!(
            f("contains(tolower(a),'x')"),
            call(
                Func::Contains,
                vec![call(Func::ToLower, vec![p("a")]), s("x")]
            )
        );
        for bad in [
            "foo(a)",
            "startswith(a)",
            "startswith(a,'b','c')",
            "tolower()",
            "tolower(a,b)",
            "startswith(a,'b'",
            "startswith(,'b')",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn lambdas() {
        assert_eq!(
            f("is_directly_accessible_by__user/any(dau:1 eq 1)"),
            lambda(
                "is_directly_accessible_by__user",
                LambdaKind::Any,
                "dau",
                eq(int(1), int(1))
            )
        );
        assert_eq!(
            f("owns__device/any(d:d/actor eq 1235)"),
            lambda(
                "owns__device",
                LambdaKind::Any,
                "d",
                eq(p("d/actor"), int(1235))
            )
        );
        assert_eq!(
            f("release_tag/any(rt:(rt/tag_key eq 'k') and (rt/value eq 'v'))"),
            lambda(
                "release_tag",
                LambdaKind::Any,
                "rt",
                and(eq(p("rt/tag_key"), s("k")), eq(p("rt/value"), s("v")))
            )
        );
        assert_eq!(
            f("x/all(v: v/a ne 2)"),
            lambda("x", LambdaKind::All, "v", cmp(CmpOp::Ne, p("v/a"), int(2)))
        );
        assert_eq!(
            f("a/b/any(c: c/d eq 1)"),
            lambda("a/b", LambdaKind::Any, "c", eq(p("c/d"), int(1)))
        );
        assert_eq!(
            f("a/any(x:x/b/any(y:y/c eq 1))"),
            lambda(
                "a",
                LambdaKind::Any,
                "x",
                lambda("x/b", LambdaKind::Any, "y", eq(p("y/c"), int(1)))
            )
        );
        // `any` not followed by '(' is an ordinary property name
        assert_eq!(f("a/any eq 1"), eq(p("a/any"), int(1)));
        for bad in [
            "a/any()",
            "a/any(x)",
            "a/any(x:)",
            "a/any(:x eq 1)",
            "a/any(x:x eq 1",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(
            f("belongs_to__application/slug eq 'x'"),
            eq(p("belongs_to__application/slug"), s("x"))
        );
        assert_eq!(f("d/actor eq 1"), eq(p("d/actor"), int(1)));
    }

    #[test]
    fn bad_filters() {
        for bad in [
            "",
            "   ",
            "slug eqq 'x'",
            "(((",
            "a eq",
            "eq 1",
            "a eq 1 and",
            "a eq 1 or or b eq 2",
            "a EQ 1",
            "a eq 1 AND b eq 2",
            "a eq b eq c",
            "a eq 'x",
            "a eq 1)",
            "(a eq 1",
            "a eq 12abc",
            "a eq 99999999999999999999",
            "a eq 1e999",
            "a eq -",
            "a eq --1",
            "a eq 1.",
            "1a eq 1",
            "a eq x'abc'",
            "a in ()",
            "a in 1",
            "a in (1,)",
            "a/ eq 1",
            "a/$count gt 0",
            "a eq @x",
            "a + 1",
            "a eq \"x\"",
            "a eq 1;",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad:?} should fail");
        }
    }

    // ----- whole query strings -----

    #[test]
    fn real_example_1() {
        let o = q("$filter=(slug%20eq%20%27myorg%2Fmyfleet%27)%20or%20(uuid%20eq%20%27myorg%2Fmyfleet%27)&$select=id");
        assert_eq!(
            o,
            QueryOptions {
                select: sel(&["id"]),
                filter: Some(or(
                    eq(p("slug"), s("myorg/myfleet")),
                    eq(p("uuid"), s("myorg/myfleet"))
                )),
                ..Default::default()
            }
        );
    }

    #[test]
    fn real_example_2() {
        let o = q("$filter=(is_directly_accessible_by__user/any(dau:1%20eq%201))%20and%20((slug%20eq%20%27myorg%2Fmyfleet%27)%20or%20(uuid%20eq%20%27myorg%2Fmyfleet%27))&$expand=is_for__device_type($select=slug),should_be_running__release($select=commit)");
        assert_eq!(
            o,
            QueryOptions {
                filter: Some(and(
                    lambda(
                        "is_directly_accessible_by__user",
                        LambdaKind::Any,
                        "dau",
                        eq(int(1), int(1))
                    ),
                    or(
                        eq(p("slug"), s("myorg/myfleet")),
                        eq(p("uuid"), s("myorg/myfleet"))
                    )
                )),
                expand: vec![
                    expand("is_for__device_type", select_only(&["slug"])),
                    expand("should_be_running__release", select_only(&["commit"])),
                ],
                ..Default::default()
            }
        );
    }

    #[test]
    fn real_example_3() {
        let o = q("$filter=(slug%20eq%20%27myorg%2Fmyfleet%27)%20or%20(uuid%20eq%20%27myorg%2Fmyfleet%27)&$select=id&$expand=owns__release($select=id;$top=1;$filter=(is_final%20eq%20true)%20and%20(is_passing_tests%20eq%20true)%20and%20(is_invalidated%20eq%20false)%20and%20(status%20eq%20%27success%27);$orderby=created_at%20desc)");
        let release_filter = and(
            and(
                and(
                    eq(p("is_final"), b(true)),
                    eq(p("is_passing_tests"), b(true)),
                ),
                eq(p("is_invalidated"), b(false)),
            ),
            eq(p("status"), s("success")),
        );
        assert_eq!(
            o,
            QueryOptions {
                select: sel(&["id"]),
                filter: Some(or(
                    eq(p("slug"), s("myorg/myfleet")),
                    eq(p("uuid"), s("myorg/myfleet"))
                )),
                expand: vec![expand(
                    "owns__release",
                    QueryOptions {
                        select: sel(&["id"]),
                        top: Some(1),
                        filter: Some(release_filter),
                        orderby: vec![order("created_at", true)],
                        ..Default::default()
                    }
                )],
                ..Default::default()
            }
        );
    }

    #[test]
    fn real_example_4() {
        let o = q("$filter=(commit%20eq%20%27c1%27)%20and%20((commit%20eq%20%27c1%27)%20and%20(status%20eq%20%27success%27)%20and%20(belongs_to__application%20eq%201001))&$select=id&$top=1&$orderby=created_at%20desc");
        assert_eq!(
            o,
            QueryOptions {
                select: sel(&["id"]),
                top: Some(1),
                orderby: vec![order("created_at", true)],
                filter: Some(and(
                    eq(p("commit"), s("c1")),
                    and(
                        and(eq(p("commit"), s("c1")), eq(p("status"), s("success"))),
                        eq(p("belongs_to__application"), int(1001))
                    )
                )),
                ..Default::default()
            }
        );
    }

    #[test]
    fn real_example_5() {
        let o = q("$filter=startswith(uuid,%27abcdef0%27)&$select=uuid&$expand=is_pinned_on__release($select=commit),belongs_to__application($select=slug)");
        assert_eq!(
            o,
            QueryOptions {
                select: sel(&["uuid"]),
                filter: Some(call(Func::StartsWith, vec![p("uuid"), s("abcdef0")])),
                expand: vec![
                    expand("is_pinned_on__release", select_only(&["commit"])),
                    expand("belongs_to__application", select_only(&["slug"])),
                ],
                ..Default::default()
            }
        );
    }

    #[test]
    fn real_example_6() {
        let o = q("$orderby=device_name%20asc&$select=id,belongs_to__application&$filter=uuid%20eq%20%27abc%27");
        assert_eq!(
            o,
            QueryOptions {
                select: sel(&["id", "belongs_to__application"]),
                filter: Some(eq(p("uuid"), s("abc"))),
                orderby: vec![order("device_name", false)],
                ..Default::default()
            }
        );
    }

    #[test]
    fn real_example_7() {
        assert_eq!(
            q("$filter=id%20in%20(3001)").filter,
            Some(Expr::In {
                left: Box::new(p("id")),
                list: vec![int(3001)]
            })
        );
    }

    #[test]
    fn real_example_8() {
        let o = q("$select=id,slug,should_track_latest_release&$expand=should_be_running__release($select=id,commit,semver,status)");
        assert_eq!(
            o,
            QueryOptions {
                select: sel(&["id", "slug", "should_track_latest_release"]),
                expand: vec![expand(
                    "should_be_running__release",
                    select_only(&["id", "commit", "semver", "status"])
                )],
                ..Default::default()
            }
        );
    }

    #[test]
    fn real_example_9() {
        let o = q("$filter=belongs_to__application%20eq%201&$select=id,device_name&$expand=is_pinned_on__release($select=id,commit),should_be_running__release($select=id,commit)&$orderby=id%20asc");
        assert_eq!(
            o,
            QueryOptions {
                select: sel(&["id", "device_name"]),
                filter: Some(eq(p("belongs_to__application"), int(1))),
                expand: vec![
                    expand("is_pinned_on__release", select_only(&["id", "commit"])),
                    expand("should_be_running__release", select_only(&["id", "commit"])),
                ],
                orderby: vec![order("id", false)],
                ..Default::default()
            }
        );
    }

    #[test]
    fn real_example_10_injection_is_a_string() {
        assert_eq!(
            q("$filter=uuid%20eq%20%27x%27%27;DROP%20TABLE%20device;--%27").filter,
            Some(eq(p("uuid"), s("x';DROP TABLE device;--")))
        );
    }

    #[test]
    fn real_example_11() {
        assert_eq!(
            q("$filter=(slug%20eq%20%27a%27%20or%20uuid%20eq%20%27a%27)%20and%20owns__device/any(d:d/actor%20eq%201235)").filter,
            Some(and(
                or(eq(p("slug"), s("a")), eq(p("uuid"), s("a"))),
                lambda("owns__device", LambdaKind::Any, "d", eq(p("d/actor"), int(1235)))
            ))
        );
    }

    #[test]
    fn nested_expand() {
        let o = q("$expand=belongs_to__application($select=id;$expand=owns__release($select=id;$top=1;$filter=(commit eq 'c') and (status eq 'success')))");
        assert_eq!(
            o.expand,
            vec![expand(
                "belongs_to__application",
                QueryOptions {
                    select: sel(&["id"]),
                    expand: vec![expand(
                        "owns__release",
                        QueryOptions {
                            select: sel(&["id"]),
                            top: Some(1),
                            filter: Some(and(
                                eq(p("commit"), s("c")),
                                eq(p("status"), s("success"))
                            )),
                            ..Default::default()
                        }
                    )],
                    ..Default::default()
                }
            )]
        );
        let o = q("$expand=a($skip=2;$orderby=x desc,y;$expand=b,c($select=*))");
        assert_eq!(
            o.expand,
            vec![expand(
                "a",
                QueryOptions {
                    skip: Some(2),
                    orderby: vec![order("x", true), order("y", false)],
                    expand: vec![
                        expand("b", QueryOptions::default()),
                        expand("c", select_only(&["*"])),
                    ],
                    ..Default::default()
                }
            )]
        );
    }

    #[test]
    fn count_expand() {
        let o = q("$expand=owns__device/$count");
        assert_eq!(
            o.expand,
            vec![Expand {
                property: "owns__device".into(),
                count: true,
                options: QueryOptions::default()
            }]
        );
        let o = q(
            "$expand=owns__device/$count($filter=is_online%20eq%20true),owns__release($select=id)",
        );
        assert_eq!(
            o.expand,
            vec![
                Expand {
                    property: "owns__device".into(),
                    count: true,
                    options: QueryOptions {
                        filter: Some(eq(p("is_online"), b(true))),
                        ..Default::default()
                    }
                },
                expand("owns__release", select_only(&["id"])),
            ]
        );
        assert!(parse_query("$expand=owns__device/$count($select=id)").is_err());
        assert!(parse_query("$expand=owns__device/$value").is_err());
    }

    #[test]
    fn select_orderby_top_skip() {
        assert_eq!(q("$select=*").select, sel(&["*"]));
        assert_eq!(
            q("$select=id,commit,created_at").select,
            sel(&["id", "commit", "created_at"])
        );
        assert_eq!(q("$select=id,%20commit").select, sel(&["id", "commit"]));
        assert_eq!(
            q("$orderby=created_at%20desc").orderby,
            vec![order("created_at", true)]
        );
        assert_eq!(
            q("$orderby=a desc,b").orderby,
            vec![order("a", true), order("b", false)]
        );
        assert_eq!(
            q("$orderby=belongs_to__application/slug%20asc").orderby,
            vec![order("belongs_to__application/slug", false)]
        );
        let o = q("$top=10&$skip=0");
        assert_eq!((o.top, o.skip), (Some(10), Some(0)));
        // $top/$skip are limited to the i64 range (what SQLite's LIMIT takes)
        assert_eq!(q("$top=9223372036854775807").top, Some(i64::MAX as u64));
        assert!(parse_query("$top=9223372036854775808").is_err());
    }

    #[test]
    fn query_string_handling() {
        assert_eq!(q(""), QueryOptions::default());
        assert_eq!(q("&&"), QueryOptions::default());
        // non-$ parameters are ignored, even undecodable values
        assert_eq!(q("foo=bar&x=%FF&$select=id&"), select_only(&["id"]));
        // names are percent-decoded too
        assert_eq!(q("%24select=id"), select_only(&["id"]));
        // decode once, after splitting on '&'
        assert_eq!(
            q("$filter=a%20eq%20%27x%26y%3Dz%27").filter,
            Some(eq(p("a"), s("x&y=z")))
        );
        assert_eq!(
            q("$filter=a%20eq%20%27%2541%27").filter,
            Some(eq(p("a"), s("%41")))
        );
        // '+' is a literal plus
        assert_eq!(
            q("$filter=a%20eq%20%27a+b%27").filter,
            Some(eq(p("a"), s("a+b")))
        );
        assert!(parse_query("$filter=a+eq+1").is_err());
        // literal spaces (not encoded) are accepted too
        assert_eq!(q("$filter=a eq 1").filter, Some(eq(p("a"), int(1))));
    }

    #[test]
    fn bad_queries() {
        for bad in [
            "$filter=slug%20eqq%20%27x%27",
            "$filter=(((",
            "$top=-1",
            "$top=abc",
            "$top=1.5",
            "$top=",
            "$top=99999999999999999999",
            "$skip=-3",
            "$filter=",
            "$filter",
            "$select=",
            "$select=id,",
            "$select=a/b",
            "$select=id,*",
            "$expand=a(",
            "$expand=a()",
            "$expand=a($select=id",
            "$expand=a($select=id;)",
            "$expand=a($select=id;$select=x)",
            "$expand=a($bogus=1)",
            "$expand=a(select=id)",
            "$expand=a/b",
            "$expand=",
            "$expand=a,",
            "$orderby=x sideways",
            "$orderby=x desc desc",
            "$orderby=",
            "$select=id&$select=id",
            "$select=id&%24select=id",
            "$count=true",
            "$format=json",
            "$bogus=1",
            "$filter=a%20eq%20%27%FF%27",
            "%FF%FE=1",
            "$filter=a eq 1&$filter=b eq 2",
            "$filter=a eq 1;$top=1",
        ] {
            assert!(parse_query(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn error_mentions_option() {
        let e = parse_query("$top=-1").unwrap_err();
        assert!(e.0.contains("$top"), "{e}");
    }

    #[test]
    fn parameter_aliases() {
        let uuid = |v: &str| Key::Alternate {
            field: "uuid".into(),
            value: Literal::String(v.into()),
        };
        let rp = parse_resource_path_with_query("device(uuid=@uuid)", "@uuid=%27abc%27").unwrap();
        assert_eq!(rp.key, Some(uuid("abc")));
        let rp = parse_resource_path_with_query("device(@id)", "@id=1031543&$select=id").unwrap();
        assert_eq!(rp.key, Some(Key::Id(1031543)));
        let rp = parse_resource_path_with_query("device(uuid=%40u)/$count", "%40u='x'").unwrap();
        assert_eq!((rp.key, rp.count), (Some(uuid("x")), true));
        // aliases are only resolved when the query defines them
        assert!(parse_resource_path("device(uuid=@uuid)").is_err());
        assert!(parse_resource_path_with_query("device(uuid=@uuid)", "@other='a'").is_err());
        assert!(parse_resource_path_with_query("device(@id)", "@id='abc'").is_err());
        assert!(parse_resource_path_with_query("device(@id)", "@id=1&@id=2").is_err());
        assert!(parse_resource_path_with_query("device(@)", "@=1").is_err());

        assert_eq!(
            q("$filter=uuid%20eq%20@u&@u=%27a%27%27b%27").filter,
            Some(eq(p("uuid"), s("a'b")))
        );
        assert_eq!(
            q("@n=5&$expand=a($filter=x%20in%20(@n,%206))").expand[0]
                .options
                .filter,
            Some(Expr::In {
                left: Box::new(p("x")),
                list: vec![int(5), int(6)]
            })
        );
        for bad in [
            "$filter=a%20eq%20@u",
            "$filter=a%20eq%20@u&@u=b",
            "$filter=a%20eq%20@u&@u=",
            "$filter=a%20eq%20@u&@u=1%202",
            "@u=1&@u=2",
            "@1=1",
            "@=1",
            "@u=%27x",
        ] {
            assert!(parse_query(bad).is_err(), "{bad:?} should fail");
        }
        assert!(parse_filter("a eq @u").is_err());
    }

    #[test]
    fn encoded_structure_in_filter_is_refused() {
        for bad in [
            "$filter=id%20in%20%281%2C2%29",
            "$filter=id%20in%20(1%2c2)",
            "$filter=startswith%28slug,%27a%27)",
            "$filter=startswith(slug%2C%27a%27)",
            "$filter=(id%20eq%201%29",
            "$filter=%28id%20eq%201)",
            "$filter=slug%20eq%20%27a%27%20and%20%28id%20eq%201)",
            "$filter=slug%20eq%20'a'%20and%20(id%20in%20(1%2C2))",
        ] {
            let e = parse_query(bad).unwrap_err();
            assert!(e.0.contains("percent-encoded"), "{bad}: {e}");
        }
        // Inside string literals they are characters, whichever quote encoding.
        assert_eq!(
            q("$filter=slug%20eq%20%27a%28b%2Cc%29%27").filter,
            Some(eq(p("slug"), s("a(b,c)")))
        );
        assert_eq!(
            q("$filter=slug%20eq%20'%28'").filter,
            Some(eq(p("slug"), s("(")))
        );
        assert_eq!(
            q("$filter=slug%20in%20('it''s%2C',%20%27%29%27%27%28%27)").filter,
            Some(Expr::In {
                left: Box::new(p("slug")),
                list: vec![s("it's,"), s(")'(")]
            })
        );
        // Plain parentheses and commas, an encoded percent sign, and other options are as
        // before.
        assert!(parse_query("$filter=id%20in%20(1,2)").is_ok());
        assert!(parse_query("$filter=slug%20eq%20%27%2528%27").is_ok());
        assert!(parse_query("$select=id&foo=%28").is_ok());
    }

    // ----- robustness -----

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let n = 100_000;
        let cases = [
            "(".repeat(n),
            format!("{}a eq 1{}", "(".repeat(n), ")".repeat(n)),
            format!("{}(a eq 1)", "not ".repeat(n)),
            format!("{}(a eq 1)", "not(".repeat(n)),
            format!("{}a{}", "tolower(".repeat(n), ")".repeat(n)),
            format!("a eq 1{}", " and a eq 1".repeat(n)),
            format!("a eq 1{}", " or a eq 1".repeat(n)),
            format!("{}1 eq 1{}", "x/any(v:".repeat(n), ")".repeat(n)),
            format!("a in ({})", "(".repeat(n)),
        ];
        for c in &cases {
            assert!(parse_filter(c).is_err());
            assert!(parse_query(&format!("$filter={c}")).is_err());
        }
        let deep_expand = format!("$expand={}b{}", "a($expand=".repeat(n), ")".repeat(n));
        assert!(parse_query(&deep_expand).is_err());
        // but reasonable nesting is fine
        let ok = format!(
            "{}a eq 1{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(parse_filter(&ok).is_ok());
        let ok = format!("a eq 1{}", " and a eq 1".repeat(100));
        assert!(parse_filter(&ok).is_ok());
        let ok = format!("$expand={}b{}", "a($expand=".repeat(10), ")".repeat(10));
        assert!(parse_query(&ok).is_ok());
        // wide is fine
        let wide = format!("id in ({})", vec!["1"; 10_000].join(","));
        assert!(parse_filter(&wide).is_ok());
    }
}
