//! Pretty JSON of large reports on every core, byte for byte what `serde_json::to_writer_pretty`
//! writes.
//!
//! What it is for: a report of 1,000,000 flows is over 500 MB of pretty JSON, and serializing it
//! on one core took longer than the replay itself. [`write_spliced`] writes a value whose large
//! top-level arrays were moved out (the "skeleton", serialized as usual) and puts each array back
//! in its place, serialized in chunks on all cores and written in order. The output is exactly
//! the single-threaded one: serde_json's pretty format depends only on the nesting depth, and a
//! raw newline never occurs inside a JSON string, so an element serialized alone and re-indented
//! is the same bytes as the element serialized in place (the tests check it against serde_json).
//!
//! The report's flow and NIC rows are appended by `vnetsim_engine::json::rows`, which writes
//! serde_json's bytes without serde's generic path (property-tested against serde_json).
//!
//! What it is not: a JSON serializer or a general splicer: it places arrays that are values of
//! the top-level object only.

use std::io::{self, Write};

#[cfg(test)]
use serde::Serialize;

/// Elements serialized per task: large enough to amortize a thread hand-off, small enough that
/// a batch in memory stays a few tens of MB.
const CHUNK: usize = 8192;

/// Writes one array's pretty JSON.
type ArrayWriter<'a> = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + 'a>;

/// One top-level array to put back: its key and a writer of its pretty JSON at depth 1.
pub struct Splice<'a> {
    /// The key in the top-level object, whose value in the skeleton is `[]`.
    pub key: &'static str,
    /// Writes the array (see [`write_array`]).
    pub write: ArrayWriter<'a>,
}

impl<'a> Splice<'a> {
    /// The array `items` under `key`, each element serialized by serde_json (the reference
    /// the tests hold the splicing to).
    #[cfg(test)]
    pub fn array<T: Serialize + Sync>(key: &'static str, items: &'a [T]) -> Self {
        Splice {
            key,
            write: Box::new(move |w| write_array(w, items)),
        }
    }

    /// The array `items` under `key`, each element appended by `element` exactly as serde_json
    /// would write it in place (see `vnetsim_engine::json::rows`).
    pub fn rows<T: Sync>(key: &'static str, items: &'a [T], element: fn(&mut Vec<u8>, &T)) -> Self {
        Splice {
            key,
            write: Box::new(move |w| {
                write_elements(w, items, &|buf, item| {
                    element(buf, item);
                    Ok(())
                })
            }),
        }
    }
}

/// Appends one element's pretty JSON two levels deep.
type Element<'f, T> = &'f (dyn Fn(&mut Vec<u8>, &T) -> io::Result<()> + Sync);

/// An element serialized by serde_json, two levels deep.
#[cfg(test)]
fn serialized<T: Serialize>(buf: &mut Vec<u8>, item: &T) -> io::Result<()> {
    let mut ser =
        serde_json::Serializer::with_formatter(&mut *buf, vnetsim_engine::json::PrettyAt::depth(2));
    Ok(item.serialize(&mut ser)?)
}

/// Writes `skeleton` (pretty JSON of an object whose spliced keys hold `[]`) with each splice's
/// array in place of its `[]`, then a newline. Fails with `InvalidData` when a key is not a
/// top-level key of the skeleton holding `[]`.
pub fn write_spliced(
    w: &mut dyn Write,
    skeleton: &str,
    splices: Vec<Splice<'_>>,
) -> io::Result<()> {
    // Each spliced key's position, so the arrays are written in the skeleton's order.
    let mut places = Vec::with_capacity(splices.len());
    for splice in splices {
        let needle = format!("\n  \"{}\": []", splice.key);
        let at = skeleton.find(&needle).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("`{}` is not an empty top-level array", splice.key),
            )
        })?;
        places.push((at + needle.len() - 2, splice));
    }
    places.sort_by_key(|(at, _)| *at);
    let mut from = 0;
    for (at, splice) in places {
        w.write_all(&skeleton.as_bytes()[from..at])?;
        (splice.write)(w)?;
        from = at + 2;
    }
    w.write_all(&skeleton.as_bytes()[from..])?;
    w.write_all(b"\n")
}

/// Writes `items` as serde_json's pretty formatter writes an array that is the value of a
/// top-level key (elements indented by four spaces, the closing bracket by two), serializing
/// chunks of elements on all cores and writing them in order.
#[cfg(test)]
pub fn write_array<T: Serialize + Sync>(w: &mut dyn Write, items: &[T]) -> io::Result<()> {
    write_elements(w, items, &serialized)
}

/// [`write_array`] with each element appended by `element`.
fn write_elements<T: Sync>(
    w: &mut dyn Write,
    items: &[T],
    element: Element<'_, T>,
) -> io::Result<()> {
    if items.is_empty() {
        return w.write_all(b"[]");
    }
    w.write_all(b"[")?;
    let workers = vnetsim_engine::worker_threads();
    let chunks: Vec<&[T]> = items.chunks(CHUNK).collect();
    if workers == 1 || chunks.len() == 1 {
        let mut buf = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            buf.clear();
            serialize_chunk(&mut buf, chunk, i == 0, element)?;
            w.write_all(&buf)?;
        }
    } else {
        write_chunks_in_parallel(w, &chunks, workers, element)?;
    }
    w.write_all(b"\n  ]")
}

