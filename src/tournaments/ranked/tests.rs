//! Tests of the ranked set: the tie rule by hand, and property tests against a naive model
//! (a `Vec` kept sorted by the tie rule), with small nodes so that a few dozen players
//! already build deep trees, and with production nodes.

use super::*;
use proptest::prelude::*;
use std::cmp::Reverse;

/// The naive model: every entry, sorted by the tie rule.
#[derive(Default)]
struct Model {
    rows: Vec<Entry>,
}

impl Model {
    fn upsert(&mut self, player: PlayerKey, score: Score, seq: u64) -> Option<Entry> {
        let previous = self.remove(player);
        self.rows.push(Entry { player, score, seq });
        self.rows
            .sort_by_key(|e| (Reverse(e.score), e.seq, e.player));
        previous
    }

    fn remove(&mut self, player: PlayerKey) -> Option<Entry> {
        let at = self.rows.iter().position(|e| e.player == player)?;
        Some(self.rows.remove(at))
    }

    fn get(&self, player: PlayerKey) -> Option<Entry> {
        self.rows.iter().copied().find(|e| e.player == player)
    }

    fn rank(&self, player: PlayerKey) -> Option<u64> {
        let at = self.rows.iter().position(|e| e.player == player)?;
        Some(at as u64 + 1)
    }

    fn ranked(&self) -> impl Iterator<Item = (usize, Ranked)> + '_ {
        self.rows.iter().enumerate().map(|(i, &entry)| {
            let rank = i as u64 + 1;
            (i, Ranked { rank, entry })
        })
    }

    fn page(&self, offset: usize, limit: usize) -> Vec<Ranked> {
        self.ranked()
            .skip(offset)
            .take(limit)
            .map(|(_, r)| r)
            .collect()
    }

    fn around(&self, player: PlayerKey, before: usize, after: usize) -> Vec<Ranked> {
        let Some(at) = self.rows.iter().position(|e| e.player == player) else {
            return Vec::new();
        };
        let (lo, hi) = (at.saturating_sub(before), at.saturating_add(after));
        self.ranked()
            .filter(|(i, _)| lo <= *i && *i <= hi)
            .map(|(_, r)| r)
            .collect()
    }
}

/// Tiny nodes: 4 keys per leaf, 4 children per inner node.
const TINY: Shape = Shape::new(4, 4);

/// Small node shapes: tiny ones for depth, and some over 8 entries wide so that both phases
/// of the sampled node search run.
fn small_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(TINY),
        Just(Shape::new(4, 18)),
        Just(Shape::new(18, 4)),
        Just(Shape::new(11, 9)),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Upsert(PlayerKey, Score, u64),
    Remove(PlayerKey),
}

/// Arguments of the queries run after a step.
#[derive(Clone, Debug)]
struct Probe {
    offset: usize,
    limit: usize,
    player: PlayerKey,
    before: usize,
    after: usize,
}

/// Players probed after every step: the small ids the ops use plus the extremes.
fn universe() -> impl Iterator<Item = PlayerKey> {
    (0..50).chain([u64::MAX - 1, u64::MAX])
}

fn player() -> impl Strategy<Value = PlayerKey> {
    prop_oneof![8 => 0u64..48, 1 => Just(u64::MAX), 1 => Just(u64::MAX - 1)]
}

fn score() -> impl Strategy<Value = Score> {
    prop_oneof![
        4 => -3i64..=3,
        2 => any::<i64>(),
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN + 1),
        1 => Just(i64::MAX - 1),
    ]
}

fn seq() -> impl Strategy<Value = u64> {
    prop_oneof![4 => 0u64..4, 1 => any::<u64>(), 1 => Just(u64::MAX)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (player(), score(), seq()).prop_map(|(p, s, q)| Op::Upsert(p, s, q)),
        1 => player().prop_map(Op::Remove),
    ]
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0usize..8, 2 => 0usize..70, 1 => Just(usize::MAX)]
}

