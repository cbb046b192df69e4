//! The items of a list whose key no later item repeats: the last value of a
//! key wins (as OpenTelemetry's attribute maps keep it), and a JSON object
//! must not name a key twice.
//!
//! Each item used to be compared with every item after it. That is the
//! cheapest way for the few attributes a span usually has, but its square
//! for many: a C host may hand over a span, log or event with any number of
//! attributes, and a log with 20,000 held the writer (and every batch behind
//! it) for 3.6 s in a debug build, ten times 20,000 a hundred times longer.
//! Past a few dozen items, the last of each key is found in one pass through
//! a set instead.

use std::collections::HashSet;

/// Up to this many items are compared pairwise (at most 496 comparisons of
/// keys, most of which differ in length at once).
const PAIRWISE: usize = 32;

/// The items of `items` that are the last of their `key`, in order.
pub(super) fn last_of_each_key<T>(
    items: &[T],
    key: impl Fn(&T) -> &str,
) -> impl Iterator<Item = &T> {
    let last = (items.len() > PAIRWISE).then(|| {
        let mut seen = HashSet::with_capacity(items.len());
        let mut last = vec![false; items.len()];
        for (i, item) in items.iter().enumerate().rev() {
            last[i] = seen.insert(key(item));
        }
        last
    });
    items.iter().enumerate().filter_map(move |(i, item)| {
        let is_last = match &last {
            Some(last) => last[i],
            None => {
                let k = key(item);
                !items[i + 1..].iter().any(|o| key(o) == k)
            }
        };
        is_last.then_some(item)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways give the last of each key, in order, whatever the repeats.
    #[test]
    fn the_last_of_each_key_is_kept_in_order() {
        let mut rng = fastrand::Rng::with_seed(7);
        for len in [0, 1, 2, 5, PAIRWISE, PAIRWISE + 1, 100, 1_000] {
            for kinds in [1, 3, len.max(1)] {
                let items: Vec<(String, usize)> = (0..len)
                    .map(|i| (format!("k{}", rng.usize(..kinds)), i))
                    .collect();
                let expected: Vec<usize> = (0..len)
                    .filter(|&i| !items[i + 1..].iter().any(|o| o.0 == items[i].0))
                    .collect();
                let kept: Vec<usize> = last_of_each_key(&items, |(k, _)| k.as_str())
                    .map(|&(_, i)| i)
                    .collect();
                assert_eq!(kept, expected, "{len} items, {kinds} keys");
            }
        }
    }

    /// Many items take one pass: 200,000 distinct keys would be 2e10
    /// comparisons pairwise.
    #[test]
    fn many_items_are_sorted_out_in_one_pass() {
        let items: Vec<String> = (0..200_000).map(|i| format!("key-{i}")).collect();
        assert_eq!(last_of_each_key(&items, |k| k.as_str()).count(), 200_000);
    }
}
