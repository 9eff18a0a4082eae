//! The counted B+tree behind `RankedSet`: an ordered set of unique keys that also answers
//! "how many keys precede this one" and "which key sits at position p", both in O(log n).
//!
//! Leaves are sorted arrays (the chunks) linked left to right, so reading a page is one
//! descent followed by a sequential walk. Each inner node keeps, per child, a lower-bound
//! separator and the number of keys below that child; a position is the sum of the counts
//! to the left of the path taken. Nodes live in two arenas addressed by index: that lets a
//! leaf point at its right neighbour without unsafe code, and lets freed nodes be reused.

use std::iter::FusedIterator;
use std::mem;

/// Size limits of one kind of node (leaf or inner), derived from its capacity.
///
/// `min` and `merge_max` leave a gap so that a node that was just split or merged needs
/// many further operations before it is restructured again (no split/merge ping-pong on
/// one key going back and forth).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Limits {
    /// Most entries a node holds between operations (it may hold one more transiently).
    cap: usize,
    /// Fewest entries a non-root node holds; below it the node borrows or merges.
    min: usize,
    /// Two siblings merge only if together they fit in this many entries.
    merge_max: usize,
    /// Entries per node in a bulk build (below `cap` so the first inserts don't split).
    fill: usize,
}

impl Limits {
    const fn new(cap: usize) -> Self {
        // Below 4 the min/merge/fill relations below cannot all hold.
        let cap = if cap < 4 { 4 } else { cap };
        let min = if cap * 3 / 8 < 2 { 2 } else { cap * 3 / 8 };
        // A redistribution happens only above `merge_max`, so each half gets at least
        // (merge_max + 1) / 2 >= min entries.
        let merge_max = if cap * 3 / 4 < 2 * min - 1 {
            2 * min - 1
        } else {
            cap * 3 / 4
        };
        // Evenly cut bulk nodes get at least fill / 2 >= min entries each.
        let fill = if cap * 7 / 8 < 2 * min {
            2 * min
        } else {
            cap * 7 / 8
        };
        let fill = if fill > cap { cap } else { fill };
        Limits {
            cap,
            min,
            merge_max,
            fill,
        }
    }
}

/// Node capacities of a tree. Production uses [`Shape::DEFAULT`]; tests use tiny nodes
/// so that a few dozen keys already exercise splits, merges and several levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Shape {
    leaf: Limits,
    inner: Limits,
}

impl Shape {
    /// 128 keys of 24 bytes per leaf, 64 children per inner node: four levels for 10
    /// million keys, and under 2 bytes per key of inner nodes and leaf headers. Measured
    /// against leaves of 32, 64 and 256 and fan-outs of 32 and 128: none was faster by more
    /// than the run-to-run noise (about 15%), and smaller leaves cost more memory and pages.
    pub(super) const DEFAULT: Shape = Shape::new(128, 64);

    pub(super) const fn new(leaf_cap: usize, inner_cap: usize) -> Self {
        Shape {
            leaf: Limits::new(leaf_cap),
            inner: Limits::new(inner_cap),
        }
    }

    fn limits(&self, height: usize) -> Limits {
        if height == 0 {
            self.leaf
        } else {
            self.inner
        }
    }
}

/// A leaf: a sorted run of keys and the index of the leaf to its right.
#[derive(Clone, Debug)]
struct Leaf<K> {
    keys: Vec<K>,
    next: Option<usize>,
}

/// One child of an inner node.
#[derive(Clone, Copy, Debug)]
struct Slot<K> {
    /// Lower bound of the child's keys, and above every key of the previous child. In the
    /// first slot of a node it is not consulted (the parent's separator bounds that child).
    sep: K,
    /// Number of keys in the child's subtree.
    count: usize,
    /// Index of the child in the leaf arena (height 1) or inner arena (height > 1).
    kid: usize,
}

/// What an insertion below a node did.
enum Insert<K> {
    /// The key was already there; nothing changed.
    Present,
    /// Inserted; the node did not split.
    Fitted,
    /// Inserted, and the node split: this slot describes the new right sibling.
    Split(Slot<K>),
}

