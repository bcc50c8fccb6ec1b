//! The rows of a `{"d":[…]}` answer, split out of the body as it arrives: each row (an
//! object) is handed over as its own JSON text once its last byte is in, so a long list is
//! never held whole. The envelope around the rows is checked as strictly as a parser would;
//! the text of each row is checked by whoever parses it.

use std::fmt;

/// What was wrong with the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsError(String);

impl fmt::Display for RowsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Before the rows: `{"d":[` with any whitespace.
    Head,
    /// Between rows: expecting a row (`first`) or `,` and a row, or the closing `]`.
    Between { first: bool, comma: bool },
    /// Inside a row.
    Row,
    /// After `]`: `}` and whitespace.
    Tail { closed: bool },
}

/// The splitter: [`Rows::feed`] each chunk, then [`Rows::finish`].
pub struct Rows {
    part: Part,
    head: Vec<u8>,
    row: Vec<u8>,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Bytes seen so far (for the error messages).
    offset: usize,
}

impl Default for Rows {
    fn default() -> Self {
        Rows::new()
    }
}

impl Rows {
    pub fn new() -> Rows {
        Rows {
            part: Part::Head,
            head: Vec::new(),
            row: Vec::new(),
            depth: 0,
            in_string: false,
            escaped: false,
            offset: 0,
        }
    }

    fn bad(&self, at: usize, what: &str) -> RowsError {
        RowsError(format!(
            "expected {{\"d\":[…]}} of the resource's rows: {what} at byte {}",
            self.offset + at
        ))
    }

    /// Takes the next chunk of the body; `row` gets each row completed in it.
    pub fn feed(&mut self, chunk: &[u8], row: &mut impl FnMut(&[u8])) -> Result<(), RowsError> {
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            match self.part {
                Part::Head => {
                    if b == b'[' {
                        if !head_is_d(&self.head) {
                            return Err(self.bad(i, "a body that does not start with {\"d\":"));
                        }
                        self.head = Vec::new();
                        self.part = Part::Between {
                            first: true,
                            comma: false,
                        };
                    } else {
                        self.head.push(b);
                        if self.head.len() > 64 {
                            let text = String::from_utf8_lossy(&self.head).into_owned();
                            return Err(RowsError(format!(
                                "the body is not {{\"d\":[…]}}; it starts with {:?}",
                                text.chars().take(60).collect::<String>()
                            )));
                        }
                    }
                    i += 1;
                }
                Part::Between { first, comma } => {
                    match b {
                        b' ' | b'\t' | b'\n' | b'\r' => {}
                        b',' if !first && !comma => {
                            self.part = Part::Between { first, comma: true };
                        }
                        b']' if !comma => self.part = Part::Tail { closed: false },
                        b'{' if first || comma => {
                            self.part = Part::Row;
                            self.row.clear();
                            self.depth = 0;
                            continue;
                        }
                        b'{' => return Err(self.bad(i, "a missing ',' between rows")),
                        _ => return Err(self.bad(i, "a row that is not an object")),
                    }
                    i += 1;
                }
                Part::Row => {
                    // The rest of the row in this chunk, scanned in one pass.
                    let start = i;
                    let mut done = false;
                    while i < chunk.len() {
                        let c = chunk[i];
                        i += 1;
                        if self.in_string {
                            if self.escaped {
                                self.escaped = false;
                            } else if c == b'\\' {
                                self.escaped = true;
                            } else if c == b'"' {
                                self.in_string = false;
                            }
                            continue;
                        }
                        match c {
                            b'"' => self.in_string = true,
                            b'{' | b'[' => self.depth += 1,
                            b'}' | b']' => {
                                self.depth = self.depth.saturating_sub(1);
                                if self.depth == 0 {
                                    done = true;
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    if done && self.row.is_empty() {
                        row(&chunk[start..i]);
                    } else {
                        self.row.extend_from_slice(&chunk[start..i]);
                        if done {
                            row(&self.row);
                            self.row.clear();
                        }
                    }
                    if done {
                        self.part = Part::Between {
                            first: false,
                            comma: false,
                        };
                    }
                }
                Part::Tail { closed } => {
                    match b {
                        b' ' | b'\t' | b'\n' | b'\r' => {}
                        b'}' if !closed => self.part = Part::Tail { closed: true },
                        _ => return Err(self.bad(i, "text after the rows")),
                    }
                    i += 1;
                }
            }
        }
        self.offset += chunk.len();
        Ok(())
    }

    /// The end of the body: it must have been complete.
    pub fn finish(&self) -> Result<(), RowsError> {
        match self.part {
            Part::Tail { closed: true } => Ok(()),
            Part::Head if self.head.is_empty() && self.offset == 0 => {
                Err(RowsError("the body is empty".into()))
            }
            _ => Err(RowsError(format!(
                "the body ended after {} bytes, in the middle of the rows",
                self.offset
            ))),
        }
    }
}

/// `{"d":` with any whitespace.
fn head_is_d(head: &[u8]) -> bool {
    let t: Vec<u8> = head
        .iter()
        .copied()
        .filter(|b| !b" \t\n\r".contains(b))
        .collect();
    t == br#"{"d":"#
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(body: &[u8], chunk: usize) -> Result<Vec<String>, RowsError> {
        let mut out = Vec::new();
        let mut r = Rows::new();
        for c in body.chunks(chunk.max(1)) {
            r.feed(c, &mut |row| {
                out.push(String::from_utf8_lossy(row).into_owned())
            })?;
        }
        r.finish()?;
        Ok(out)
    }

    #[test]
    fn rows_come_out_whole_at_any_chunk_size() {
        let body = br#" { "d" : [ {"a":1,"s":"x}]\"{"}, {"n":{"m":[1,{"k":"]"}]}},{} ] } "#;
        let want = vec![
            r#"{"a":1,"s":"x}]\"{"}"#.to_owned(),
            r#"{"n":{"m":[1,{"k":"]"}]}}"#.to_owned(),
            "{}".to_owned(),
        ];
        for size in 1..body.len() + 1 {
            assert_eq!(split(body, size).unwrap(), want, "chunks of {size}");
        }
        assert_eq!(split(br#"{"d":[]}"#, 3).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn anything_but_the_envelope_is_an_error() {
        for bad in [
            &b""[..],
            b"<html>oops</html>",
            br#"{"x":[{}]}"#,
            br#"{"d":[1]}"#,
            br#"{"d":[{}{}]}"#,
            br#"{"d":[{},]}"#,
            br#"{"d":[,{}]}"#,
            br#"{"d":[{}]}x"#,
            br#"{"d":[{}]"#,
            br#"{"d":[{"a":"#,
            br#"{"d":[{}]}}"#,
        ] {
            for size in [1, 4, 1000] {
                assert!(
                    split(bad, size).is_err(),
                    "{:?} in chunks of {size}",
                    String::from_utf8_lossy(bad)
                );
            }
        }
    }
}
