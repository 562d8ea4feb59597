//! Filling a vector on all cores: the pattern of every per-flow phase of a large run.
//!
//! What it is for: expanding a million `pairs` flows, building the engine's flow sources and the
//! report's rows are each `n` independent items made in order. [`extend_in_parallel`] makes
//! them on several threads, each writing a contiguous run in place in the one vector (no copy
//! when the threads join), with the same result as one thread. What it is not: a thread pool or
//! a scheduler (runs are cut once, in equal parts); results never depend on the thread count.

use std::mem::MaybeUninit;

/// Appends `make(scratch, i)` for every `i` in `0..n` to `out`, in order, on `workers` threads
/// (the calling one included): each makes a contiguous run of `i` with a scratch value of its
/// own. One worker, or `n` of 0, makes them on the calling thread. A panic in `make` is resumed
/// on the calling thread; the items made so far are then leaked, never read.
pub fn extend_in_parallel<T, S, F>(out: &mut Vec<T>, n: usize, workers: usize, make: F)
where
    T: Send,
    S: Default,
    F: Fn(&mut S, usize) -> T + Sync,
{
    let first = out.len();
    out.reserve(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    let build = |at: usize, into: &mut [MaybeUninit<T>]| {
        let mut scratch = S::default();
        for (k, slot) in into.iter_mut().enumerate() {
            slot.write(make(&mut scratch, at + k));
        }
    };
    if workers <= 1 || n <= 1 {
        build(0, spare);
    } else {
        let per = n.div_ceil(workers);
        std::thread::scope(|scope| {
            let mut parts = spare.chunks_mut(per).enumerate();
            let mine = parts.next();
            let build = &build;
            let handles: Vec<_> = parts
                .map(|(c, into)| scope.spawn(move || build(c * per, into)))
                .collect();
            if let Some((_, into)) = mine {
                build(0, into);
            }
            for h in handles {
                h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            }
        });
    }
    // SAFETY: the `n` slots after `first` were each written above: `spare` has `n` elements,
    // cut into chunks that together cover it, and every chunk's build wrote each element of its
    // chunk (a thread that panicked has resumed its panic before this line, so this line is
    // not reached and the items written so far are leaked, never read).
    unsafe { out.set_len(first + n) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any number of items on any number of threads, after items already there: what one
        /// thread makes, each item made once from its own index.
        #[test]
        fn the_items_are_those_one_thread_makes(
            before in 0usize..5, n in 0usize..3000, workers in 1usize..6,
        ) {
            let make = |calls: &mut usize, i: usize| {
                *calls += 1;
                format!("item {i}")
            };
            let mut one: Vec<String> = (0..before).map(|i| format!("old {i}")).collect();
            let mut many = one.clone();
            extend_in_parallel(&mut one, n, 1, make);
            extend_in_parallel(&mut many, n, workers, make);
            prop_assert_eq!(&one, &many);
            prop_assert_eq!(many.len(), before + n);
            prop_assert_eq!(many.get(before).cloned(), (n > 0).then(|| "item 0".to_owned()));
        }
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| {
            let mut out: Vec<u64> = Vec::new();
            extend_in_parallel(&mut out, 100, 3, |_: &mut (), i| {
                assert!(i != 90, "item 90 refused");
                i as u64
            });
        });
        assert!(caught.is_err());
    }
}
