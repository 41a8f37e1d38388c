//! [`rewrite`](super::rewrite): the user's document walked together with the session's
//! plain serialization (`new`) and with the plain serialization of what the user's file
//! says now (`old`). `old` is what tells a default the user left out (absent in the
//! file, present in `old`) or wrote out (present in the file, absent in `old`) from a
//! real change, so neither kind of default is touched while it stays the default.

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, TableLike, Value};
use troubadour_engine::session::Session;

pub(super) fn rewrite(original: &str, session: &Session) -> String {
    // Serializing a Session cannot fail (every field is representable in TOML); if it
    // ever did, keeping the file as it is beats writing an empty one.
    let Ok(plain) = toml::to_string(session) else {
        return original.to_string();
    };
    let Ok(mut doc) = original.parse::<DocumentMut>() else {
        return plain;
    };
    let parsed = toml::from_str::<Session>(original).ok();
    if parsed.as_ref() == Some(session) {
        return original.to_string();
    }
    let Ok(new) = plain.parse::<DocumentMut>() else {
        return plain;
    };
    let old = parsed
        .and_then(|s| toml::to_string(&s).ok())
        .and_then(|t| t.parse::<DocumentMut>().ok());
    merge_item(
        doc.as_item_mut(),
        new.as_item(),
        old.as_ref().map(|d| d.as_item()),
    );
    let out = doc.to_string();
    // The walk is heuristic in places (renames, odd layouts); the file must never say
    // something else than the session, so anything that does not read back exactly
    // is replaced by the plain serialization.
    if toml::from_str::<Session>(&out).ok().as_ref() == Some(session) {
        out
    } else {
        plain
    }
}

/// Makes `user` say what `new` says, in `user`'s style. `old` is `user`'s meaning in
/// serialized form, when known.
fn merge_item(user: &mut Item, new: &Item, old: Option<&Item>) {
    if let (true, Some(new_t)) = (user.is_table_like(), new.as_table_like()) {
        let old_t = old.and_then(Item::as_table_like);
        match user {
            Item::Table(t) => merge_table(t, new_t, old_t),
            Item::Value(Value::InlineTable(t)) => merge_inline_table(t, new_t, old_t),
            _ => {}
        }
        return;
    }
    if let (true, Some(new_elems)) = (is_table_array(user), table_elems(new)) {
        let old_elems = old.and_then(table_elems);
        match user {
            Item::ArrayOfTables(a) => merge_aot(a, &new_elems, old_elems.as_deref()),
            Item::Value(Value::Array(a)) => merge_array(a, &new_elems, old_elems.as_deref()),
            _ => {}
        }
        return;
    }
    if item_eq(user, new) {
        return;
    }
    match user {
        Item::Value(v) => {
            // A changed value keeps its place's decor: the spaces around it and the
            // comment after it.
            let mut nv = fresh_value(new);
            *nv.decor_mut() = v.decor().clone();
            *v = nv;
        }
        _ => *user = fresh_item(new),
    }
}

fn merge_table(t: &mut Table, new: &dyn TableLike, old: Option<&dyn TableLike>) {
    let keys: Vec<String> = t.iter().map(|(k, _)| k.to_string()).collect();
    for k in keys {
        if new.get(&k).is_none() && !explicit_default(&k, old) {
            t.remove(&k);
        }
    }
    for (k, n) in new.iter() {
        let o = old.and_then(|o| o.get(k));
        match t.get_mut(k) {
            Some(u) => merge_item(u, n, o),
            None if implicit_default(n, o) => {}
            None => {
                t.insert(k, fresh_item(n));
            }
        }
    }
}

fn merge_inline_table(
    t: &mut toml_edit::InlineTable,
    new: &dyn TableLike,
    old: Option<&dyn TableLike>,
) {
    // The space before `}` belongs to the last value; it is set aside so that it
    // stays before `}` whichever value ends up last.
    let tail = t.iter_mut().last().and_then(|(_, v)| take_tail(v));
    let keys: Vec<String> = t.iter().map(|(k, _)| k.to_string()).collect();
    for k in keys {
        if new.get(&k).is_none() && !explicit_default(&k, old) {
            t.remove(&k);
        }
    }
    for (k, n) in new.iter() {
        let o = old.and_then(|o| o.get(k));
        match t.get_mut(k) {
            Some(slot) => merge_value_in_place(slot, n, o),
            None if implicit_default(n, o) => {}
            None => {
                t.insert(k, fresh_value(n));
            }
        }
    }
    if let (Some(tail), Some((_, v))) = (tail, t.iter_mut().last()) {
        v.decor_mut().set_suffix(tail);
    }
}

/// [`merge_item`] for a value held where only values go (inline tables, arrays).
fn merge_value_in_place(slot: &mut Value, new: &Item, old: Option<&Item>) {
    let mut item = Item::Value(std::mem::replace(slot, Value::from(false)));
    merge_item(&mut item, new, old);
    // merge_item keeps a value a value; the fallback is only for completeness.
    *slot = item.into_value().unwrap_or_else(|_| fresh_value(new));
}

