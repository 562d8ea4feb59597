//! Pretty JSON written in place, as deep in a document as it goes.
//!
//! What it is for: the large arrays of a report (a run's flows, a sweep's runs) are serialized
//! element by element, on several threads, and spliced into the document; [`PrettyAt`] writes
//! each element exactly as serde_json's pretty printer writes it at its depth, with no second
//! pass to indent it. What it is not: a serializer (serde_json does the work) or a format of
//! its own: the output is serde_json's, byte for byte (tested here and by the callers).

use std::io::{self, Write};

pub mod rows;

/// serde_json's `PrettyFormatter` (two spaces per level) starting `depth` levels deep, so that
/// an element is written in place, indented as the whole document would indent it, with no
/// second pass over its bytes. Each method is `PrettyFormatter`'s; the tests hold the output
/// to serde_json's.
pub struct PrettyAt {
    depth: usize,
    has_value: bool,
}

impl PrettyAt {
    /// A formatter for a value `depth` levels deep (2: an element of an array that is the
    /// value of a top-level key).
    pub fn depth(depth: usize) -> Self {
        PrettyAt {
            depth,
            has_value: false,
        }
    }

    fn indent<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        const SPACES: &[u8] = b"                                                                ";
        let mut n = self.depth * 2;
        while n > 0 {
            let k = n.min(SPACES.len());
            w.write_all(&SPACES[..k])?;
            n -= k;
        }
        Ok(())
    }
}

impl PrettyAt {
    /// Opens an array or an object: one level deeper, nothing in it yet.
    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    /// Closes an array or an object, on a line of its own unless it is empty.
    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(bracket)
    }

    /// Starts an element or a key on a line of its own.
    fn item<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }
}

impl serde_json::ser::Formatter for PrettyAt {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.item(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Doc {
        top: Vec<Vec<Item>>,
    }

    #[derive(Clone, Debug, Serialize)]
    struct Item {
        name: String,
        n: u64,
        x: f64,
        list: Vec<u32>,
        map: BTreeMap<String, Option<u8>>,
    }

    proptest! {
        /// An element written two levels deep is the bytes serde_json's pretty printer writes
        /// for it inside the whole document.
        #[test]
        fn an_element_is_what_the_pretty_printer_writes_in_place(
            items in proptest::collection::vec(
                ("[a-z\\n\"]{0,6}", any::<u64>(), -1e6f64..1e6,
                 proptest::collection::vec(any::<u32>(), 0..3),
                 proptest::collection::btree_map("[a-z]{1,2}", proptest::option::of(any::<u8>()), 0..3)),
                1..6,
            ),
        ) {
            let items: Vec<Item> = items
                .into_iter()
                .map(|(name, n, x, list, map)| Item { name, n, x, list, map })
                .collect();
            let whole = serde_json::to_string_pretty(&Doc { top: vec![items.clone()] }).unwrap();
            let mut mine = b"{\n  \"top\": [\n    [".to_vec();
            for (i, item) in items.iter().enumerate() {
                mine.extend_from_slice(if i == 0 { b"\n      " } else { b",\n      " });
                let mut ser = serde_json::Serializer::with_formatter(&mut mine, PrettyAt::depth(3));
                item.serialize(&mut ser).unwrap();
            }
            mine.extend_from_slice(b"\n    ]\n  ]\n}");
            prop_assert_eq!(String::from_utf8(mine).unwrap(), whole);
        }
    }
}