/// Deepest tree whose paths `replace` records: default nodes never get there (it takes over
/// 10^26 keys), tiny test nodes past about two million; deeper trees take the recursive
/// route.
const MAX_PATH: usize = 20;

/// A root-to-leaf walk: the (inner node, child index) taken at each level, then the leaf.
struct Path {
    steps: [(usize, usize); MAX_PATH],
    len: usize,
    /// The node reached so far; the leaf once the walk is complete.
    leaf: usize,
}

impl Path {
    fn new(root: usize) -> Self {
        Path {
            steps: [(0, 0); MAX_PATH],
            len: 0,
            leaf: root,
        }
    }

    fn step(&mut self, level: usize, child: usize, kid: usize) {
        if let Some(slot) = self.steps.get_mut(level) {
            *slot = (self.leaf, child);
            self.len = level + 1;
        }
        self.leaf = kid;
    }

    fn steps(&self) -> &[(usize, usize)] {
        &self.steps[..self.len]
    }
}

/// An ordered set of unique keys with positional access. See the module doc.
#[derive(Clone, Debug)]
pub(super) struct CountedTree<K> {
    leaves: Vec<Leaf<K>>,
    inners: Vec<Vec<Slot<K>>>,
    free_leaves: Vec<usize>,
    free_inners: Vec<usize>,
    root: usize,
    /// Number of inner levels above the leaves (0: the root is a leaf).
    height: usize,
    len: usize,
    shape: Shape,
}

/// Index of the child of `slots` whose subtree would hold `key`.
fn child_index<K: Ord>(slots: &[Slot<K>], key: &K) -> usize {
    slots.get(1..).map_or(0, |rest| {
        let below = |s: &Slot<K>| s.sep <= *key;
        settle(rest, below, blocks_where(rest, below))
    })
}

/// Items per block in a node search (see [`search`]).
const STRIDE: usize = 8;

/// Where `key` is or would go in the strictly increasing `keys`, as `binary_search`.
///
/// A binary search over a cold node waits for one cache miss per step, each load depending
/// on the last. This tests every `STRIDE`-th item first: those loads are independent, so
/// their misses overlap; then one block of `STRIDE` neighbouring items settles the position.
fn search<K: Ord>(keys: &[K], key: &K) -> Result<usize, usize> {
    let below = |k: &K| k < key;
    found(keys, key, settle(keys, below, blocks_where(keys, below)))
}

/// Node search, first phase: how many whole `STRIDE`-item blocks satisfy `below`, which
/// must hold on a prefix of `items` (as for `partition_point`).
fn blocks_where<T>(items: &[T], below: impl Fn(&T) -> bool) -> usize {
    let samples = items.iter().skip(STRIDE - 1).step_by(STRIDE);
    samples.filter(|t| below(t)).count()
}

/// Node search, second phase: the length of the prefix satisfying `below`, given `blocks`.
fn settle<T>(items: &[T], below: impl Fn(&T) -> bool, blocks: usize) -> usize {
    let start = blocks * STRIDE;
    let block = items.get(start..items.len().min(start + STRIDE));
    start + block.map_or(0, |b| b.iter().filter(|t| below(t)).count())
}

/// `Ok(pos)` if `keys[pos]` is `key`, else `Err(pos)`: the result of a search.
fn found<K: Eq>(keys: &[K], key: &K, pos: usize) -> Result<usize, usize> {
    match keys.get(pos) {
        Some(k) if k == key => Ok(pos),
        _ => Err(pos),
    }
}

/// Debug check after an insertion at `pos`: the key there is between its neighbours.
fn sorted_around<K: Ord>(keys: &[K], pos: usize) -> bool {
    let window = keys.get(pos.saturating_sub(1)..keys.len().min(pos + 2));
    window.is_some_and(|w| w.windows(2).all(|p| p[0] < p[1]))
}

/// Cuts `items` into as few runs of at most `fill` as possible, of near-equal lengths.
fn even_runs<T>(items: &[T], fill: usize) -> impl Iterator<Item = &[T]> {
    let runs = items.len().div_ceil(fill.max(1)).max(1);
    let (base, extra) = (items.len() / runs, items.len() % runs);
    (0..runs).filter_map(move |j| {
        let start = j * base + j.min(extra);
        items.get(start..start + base + usize::from(j < extra))
    })
}