/// The user wrote out a key that is, and was, at its default (`mute = false`).
fn explicit_default(key: &str, old: Option<&dyn TableLike>) -> bool {
    old.is_some_and(|o| o.get(key).is_none())
}

/// The user left out a key that serializes although at its default (`channels = 2`),
/// and it has not changed.
fn implicit_default(new: &Item, old: Option<&Item>) -> bool {
    old.is_some_and(|o| item_eq(o, new))
}

fn merge_aot(a: &mut ArrayOfTables, new: &[Item], old: Option<&[Item]>) {
    let users: Vec<Table> = a.iter().cloned().collect();
    let user_names: Vec<Option<&str>> = users.iter().map(|t| name_of(t)).collect();
    let pairs = match_elems(&user_names, &names(new));
    let old = old.filter(|o| o.len() == users.len());
    let mut out = ArrayOfTables::new();
    for (n, pair) in new.iter().zip(pairs) {
        let table = match pair {
            Some(j) => {
                let mut item = Item::Table(users[j].clone());
                merge_item(&mut item, n, old.map(|o| &o[j]));
                item.into_table().unwrap_or_else(|_| fresh_table(n))
            }
            None => {
                let mut t = fresh_table(n);
                if let Some(like) = users.first() {
                    style_like(&mut t, like);
                }
                t
            }
        };
        out.push(table);
    }
    fix_positions(&mut out);
    *a = out;
}

fn merge_array(a: &mut toml_edit::Array, new: &[Item], old: Option<&[Item]>) {
    let mut users: Vec<Value> = a.iter().cloned().collect();
    let tail = users.last_mut().and_then(take_tail);
    // A new element is laid out like the last one (same line or one per line), without
    // the comment that may precede it (which belongs to the element before).
    let prefix = users
        .last()
        .and_then(|v| v.decor().prefix())
        .and_then(|p| p.as_str())
        .map(|p| match p.rfind('\n') {
            Some(i) => p[i..].to_string(),
            None => " ".to_string(),
        });
    let user_names: Vec<Option<&str>> = users
        .iter()
        .map(|v| v.as_inline_table().and_then(|t| name_of(t)))
        .collect();
    let pairs = match_elems(&user_names, &names(new));
    let old = old.filter(|o| o.len() == users.len());
    let mut values = Vec::with_capacity(new.len());
    for (n, pair) in new.iter().zip(pairs) {
        let value = match pair {
            Some(j) => {
                let mut v = users[j].clone();
                merge_value_in_place(&mut v, n, old.map(|o| &o[j]));
                v
            }
            None => {
                let mut v = fresh_value(n);
                if let Some(p) = &prefix {
                    v.decor_mut().set_prefix(p.clone());
                }
                v
            }
        };
        values.push(value);
    }
    a.clear();
    for v in values {
        a.push_formatted(v);
    }
    if let (Some(tail), Some(v)) = (tail, a.iter_mut().last()) {
        v.decor_mut().set_suffix(tail);
    }
}

/// Takes a value's suffix when it is only spaces (the space before a closing `}` or
/// `]`), leaving it empty; a comment or newline is left where it is.
fn take_tail(v: &mut Value) -> Option<String> {
    let s = v.decor().suffix()?.as_str()?.to_string();
    if s.is_empty() || !s.chars().all(|c| c == ' ' || c == '\t') {
        return None;
    }
    v.decor_mut().set_suffix("");
    Some(s)
}

/// For each element of `new`, the index of the user's element it is: the one with the
/// same `name`, else (a rename, or nameless elements such as EQ bands) the one at the
/// same index if that one is not otherwise taken.
fn match_elems(user: &[Option<&str>], new: &[Option<&str>]) -> Vec<Option<usize>> {
    let mut used = vec![false; user.len()];
    let mut out = vec![None; new.len()];
    for (i, n) in new.iter().enumerate() {
        let Some(n) = n else { continue };
        if let Some(j) = (0..user.len()).find(|&j| !used[j] && user[j] == Some(*n)) {
            used[j] = true;
            out[i] = Some(j);
        }
    }
    for (i, slot) in out.iter_mut().enumerate() {
        if slot.is_none() && i < user.len() && !used[i] {
            used[i] = true;
            *slot = Some(i);
        }
    }
    out
}

/// What identifies an element of an array of tables: its `name` (strips, buses,
/// scenes, macros), else its `target` (MIDI mappings).
fn name_of(t: &dyn TableLike) -> Option<&str> {
    t.get("name").or_else(|| t.get("target"))?.as_str()
}

fn names(items: &[Item]) -> Vec<Option<&str>> {
    items
        .iter()
        .map(|i| i.as_table_like().and_then(name_of))
        .collect()
}

/// Whether the user's item is an array of tables, in either spelling (an empty inline
/// array counts: `eq = []`).
fn is_table_array(item: &Item) -> bool {
    match item {
        Item::ArrayOfTables(_) => true,
        Item::Value(Value::Array(a)) => a.iter().all(Value::is_inline_table),
        _ => false,
    }
}