fn probe() -> impl Strategy<Value = Probe> {
    (size(), size(), player(), size(), size()).prop_map(|(offset, limit, player, before, after)| {
        Probe {
            offset,
            limit,
            player,
            before,
            after,
        }
    })
}

fn initial() -> impl Strategy<Value = Vec<Entry>> {
    proptest::collection::vec((player(), score(), seq()), 0..60).prop_map(|rows| {
        let mut seen = std::collections::HashSet::new();
        rows.into_iter()
            .filter(|(p, _, _)| seen.insert(*p))
            .map(|(player, score, seq)| Entry { player, score, seq })
            .collect()
    })
}

/// Every query of `set` agrees with `model`, and the set's invariants hold.
fn agrees(set: &RankedSet, model: &Model, probe: &Probe) -> Result<(), TestCaseError> {
    set.check_invariants();
    prop_assert_eq!(set.len(), model.rows.len());
    prop_assert_eq!(set.is_empty(), model.rows.is_empty());
    for p in universe() {
        prop_assert_eq!(set.get(p), model.get(p), "get {}", p);
        prop_assert_eq!(set.rank(p), model.rank(p), "rank {}", p);
    }
    let Probe {
        offset,
        limit,
        player,
        before,
        after,
    } = *probe;
    prop_assert_eq!(set.page(offset, limit), model.page(offset, limit));
    prop_assert_eq!(set.page(offset, 0), Vec::new());
    prop_assert_eq!(
        set.around(player, before, after),
        model.around(player, before, after)
    );
    prop_assert_eq!(set.iter().collect::<Vec<_>>(), model.page(0, usize::MAX));
    prop_assert_eq!(set.entries(), model.rows.clone());
    Ok(())
}

/// Applies `op` to both and checks that they report the same previous entry.
fn apply(set: &mut RankedSet, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    match *op {
        Op::Upsert(p, s, q) => prop_assert_eq!(set.upsert(p, s, q), model.upsert(p, s, q)),
        Op::Remove(p) => prop_assert_eq!(set.remove(p), model.remove(p)),
    }
    Ok(())
}

fn round_trip(set: &RankedSet) -> Result<(), TestCaseError> {
    let bytes = postcard::to_allocvec(set).unwrap();
    let back: RankedSet = postcard::from_bytes(&bytes).unwrap();
    back.check_invariants();
    prop_assert_eq!(&back, set);
    prop_assert_eq!(back.entries(), set.entries());
    Ok(())
}

fn run(shape: Shape, start: Vec<Entry>, steps: &[(Op, Probe)]) -> Result<(), TestCaseError> {
    let mut set = RankedSet::from_entries_shaped(start.iter().copied(), shape).unwrap();
    let mut model = Model::default();
    for e in &start {
        model.upsert(e.player, e.score, e.seq);
    }
    for (op, probe) in steps {
        apply(&mut set, &mut model, op)?;
        agrees(&set, &model, probe)?;
    }
    round_trip(&set)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn small_nodes_agree_with_model(
        shape in small_shape(),
        start in initial(),
        steps in proptest::collection::vec((op(), probe()), 0..250),
    ) {
        run(shape, start, &steps)?;
    }

    #[test]
    fn default_nodes_agree_with_model(
        start in initial(),
        steps in proptest::collection::vec((op(), probe()), 0..100),
    ) {
        run(Shape::DEFAULT, start, &steps)?;
    }

    #[test]
    fn tiny_nodes_grow_and_shrink(
        count in 0usize..200,
        order in proptest::collection::vec(any::<u16>(), 0..200),
    ) {
        // Fill to a deep tree, then empty it in a random order: exercises every split,
        // merge and redistribution, then root collapse down to an empty leaf.
        let mut set = RankedSet::with_shape(TINY);
        let mut model = Model::default();
        let probe = Probe { offset: 3, limit: 5, player: 7, before: 2, after: 2 };
        for p in 0..count as u64 {
            let score = (p * 7919 % 13) as i64 - 6;
            apply(&mut set, &mut model, &Op::Upsert(p, score, p % 3))?;
        }
        agrees(&set, &model, &probe)?;
        let mut players: Vec<u64> = (0..count as u64).collect();
        let n = players.len();
        if n > 0 {
            for (i, r) in order.iter().enumerate() {
                players.swap(i % n, usize::from(*r) % n);
            }
        }
        for p in players {
            apply(&mut set, &mut model, &Op::Remove(p))?;
            set.check_invariants();
        }
        agrees(&set, &model, &probe)?;
    }

    #[test]
    fn snapshot_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        // Any outcome but a panic: garbage is an error, valid entries a set.
        if let Ok(set) = postcard::from_bytes::<RankedSet>(&bytes) {
            set.check_invariants();
        }
    }
}