/// Serializes `chunks` on `workers` threads while this one writes the finished ones in order:
/// the writing (often the slower part, into the page cache) overlaps the serializing. At most
/// a few chunks wait in memory: a worker blocks while the writer is behind.
fn write_chunks_in_parallel<T: Sync>(
    w: &mut dyn Write,
    chunks: &[&[T]],
    workers: usize,
    element: Element<'_, T>,
) -> io::Result<()> {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, mpsc};

    let next = AtomicUsize::new(0);
    // Buffers the writer is done with, reused so that a chunk's bytes land in memory already
    // mapped (a fresh buffer of a few MB costs a page fault per 4 KiB and its regrowths).
    let spare: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(usize, io::Result<Vec<u8>>)>(workers);
        for _ in 0..workers {
            let (tx, next, spare) = (tx.clone(), &next, &spare);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(i) else { break };
                    let mut buf = spare
                        .lock()
                        .ok()
                        .and_then(|mut s| s.pop())
                        .unwrap_or_default();
                    buf.clear();
                    let done = serialize_chunk(&mut buf, chunk, i == 0, element).map(|()| buf);
                    // The writer gone (it failed): stop.
                    if tx.send((i, done)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting = BTreeMap::new();
        let mut want = 0;
        let written = (|| {
            for (i, done) in &rx {
                waiting.insert(i, done);
                while let Some(done) = waiting.remove(&want) {
                    let done = done?;
                    w.write_all(&done)?;
                    if let Ok(mut s) = spare.lock() {
                        s.push(done);
                    }
                    want += 1;
                }
            }
            Ok(())
        })();
        // Dropping the receiver stops the workers before the scope waits for them.
        drop(rx);
        written
    })
}

/// The elements of `chunk`, each after `\n` (or `,\n` unless it opens the array) and four
/// spaces, as serde_json's pretty formatter writes them two levels deep.
fn serialize_chunk<T>(
    buf: &mut Vec<u8>,
    chunk: &[T],
    opens: bool,
    element: Element<'_, T>,
) -> io::Result<()> {
    for (i, item) in chunk.iter().enumerate() {
        buf.extend_from_slice(if opens && i == 0 {
            b"\n    "
        } else {
            b",\n    "
        });
        element(buf, item)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Clone, Debug, Serialize)]
    struct Item {
        name: String,
        n: u64,
        x: f64,
        tags: Vec<String>,
        map: BTreeMap<String, u64>,
        inner: Option<Box<Item>>,
    }

    #[derive(Debug, Serialize)]
    struct Doc {
        format: &'static str,
        items: Vec<Item>,
        middle: BTreeMap<String, Vec<u8>>,
        others: Vec<u32>,
        last: Option<String>,
    }

    fn spliced(doc: &mut Doc) -> Vec<u8> {
        let items = std::mem::take(&mut doc.items);
        let others = std::mem::take(&mut doc.others);
        let skeleton = serde_json::to_string_pretty(doc).unwrap();
        let mut out = Vec::new();
        write_spliced(
            &mut out,
            &skeleton,
            vec![
                Splice::array("others", &others),
                Splice::array("items", &items),
            ],
        )
        .unwrap();
        doc.items = items;
        doc.others = others;
        out
    }

    fn reference(doc: &Doc) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(doc).unwrap();
        v.push(b'\n');
        v
    }

    fn item() -> impl Strategy<Value = Item> {
        let leaf = (
            "[a-z\\n\"\\\\ ]{0,8}",
            any::<u64>(),
            -1e9f64..1e9,
            proptest::collection::vec("[a-z\\n]{0,4}", 0..3),
            proptest::collection::btree_map("[a-z]{1,3}", any::<u64>(), 0..3),
        )
            .prop_map(|(name, n, x, tags, map)| Item {
                name,
                n,
                x,
                tags,
                map,
                inner: None,
            });
        (leaf.clone(), proptest::option::of(leaf)).prop_map(|(mut a, b)| {
            a.inner = b.map(Box::new);
            a
        })
    }

    proptest! {
        #[test]
        fn spliced_output_is_serde_jsons_pretty_output(
            items in proptest::collection::vec(item(), 0..40),
            others in proptest::collection::vec(any::<u32>(), 0..5),
            last in proptest::option::of("[a-z\"]{0,5}"),
        ) {
            let mut doc = Doc {
                format: "test/1",
                items,
                middle: BTreeMap::from([("k".to_owned(), vec![1, 2])]),
                others,
                last,
            };
            prop_assert_eq!(spliced(&mut doc), reference(&doc));
        }
    }

    #[test]
    fn many_chunks_on_several_threads_keep_their_order() {
        let items: Vec<Item> = (0..(3 * CHUNK + 17) as u64)
            .map(|n| Item {
                name: format!("f-{n}"),
                n,
                x: n as f64 / 3.0,
                tags: vec![],
                map: BTreeMap::new(),
                inner: None,
            })
            .collect();
        let mut doc = Doc {
            format: "test/1",
            items,
            middle: BTreeMap::new(),
            others: vec![],
            last: None,
        };
        assert_eq!(spliced(&mut doc), reference(&doc));
    }

    #[test]
    fn a_key_that_is_not_an_empty_top_level_array_is_refused() {
        let mut out = Vec::new();
        let err = write_spliced(
            &mut out,
            "{\n  \"a\": [\n    1\n  ]\n}",
            vec![Splice::array::<u8>("a", &[])],
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