/// The elements of an array of tables in either spelling, each as an item.
fn table_elems(item: &Item) -> Option<Vec<Item>> {
    match item {
        Item::ArrayOfTables(a) => Some(a.iter().cloned().map(Item::Table).collect()),
        Item::Value(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_inline_table) => {
            Some(a.iter().cloned().map(Item::Value).collect())
        }
        _ => None,
    }
}

/// An item of `new` to insert in a standard table.
fn fresh_item(new: &Item) -> Item {
    let mut item = new.clone();
    match &mut item {
        Item::Table(t) => clear_positions(t),
        Item::ArrayOfTables(a) => a.iter_mut().for_each(clear_positions),
        Item::Value(v) => v.decor_mut().clear(),
        Item::None => {}
    }
    item
}

/// An item of `new` to insert where only values go.
fn fresh_value(new: &Item) -> Value {
    let mut v = new
        .clone()
        .into_value()
        .unwrap_or_else(|_| Value::from(false));
    v.decor_mut().clear();
    v
}

/// An element of `new` to insert in an array of tables.
fn fresh_table(new: &Item) -> Table {
    let mut t = match new.clone() {
        Item::Table(t) => t,
        Item::Value(Value::InlineTable(t)) => t.into_table(),
        _ => Table::new(),
    };
    clear_positions(&mut t);
    t
}

/// A new strip written like the file's first one: what that one has as an inline
/// table or array (`sends = { .. }`, `eq = [ .. ]`) becomes one in the new strip too.
fn style_like(t: &mut Table, like: &Table) {
    let keys: Vec<String> = t.iter().map(|(k, _)| k.to_string()).collect();
    for k in keys {
        let inline = matches!(like.get(&k), Some(Item::Value(_)));
        if let (true, Some(item)) = (inline, t.get_mut(&k))
            && !item.is_value()
        {
            let v = fresh_value(item);
            *item = Item::Value(v);
            // The key was spelled for a table header; now it is `key = value`.
            if let Some(mut key) = t.key_mut(&k) {
                key.fmt();
            }
        }
    }
}

/// Positions from `new` mean nothing in the user's document; without one, a table is
/// written right after the one before it.
fn clear_positions(t: &mut Table) {
    t.set_position(None);
    for (_, item) in t.iter_mut() {
        match item {
            Item::Table(t) => clear_positions(t),
            Item::ArrayOfTables(a) => a.iter_mut().for_each(clear_positions),
            _ => {}
        }
    }
}

/// Tables are written in order of their position, so a reordered array of tables
/// would be written in its old order. When its tables' positions no longer follow its
/// new order, the same positions are handed out again in that order: the array's
/// place among the file's other tables (even interleaved ones) stays.
fn fix_positions(a: &mut ArrayOfTables) {
    let mut positions = Vec::new();
    for t in a.iter_mut() {
        visit_tables(t, &mut |t| positions.extend(t.position()));
    }
    if positions.is_sorted() {
        return;
    }
    positions.sort_unstable();
    let mut next = positions.into_iter();
    for t in a.iter_mut() {
        visit_tables(t, &mut |t| {
            if t.position().is_some() {
                t.set_position(next.next());
            }
        });
    }
}

/// Every table written with a header, in document order (as toml_edit lays them out).
fn visit_tables(t: &mut Table, f: &mut dyn FnMut(&mut Table)) {
    if !t.is_dotted() {
        f(t);
    }
    for (_, item) in t.iter_mut() {
        match item {
            Item::Table(t) => visit_tables(t, f),
            Item::ArrayOfTables(a) => a.iter_mut().for_each(|t| visit_tables(t, f)),
            _ => {}
        }
    }
}

/// Equal as TOML data, whatever the spelling (`1000` and `1000.0`, inline or not).
fn item_eq(a: &Item, b: &Item) -> bool {
    if let (Some(x), Some(y)) = (a.as_table_like(), b.as_table_like()) {
        return table_eq(x, y);
    }
    if let (Some(x), Some(y)) = (table_elems(a), table_elems(b)) {
        return x.len() == y.len() && x.iter().zip(&y).all(|(x, y)| item_eq(x, y));
    }
    match (a, b) {
        (Item::Value(x), Item::Value(y)) => value_eq(x, y),
        (Item::None, Item::None) => true,
        _ => false,
    }
}

fn table_eq(a: &dyn TableLike, b: &dyn TableLike) -> bool {
    a.iter().count() == b.iter().count()
        && a.iter()
            .all(|(k, x)| b.get(k).is_some_and(|y| item_eq(x, y)))
}

fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.value() == y.value(),
        (Value::Integer(x), Value::Integer(y)) => x.value() == y.value(),
        (Value::Float(x), Value::Float(y)) => float_eq(*x.value(), *y.value()),
        (Value::Integer(x), Value::Float(y)) | (Value::Float(y), Value::Integer(x)) => {
            float_eq(*x.value() as f64, *y.value())
        }
        (Value::Boolean(x), Value::Boolean(y)) => x.value() == y.value(),
        (Value::Datetime(x), Value::Datetime(y)) => x.value() == y.value(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(x, y)| value_eq(x, y))
        }
        (Value::InlineTable(x), Value::InlineTable(y)) => table_eq(x, y),
        _ => false,
    }
}

fn float_eq(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}