impl<K: Ord + Copy> CountedTree<K> {
    pub(super) fn new(shape: Shape) -> Self {
        CountedTree {
            // The root leaf's key buffer is allocated on first insert: empty sets are cheap.
            leaves: vec![Leaf {
                keys: Vec::new(),
                next: None,
            }],
            inners: Vec::new(),
            free_leaves: Vec::new(),
            free_inners: Vec::new(),
            root: 0,
            height: 0,
            len: 0,
            shape,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Builds a tree from strictly increasing keys in O(n), nodes filled to `fill`.
    pub(super) fn from_sorted(keys: &[K], shape: Shape) -> Self {
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys not sorted");
        let mut tree = Self::new(shape);
        if keys.is_empty() {
            return tree;
        }
        tree.leaves.clear();
        let mut level = Vec::new();
        for run in even_runs(keys, shape.leaf.fill) {
            let mut run_keys = Vec::with_capacity(shape.leaf.cap + 1);
            run_keys.extend_from_slice(run);
            let kid = tree.leaves.len();
            level.push(Slot {
                sep: run_keys[0],
                count: run_keys.len(),
                kid,
            });
            tree.leaves.push(Leaf {
                keys: run_keys,
                next: None,
            });
        }
        let count = tree.leaves.len();
        for (i, leaf) in tree.leaves.iter_mut().enumerate() {
            leaf.next = (i + 1 < count).then_some(i + 1);
        }
        while level.len() > 1 {
            level = tree.build_level(&level);
            tree.height += 1;
        }
        tree.root = level.first().map_or(0, |s| s.kid);
        tree.len = keys.len();
        tree
    }

    /// Groups one level's slots under new inner nodes; returns the slots of those nodes.
    fn build_level(&mut self, level: &[Slot<K>]) -> Vec<Slot<K>> {
        let mut up = Vec::new();
        for run in even_runs(level, self.shape.inner.fill) {
            let mut slots = Vec::with_capacity(self.shape.inner.cap + 1);
            slots.extend_from_slice(run);
            up.push(Slot {
                sep: slots[0].sep,
                count: slots.iter().map(|s| s.count).sum(),
                kid: self.inners.len(),
            });
            self.inners.push(slots);
        }
        up
    }

    fn alloc_leaf(&mut self, keys: Vec<K>, next: Option<usize>) -> usize {
        let leaf = Leaf { keys, next };
        match self.free_leaves.pop() {
            Some(id) => {
                self.leaves[id] = leaf;
                id
            }
            None => {
                self.leaves.push(leaf);
                self.leaves.len() - 1
            }
        }
    }

    fn alloc_inner(&mut self, slots: Vec<Slot<K>>) -> usize {
        match self.free_inners.pop() {
            Some(id) => {
                self.inners[id] = slots;
                id
            }
            None => {
                self.inners.push(slots);
                self.inners.len() - 1
            }
        }
    }

    fn free_leaf(&mut self, id: usize) {
        // Drop the buffer: memory follows the live key count, not the peak.
        self.leaves[id] = Leaf {
            keys: Vec::new(),
            next: None,
        };
        self.free_leaves.push(id);
    }

    fn free_inner(&mut self, id: usize) {
        self.inners[id] = Vec::new();
        self.free_inners.push(id);
    }

    fn node_len(&self, node: usize, height: usize) -> usize {
        if height == 0 {
            self.leaves[node].keys.len()
        } else {
            self.inners[node].len()
        }
    }

    /// Inserts `key`; returns false (and changes nothing) if it was already present.
    pub(super) fn insert(&mut self, key: K) -> bool {
        match self.insert_below(self.root, self.height, key) {
            Insert::Present => return false,
            Insert::Fitted => {}
            Insert::Split(right) => self.grow_root(right),
        }
        self.len += 1;
        debug_assert!(self.root_counts_agree(), "root counts != len after insert");
        true
    }

    fn insert_below(&mut self, node: usize, height: usize, key: K) -> Insert<K> {
        if height == 0 {
            return self.insert_into_leaf(node, key);
        }
        let i = child_index(&self.inners[node], &key);
        let kid = self.inners[node][i].kid;
        match self.insert_below(kid, height - 1, key) {
            Insert::Present => Insert::Present,
            Insert::Fitted => {
                self.inners[node][i].count += 1;
                Insert::Fitted
            }
            Insert::Split(right) => {
                let slots = &mut self.inners[node];
                // The child gained one key and then gave `right.count` to its new sibling.
                slots[i].count = slots[i].count + 1 - right.count;
                slots.insert(i + 1, right);
                if slots.len() > self.shape.inner.cap {
                    Insert::Split(self.split_inner(node))
                } else {
                    Insert::Fitted
                }
            }
        }
    }

    fn insert_into_leaf(&mut self, leaf: usize, key: K) -> Insert<K> {
        let cap = self.shape.leaf.cap;
        let keys = &mut self.leaves[leaf].keys;
        let Err(pos) = search(keys, &key) else {
            return Insert::Present;
        };
        if keys.capacity() <= cap {
            // Only the lazily allocated root leaf gets here; size it exactly once.
            keys.reserve_exact(cap + 1 - keys.len());
        }
        keys.insert(pos, key);
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]), "leaf unsorted");
        if keys.len() > cap {
            Insert::Split(self.split_leaf(leaf))
        } else {
            Insert::Fitted
        }
    }

    /// Moves the upper half of an overfull leaf into a new right neighbour.
    fn split_leaf(&mut self, leaf: usize) -> Slot<K> {
        let mut right_keys = Vec::with_capacity(self.shape.leaf.cap + 1);
        let left = &mut self.leaves[leaf];
        let mid = left.keys.len() / 2;
        right_keys.extend(left.keys.drain(mid..));
        let next = left.next;
        let (sep, count) = (right_keys[0], right_keys.len());
        let kid = self.alloc_leaf(right_keys, next);
        self.leaves[leaf].next = Some(kid);
        debug_assert!(self.leaves[leaf].keys.len() >= self.shape.leaf.min);
        Slot { sep, count, kid }
    }

    /// Moves the upper half of an overfull inner node into a new right sibling.
    fn split_inner(&mut self, node: usize) -> Slot<K> {
        let mut right = Vec::with_capacity(self.shape.inner.cap + 1);
        let left = &mut self.inners[node];
        let mid = left.len() / 2;
        right.extend(left.drain(mid..));
        let sep = right[0].sep;
        let count = right.iter().map(|s| s.count).sum();
        let kid = self.alloc_inner(right);
        Slot { sep, count, kid }
    }

    /// Puts a new root above the old one and its new right sibling.
    fn grow_root(&mut self, right: Slot<K>) {
        let mut slots = Vec::with_capacity(self.shape.inner.cap + 1);
        // `len` does not include the key being inserted yet, hence the + 1.
        let left_count = self.len + 1 - right.count;
        // The first slot's separator is never consulted; reuse `right.sep` as filler.
        slots.push(Slot {
            sep: right.sep,
            count: left_count,
            kid: self.root,
        });
        slots.push(right);
        self.root = self.alloc_inner(slots);
        self.height += 1;
    }

    /// Replaces `old` by `new`, like `remove(old)` then `insert(new)`; returns false (and
    /// changes nothing) if `old` is absent or `new` present.
    ///
    /// When neither leaf needs restructuring (nearly always), the two paths are walked in
    /// lockstep and the two leaves searched side by side, so that their cache misses
    /// overlap rather than queue; counts are then fixed along the recorded paths.
    pub(super) fn replace(&mut self, old: &K, new: K) -> bool {
        let Some((from, to)) = self.paths(old, &new) else {
            return self.replace_slowly(old, new);
        };
        let (a, b) = (from.leaf, to.leaf);
        let (ka, kb) = (&self.leaves[a].keys, &self.leaves[b].keys);
        let (below_a, below_b) = (|k: &K| k < old, |k: &K| *k < new);
        let (blocks_a, blocks_b) = (blocks_where(ka, below_a), blocks_where(kb, below_b));
        let pa = found(ka, old, settle(ka, below_a, blocks_a));
        let pb = found(kb, &new, settle(kb, below_b, blocks_b));
        let (Ok(pa), Err(pb)) = (pa, pb) else {
            return false;
        };
        if a == b {
            // Same leaf: its size and every count stay as they are.
            let keys = &mut self.leaves[a].keys;
            keys.remove(pa);
            keys.insert(if pb > pa { pb - 1 } else { pb }, new);
            debug_assert!(keys.windows(2).all(|w| w[0] < w[1]), "leaf unsorted");
            return true;
        }
        if ka.len() <= self.shape.leaf.min || kb.len() >= self.shape.leaf.cap {
            return self.replace_slowly(old, new);
        }
        self.leaves[a].keys.remove(pa);
        self.leaves[b].keys.insert(pb, new);
        debug_assert!(sorted_around(&self.leaves[b].keys, pb), "leaf unsorted");
        for (&(na, ia), &(nb, ib)) in from.steps().iter().zip(to.steps()) {
            self.inners[na][ia].count -= 1;
            self.inners[nb][ib].count += 1;
        }
        debug_assert!(self.root_counts_agree(), "root counts != len after replace");
        true
    }

    /// `replace` through the restructuring paths, for when a leaf would under- or overflow.
    fn replace_slowly(&mut self, old: &K, new: K) -> bool {
        if !self.remove(old) {
            return false;
        }
        if self.insert(new) {
            return true;
        }
        // `new` was already there: put `old` back, so the keys are as before.
        let restored = self.insert(*old);
        debug_assert!(restored, "could not restore the replaced key");
        false
    }

    /// The root-to-leaf paths of `a` and `b`, walked in lockstep; None if the tree is too
    /// tall for a [`Path`] (then the caller takes the recursive route).
    fn paths(&self, a: &K, b: &K) -> Option<(Path, Path)> {
        if self.height > MAX_PATH {
            return None;
        }
        let (mut pa, mut pb) = (Path::new(self.root), Path::new(self.root));
        for level in 0..self.height {
            let (sa, sb) = (&self.inners[pa.leaf], &self.inners[pb.leaf]);
            let (ia, ib) = (child_index(sa, a), child_index(sb, b));
            pa.step(level, ia, sa[ia].kid);
            pb.step(level, ib, sb[ib].kid);
        }
        Some((pa, pb))
    }

    /// Removes `key`; returns false (and changes nothing) if it was absent.
    pub(super) fn remove(&mut self, key: &K) -> bool {
        if !self.remove_below(self.root, self.height, key) {
            return false;
        }
        self.len -= 1;
        // A root left with a single child is redundant: the child becomes the root.
        while self.height > 0 && self.inners[self.root].len() == 1 {
            let old = self.root;
            self.root = self.inners[old][0].kid;
            self.height -= 1;
            self.free_inner(old);
        }
        debug_assert!(self.root_counts_agree(), "root counts != len after remove");
        true
    }

    fn remove_below(&mut self, node: usize, height: usize, key: &K) -> bool {
        if height == 0 {
            let keys = &mut self.leaves[node].keys;
            let Ok(pos) = search(keys, key) else {
                return false;
            };
            keys.remove(pos);
            return true;
        }
        let i = child_index(&self.inners[node], key);
        let kid = self.inners[node][i].kid;
        if !self.remove_below(kid, height - 1, key) {
            return false;
        }
        self.inners[node][i].count -= 1;
        if self.node_len(kid, height - 1) < self.shape.limits(height - 1).min {
            self.rebalance(node, i, height - 1);
        }
        true
    }

    /// Fixes the underfull child `i` of `parent` by merging it with, or borrowing from, a
    /// sibling.
    fn rebalance(&mut self, parent: usize, i: usize, child_height: usize) {
        let n = self.inners[parent].len();
        if n < 2 {
            // Only a root can have a single child, and `remove` collapses it.
            return;
        }
        let left = if i + 1 < n { i } else { i - 1 };
        if child_height == 0 {
            self.rebalance_leaves(parent, left);
        } else {
            self.rebalance_inners(parent, left);
        }
        debug_assert!(self.parent_counts_agree(parent, child_height));
    }

    /// Merges or evens out the leaves under slots `li` and `li + 1` of `parent`.
    fn rebalance_leaves(&mut self, parent: usize, li: usize) {
        let (l, r) = (self.inners[parent][li].kid, self.inners[parent][li + 1].kid);
        let mut lk = mem::take(&mut self.leaves[l].keys);
        let mut rk = mem::take(&mut self.leaves[r].keys);
        if lk.len() + rk.len() <= self.shape.leaf.merge_max {
            lk.append(&mut rk);
            self.leaves[l].keys = lk;
            self.leaves[l].next = self.leaves[r].next;
            self.free_leaf(r);
            let removed = self.inners[parent].remove(li + 1);
            self.inners[parent][li].count += removed.count;
            return;
        }
        let target = (lk.len() + rk.len()) / 2;
        if lk.len() < target {
            lk.extend(rk.drain(..target - lk.len()));
        } else {
            rk.splice(0..0, lk.drain(target..));
        }
        let slots = &mut self.inners[parent];
        slots[li].count = lk.len();
        slots[li + 1] = Slot {
            sep: rk[0],
            count: rk.len(),
            kid: r,
        };
        self.leaves[l].keys = lk;
        self.leaves[r].keys = rk;
    }

    /// Merges or evens out the inner nodes under slots `li` and `li + 1` of `parent`.
    fn rebalance_inners(&mut self, parent: usize, li: usize) {
        let (l, r) = (self.inners[parent][li].kid, self.inners[parent][li + 1].kid);
        let mut ls = mem::take(&mut self.inners[l]);
        let mut rs = mem::take(&mut self.inners[r]);
        // The right node's first child may move into the left node, where its separator is
        // consulted: give it the real bound, which the parent holds.
        if let Some(first) = rs.first_mut() {
            first.sep = self.inners[parent][li + 1].sep;
        }
        if ls.len() + rs.len() <= self.shape.inner.merge_max {
            ls.append(&mut rs);
            self.inners[l] = ls;
            self.free_inner(r);
            let removed = self.inners[parent].remove(li + 1);
            self.inners[parent][li].count += removed.count;
            return;
        }
        let target = (ls.len() + rs.len()) / 2;
        if ls.len() < target {
            ls.extend(rs.drain(..target - ls.len()));
        } else {
            rs.splice(0..0, ls.drain(target..));
        }
        let slots = &mut self.inners[parent];
        slots[li].count = ls.iter().map(|s| s.count).sum();
        slots[li + 1] = Slot {
            sep: rs[0].sep,
            count: rs.iter().map(|s| s.count).sum(),
            kid: r,
        };
        self.inners[l] = ls;
        self.inners[r] = rs;
    }

    /// Debug check after an update: the root's counts add up to `len`.
    fn root_counts_agree(&self) -> bool {
        self.height == 0
            || self.inners[self.root]
                .iter()
                .map(|s| s.count)
                .sum::<usize>()
                == self.len
    }

    /// Debug check after a restructuring: `parent`'s counts match its children's sizes.
    fn parent_counts_agree(&self, parent: usize, child_height: usize) -> bool {
        self.inners[parent].iter().all(|s| {
            let size = if child_height == 0 {
                self.leaves[s.kid].keys.len()
            } else {
                self.inners[s.kid].iter().map(|c| c.count).sum()
            };
            size == s.count
        })
    }

    /// Zero-based position of `key`, or None if absent.
    pub(super) fn position(&self, key: &K) -> Option<usize> {
        let mut node = self.root;
        let mut before = 0;
        for _ in 0..self.height {
            let slots = &self.inners[node];
            let i = child_index(slots, key);
            before += slots[..i].iter().map(|s| s.count).sum::<usize>();
            node = slots[i].kid;
        }
        let pos = search(&self.leaves[node].keys, key).ok()?;
        Some(before + pos)
    }

    /// Keys in order, starting at zero-based position `pos` (empty if past the end).
    pub(super) fn iter_from(&self, pos: usize) -> Iter<'_, K> {
        let empty = Iter {
            tree: self,
            leaf: None,
            idx: 0,
            remaining: 0,
        };
        if pos >= self.len {
            return empty;
        }
        let (mut node, mut rest) = (self.root, pos);
        for _ in 0..self.height {
            let mut child = None;
            for s in &self.inners[node] {
                if rest < s.count {
                    child = Some(s.kid);
                    break;
                }
                rest -= s.count;
            }
            let Some(kid) = child else {
                return empty;
            };
            node = kid;
        }
        Iter {
            tree: self,
            leaf: Some(node),
            idx: rest,
            remaining: self.len - pos,
        }
    }
}