/// Production nodes with thousands of players: several levels, many splits and merges.
#[test]
fn default_nodes_at_scale() {
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut set = RankedSet::new();
    let mut model = Model::default();
    for step in 0..60_000u64 {
        let r = next();
        let player = r % 9_000;
        if r % 11 == 0 {
            assert_eq!(set.remove(player), model.remove(player));
        } else {
            let score = (next() % 2_000) as i64 - 1_000;
            assert_eq!(
                set.upsert(player, score, step),
                model.upsert(player, score, step)
            );
        }
        if step % 5_000 == 0 {
            set.check_invariants();
        }
    }
    set.check_invariants();
    assert_eq!(set.entries(), model.rows);
    for p in 0..9_000 {
        assert_eq!(set.rank(p), model.rank(p));
    }
    for offset in (0..set.len() + 200).step_by(97) {
        assert_eq!(set.page(offset, 100), model.page(offset, 100));
    }
    let rebuilt = RankedSet::from_entries(set.entries().into_iter().rev()).unwrap();
    rebuilt.check_invariants();
    assert_eq!(rebuilt, set);
}

fn entry(player: PlayerKey, score: Score, seq: u64) -> Entry {
    Entry { player, score, seq }
}

fn players_in_order(set: &RankedSet) -> Vec<PlayerKey> {
    set.iter().map(|r| r.entry.player).collect()
}

#[test]
fn higher_score_ranks_first() {
    let mut set = RankedSet::new();
    set.upsert(1, 10, 0);
    set.upsert(2, 30, 5);
    set.upsert(3, 20, 1);
    assert_eq!(players_in_order(&set), [2, 3, 1]);
    assert_eq!(set.rank(2), Some(1));
    assert_eq!(set.rank(1), Some(3));
}

#[test]
fn equal_scores_rank_by_seq_then_player() {
    let mut set = RankedSet::new();
    set.upsert(9, 100, 2); // reached 100 last
    set.upsert(5, 100, 0); // reached 100 first
    set.upsert(7, 100, 1);
    set.upsert(3, 100, 1); // same score and seq as 7: lower id first
    assert_eq!(players_in_order(&set), [5, 3, 7, 9]);
    let ranks: Vec<u64> = set.iter().map(|r| r.rank).collect();
    assert_eq!(ranks, [1, 2, 3, 4]);
}

#[test]
fn extreme_and_negative_scores() {
    let mut set = RankedSet::new();
    set.upsert(1, i64::MIN, 0);
    set.upsert(2, -1, 0);
    set.upsert(3, 0, 0);
    set.upsert(4, i64::MAX, u64::MAX);
    set.upsert(5, 1, 0);
    assert_eq!(players_in_order(&set), [4, 5, 3, 2, 1]);
    assert_eq!(set.get(1), Some(entry(1, i64::MIN, 0)));
    assert_eq!(set.get(4), Some(entry(4, i64::MAX, u64::MAX)));
}

#[test]
fn rescoring_moves_the_player_and_returns_the_old_entry() {
    let mut set = RankedSet::new();
    set.upsert(1, 10, 0);
    set.upsert(2, 20, 1);
    assert_eq!(set.upsert(1, 30, 2), Some(entry(1, 10, 0)));
    assert_eq!(players_in_order(&set), [1, 2]);
    // Same score, later seq: the tie rule uses the new seq.
    assert_eq!(set.upsert(2, 30, 3), Some(entry(2, 20, 1)));
    assert_eq!(players_in_order(&set), [1, 2]);
    assert_eq!(set.upsert(2, 30, 3), Some(entry(2, 30, 3)));
    assert_eq!(set.len(), 2);
}

