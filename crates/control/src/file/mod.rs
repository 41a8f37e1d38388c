//! The session file as the user keeps it: writing a session back without losing the
//! user's comments and layout ([`rewrite`]), and folding a hand edit of the file into
//! a running session that changed meanwhile ([`merge`]).
//!
//! Both work on the session's TOML form rather than on [`Session`] itself, so that
//! a field added to the model later is handled without touching this module: what
//! `toml` serializes is what is compared, kept or replaced.

mod merge;
mod rewrite;

#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod midi_tests;
#[cfg(test)]
mod tests;

use troubadour_engine::session::Session;

/// The text to write so that the file says `session`, changed as little as possible
/// from `original` (the file's current text): comments, blank lines, key order, inline
/// vs. standard tables, quoting and number formatting of values that did not change are
/// all kept; only values that changed are rewritten (keeping their trailing comment);
/// keys whose value is now the default (absent from the session's serialization) are
/// removed; new strips/buses/scenes/keys are added; removed ones deleted. Arrays of
/// tables ([[strip]], [[bus]], [[scene]], [[macro]]) are matched by their `name`
/// ([[midi]] mappings by their `target`), so a reorder or an
/// insertion keeps each strip's comments with it. If `original` does not parse as TOML,
/// the session's plain serialization is returned.
///
/// Also kept: defaults the user wrote out (`mute = false`) or left out (`channels = 2`
/// omitted) while they stay the default. A strip whose name is gone, in the place of
/// one whose new name is not in the file, is taken as renamed and keeps its comments.
/// New keys go at the end of their table. The result is always checked to parse back
/// to exactly `session`; if it would not, the plain serialization is returned instead.
pub fn rewrite(original: &str, session: &Session) -> String {
    rewrite::rewrite(original, session)
}

/// A three-way merge for a hand edit of the file that arrives while remote changes were
/// made: `base` is what the file said when last read or written by us, `edited` is the
/// new file, `ours` the running session (base + remote changes). The result takes the
/// edit's structure (strips/buses/scenes it added, removed, renamed or reordered) and, for
/// every value: the edit's where the edit changed it (edited != base), ours where only
/// we changed it. Documented rule: "the hand edit wins for what it changed; remote
/// changes to anything else are kept". Strips/buses/scenes are matched by name; a
/// strip present in `edited` but not in `base` takes `edited` entirely.
///
/// Further decisions: a strip (bus, scene) that `ours` added (in neither `base` nor
/// `edited`) is kept, after the one that precedes it in `ours`, because the edit never
/// saw it and so cannot have meant to remove it. A strip the edit renamed is a removal
/// and an addition, so remote changes to it are lost. Arrays that are not named tables
/// (EQ bands) merge element by element when all three have the same length, else the
/// edit's array is taken if it changed. If the merged session does not deserialize or
/// validate (e.g. a remote send to a bus the edit removed), `edited` is returned.
pub fn merge(base: &Session, edited: &Session, ours: &Session) -> Session {
    merge::merge(base, edited, ours)
}