/// In-order iterator over a tree's keys: walks the leaf chain.
pub(super) struct Iter<'a, K> {
    tree: &'a CountedTree<K>,
    leaf: Option<usize>,
    idx: usize,
    remaining: usize,
}

impl<K: Copy> Iterator for Iter<'_, K> {
    type Item = K;

    fn next(&mut self) -> Option<K> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            let leaf = &self.tree.leaves[self.leaf?];
            if let Some(key) = leaf.keys.get(self.idx) {
                self.idx += 1;
                self.remaining -= 1;
                return Some(*key);
            }
            self.leaf = leaf.next;
            self.idx = 0;
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K: Copy> ExactSizeIterator for Iter<'_, K> {}
impl<K: Copy> FusedIterator for Iter<'_, K> {}

#[cfg(any(test, debug_assertions))]
impl<K: Ord + Copy + std::fmt::Debug> CountedTree<K> {
    /// O(n) structural check: every node within its limits and bounds, counts equal to
    /// subtree sizes, leaves chained in order, arenas fully accounted for. Panics on a
    /// violation (tests and debug builds only).
    pub(super) fn check_invariants(&self) {
        let mut leaves = Vec::new();
        let mut inners = 0;
        let total = self.check_node(
            self.root,
            self.height,
            (None, None),
            &mut leaves,
            &mut inners,
        );
        assert_eq!(total, self.len, "root count != len");
        assert_eq!(
            leaves.len() + self.free_leaves.len(),
            self.leaves.len(),
            "leaf leak"
        );
        assert_eq!(
            inners + self.free_inners.len(),
            self.inners.len(),
            "inner leak"
        );
        let mut chain = Vec::new();
        let mut at = leaves.first().copied();
        while let Some(id) = at {
            assert!(chain.len() < leaves.len(), "leaf chain too long or cyclic");
            chain.push(id);
            at = self.leaves[id].next;
        }
        assert_eq!(chain, leaves, "leaf chain != in-order leaves");
        let keys: Vec<K> = self.iter_from(0).collect();
        assert_eq!(keys.len(), self.len, "iteration length != len");
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys not increasing");
    }

