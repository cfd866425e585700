//! Metric children resolved once per label pair and kept, so the per-event path
//! neither hashes label values through the registry nor copies them into a key.

use std::collections::HashMap;

use compact_str::CompactString;

/// Children of a two-label metric, looked up by borrowed label values: a miss
/// copies the labels once, a hit copies nothing.
#[derive(Debug)]
pub struct Children<C> {
    by_first:
        HashMap<CompactString, HashMap<CompactString, C, ahash::RandomState>, ahash::RandomState>,
}

impl<C> Default for Children<C> {
    fn default() -> Self {
        Children {
            by_first: HashMap::default(),
        }
    }
}

impl<C> Children<C> {
    /// The child for (`first`, `second`), made by `make` the first time.
    pub fn get(&mut self, first: &str, second: &str, make: impl FnOnce() -> C) -> &C {
        if !self.by_first.contains_key(first) {
            self.by_first.insert(first.into(), HashMap::default());
        }
        let inner = self.by_first.get_mut(first).expect("just inserted");
        if !inner.contains_key(second) {
            inner.insert(second.into(), make());
        }
        inner.get(second).expect("just inserted")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_each_child_once() {
        let mut made = 0;
        let mut c = Children::default();
        for (a, b) in [("x", "1"), ("x", "1"), ("x", "2"), ("y", "1")] {
            c.get(a, b, || {
                made += 1;
                format!("{a}{b}")
            });
        }
        assert_eq!(made, 3);
        assert_eq!(c.get("x", "2", || unreachable!()), "x2");
    }
}