#[test]
fn pages_and_windows_at_the_edges() {
    let set = RankedSet::from_entries((0..10).map(|p| entry(p, 100 - p as i64, 0))).unwrap();
    assert!(set.page(10, 5).is_empty());
    assert!(set.page(3, 0).is_empty());
    assert_eq!(set.page(8, usize::MAX).len(), 2);
    let top: Vec<u64> = set.around(0, 3, 1).iter().map(|r| r.rank).collect();
    assert_eq!(top, [1, 2]);
    let bottom: Vec<u64> = set
        .around(9, 1, usize::MAX)
        .iter()
        .map(|r| r.rank)
        .collect();
    assert_eq!(bottom, [9, 10]);
    assert!(set.around(42, 1, 1).is_empty());
}

#[test]
fn duplicate_players_are_rejected() {
    let twice = [entry(1, 5, 0), entry(2, 6, 0), entry(1, 7, 1)];
    let err = RankedSet::from_entries(twice).unwrap_err();
    assert_eq!(err, DuplicatePlayer { player: 1 });
    assert_eq!(err.to_string(), "player 1 appears more than once");
    let bytes = postcard::to_allocvec(&twice.to_vec()).unwrap();
    let decoded = postcard::from_bytes::<RankedSet>(&bytes);
    assert!(decoded.is_err());
}

#[test]
fn empty_set() {
    let set = RankedSet::default();
    assert!(set.is_empty());
    assert_eq!(set.rank(0), None);
    assert!(set.page(0, 10).is_empty());
    assert_eq!(set.iter().count(), 0);
    let bytes = postcard::to_allocvec(&set).unwrap();
    assert_eq!(postcard::from_bytes::<RankedSet>(&bytes).unwrap(), set);
}

#[derive(Clone, Debug)]
enum IndexOp {
    Insert(u64, u32),
    Remove(u64),
}

fn index_op() -> impl Strategy<Value = IndexOp> {
    // Few distinct ids in small tables: long probe runs, wrap-around and many deletions.
    let id = prop_oneof![8 => 0u64..40, 1 => Just(u64::MAX), 1 => Just(u64::MAX - 1)];
    prop_oneof![
        3 => (id.clone(), any::<u32>()).prop_map(|(p, v)| IndexOp::Insert(p, v)),
        2 => id.prop_map(IndexOp::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn player_index_agrees_with_hash_map(
        presize in 0usize..20,
        ops in proptest::collection::vec(index_op(), 0..300),
    ) {
        let mut index = index::PlayerIndex::with_capacity(presize);
        let mut model = std::collections::HashMap::new();
        for op in &ops {
            match *op {
                IndexOp::Insert(p, v) => prop_assert_eq!(index.insert(p, v), model.insert(p, v)),
                IndexOp::Remove(p) => prop_assert_eq!(index.remove(p), model.remove(&p)),
            }
            index.check_invariants();
            prop_assert_eq!(index.len(), model.len());
            for p in (0..40).chain([u64::MAX - 1, u64::MAX]) {
                prop_assert_eq!(index.get(p), model.get(&p).copied());
            }
        }
    }
}

#[test]
fn updating_players_does_not_grow_the_index() {
    // Sized exactly for 1000 players: re-scoring them must not trigger a resize.
    let mut index = index::PlayerIndex::with_capacity(1000);
    for p in 0..1000 {
        index.insert(p, 1u32);
    }
    let slots = index.slot_count();
    for p in 0..1000 {
        assert_eq!(index.insert(p, 2), Some(1));
    }
    assert_eq!(index.slot_count(), slots);
    index.insert(1000, 1);
    assert!(
        index.slot_count() > slots,
        "a new player past the bound grows the table"
    );
}
