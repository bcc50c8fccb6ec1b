//! Interactive prompts (`login` on a terminal): the question on the terminal, the answer
//! from it. Hidden input reads from the terminal with echo off (rpassword).

use std::io::{BufRead, Write};

/// Asks for a line of input, or for a secret without echo.
pub trait Prompt {
    fn line(&mut self, question: &str) -> std::io::Result<String>;
    fn hidden(&mut self, question: &str) -> std::io::Result<String>;
}

/// The real terminal: questions on stderr, answers from stdin (hidden ones from the
/// terminal device, echo off).
pub struct Terminal;

impl Prompt for Terminal {
    fn line(&mut self, question: &str) -> std::io::Result<String> {
        let mut err = std::io::stderr();
        write!(err, "{question} ")?;
        err.flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(answer.trim().to_owned())
    }

    fn hidden(&mut self, question: &str) -> std::io::Result<String> {
        rpassword::prompt_password(format!("{question} ")).map(|s| s.trim_end().to_owned())
    }
}

/// Scripted answers, for tests: `(question, answer, hidden)` in order; the questions
/// asked are recorded.
#[derive(Debug, Default)]
pub struct Scripted {
    pub answers: Vec<String>,
    pub asked: Vec<(String, bool)>,
}

impl Scripted {
    fn next(&mut self, q: &str, hidden: bool) -> std::io::Result<String> {
        self.asked.push((q.to_owned(), hidden));
        if self.answers.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "no more answers",
            ));
        }
        Ok(self.answers.remove(0))
    }
}

impl Prompt for Scripted {
    fn line(&mut self, question: &str) -> std::io::Result<String> {
        self.next(question, false)
    }
    fn hidden(&mut self, question: &str) -> std::io::Result<String> {
        self.next(question, true)
    }
}
