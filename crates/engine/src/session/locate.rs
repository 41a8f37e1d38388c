//! Finding where a field stands in the session text, for error messages that point at
//! the line and column.

use std::ops::Range;

use toml_edit::{Item, Table, Value};

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A table key.
    Key(String),
    /// An array element.
    Index(usize),
}

impl From<&str> for Seg {
    fn from(k: &str) -> Self {
        Seg::Key(k.to_string())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, counted in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `text`.
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// The parsed document, kept for locating fields.
pub(crate) struct Locator<'a> {
    text: &'a str,
    doc: Option<toml_edit::Document<&'a str>>,
}

#[derive(Clone, Copy)]
enum Node<'d> {
    Item(&'d Item),
    Table(&'d Table),
    Value(&'d Value),
}

impl<'d> Node<'d> {
    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Item(i) => i.span(),
            Node::Table(t) => t.span(),
            Node::Value(v) => v.span(),
        }
    }

    fn child(self, seg: &Seg) -> Option<Node<'d>> {
        match (self, seg) {
            (Node::Item(Item::Table(t)) | Node::Table(t), Seg::Key(k)) => t.get(k).map(Node::Item),
            (Node::Item(Item::Value(v)) | Node::Value(v), Seg::Key(k)) => {
                v.as_inline_table()?.get(k).map(Node::Value)
            }
            (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => a.get(*i).map(Node::Table),
            (Node::Item(Item::Value(v)) | Node::Value(v), Seg::Index(i)) => {
                v.as_array()?.get(*i).map(Node::Value)
            }
            _ => None,
        }
    }
}

impl<'a> Locator<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            text,
            doc: toml_edit::Document::parse(text).ok(),
        }
    }

    /// Where `path` stands: the value itself, or else its nearest ancestor present in
    /// the file (a missing field is reported at the table that lacks it).
    pub(crate) fn position(&self, path: &[Seg]) -> Position {
        let Some(doc) = &self.doc else {
            return Position { line: 1, column: 1 };
        };
        let mut node = Node::Table(doc.as_table());
        let mut best = None;
        for seg in path {
            match node.child(seg) {
                Some(child) => {
                    node = child;
                    best = node.span().or(best);
                }
                None => break,
            }
        }
        best.map_or(Position { line: 1, column: 1 }, |span| {
            Position::of_offset(self.text, span.start)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_in_tables_arrays_and_inline_tables() {
        let text = "version = 1\n\n[[strip]]\nname = \"Mic\"\nsends = { B1 = { level_db = 30.0 } }\n\n[[strip]]\nname = \"Two\"\neq = [{ kind = \"peak\" }, { kind = \"notch\" }]\n";
        let loc = Locator::new(text);
        let p = |path: &[Seg]| {
            let pos = loc.position(path);
            (pos.line, pos.column)
        };
        assert_eq!(p(&["version".into()]), (1, 11));
        assert_eq!(p(&["strip".into(), 0.into(), "name".into()]), (4, 8));
        assert_eq!(
            p(&[
                "strip".into(),
                0.into(),
                "sends".into(),
                "B1".into(),
                "level_db".into()
            ]),
            (5, 29)
        );
        assert_eq!(
            p(&[
                "strip".into(),
                1.into(),
                "eq".into(),
                1.into(),
                "kind".into()
            ]),
            (9, 35)
        );
        // Missing field: reported at the nearest ancestor that exists.
        assert_eq!(p(&["strip".into(), 1.into(), "gain_db".into()]).0, 7);
    }
}
