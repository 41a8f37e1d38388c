//! Problems found in a session file, each with its place in the file.

use std::fmt;
use std::path::PathBuf;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The session cannot be used.
    Error,
    /// The session works, but something in it does not do what it says.
    Warning,
}

/// One problem, located: `file:line:column: field: message`.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The session file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// The field, as a user reads it: `strip "Mic" sends.B1.level_db`. Empty for
    /// problems of the file as a whole (syntax errors).
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// Error or warning.
    pub severity: Severity,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if self.severity == Severity::Warning {
            write!(f, "warning: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.message)
    }
}

/// A session that could not be loaded: every error found, in file order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct SessionError {
    /// The problems; at least one is an error.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}