    /// Checks the subtree at `node` against `lo <= key < hi`; returns its key count.
    fn check_node(
        &self,
        node: usize,
        height: usize,
        (lo, hi): (Option<&K>, Option<&K>),
        leaves: &mut Vec<usize>,
        inners: &mut usize,
    ) -> usize {
        let is_root = node == self.root && height == self.height;
        let limits = self.shape.limits(height);
        let len = self.node_len(node, height);
        assert!(len <= limits.cap, "node over capacity: {len}");
        assert!(
            is_root || len >= limits.min,
            "non-root node underfull: {len}"
        );
        let in_bounds = |k: &K| lo.is_none_or(|l| l <= k) && hi.is_none_or(|h| k < h);
        if height == 0 {
            let keys = &self.leaves[node].keys;
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "leaf unsorted");
            assert!(keys.iter().all(in_bounds), "leaf key outside separators");
            leaves.push(node);
            return len;
        }
        assert!(!is_root || len >= 2, "inner root with one child");
        *inners += 1;
        let slots = &self.inners[node];
        let mut total = 0;
        for (j, slot) in slots.iter().enumerate() {
            let child_lo = if j == 0 { lo } else { Some(&slot.sep) };
            if j > 0 {
                assert!(in_bounds(&slot.sep), "separator outside parent bounds");
            }
            let child_hi = slots.get(j + 1).map_or(hi, |s| Some(&s.sep));
            let got = self.check_node(slot.kid, height - 1, (child_lo, child_hi), leaves, inners);
            assert_eq!(got, slot.count, "slot count != subtree size");
            total += got;
        }
        total
    }
}
