//! Whole-ledger walks: expiring rounds, listing incomplete games, checking every
//! invariant, and exporting state for snapshots. Each visits one shard at a time.

use super::effect::LedgerEffect;
use super::error::LedgerError;
use super::plan::{self, Ctx};
use super::round::RoundStatus;
use super::wallet::Wallet;
use super::{ExpireScope, Expiry, IncompleteGame, Ledger, Logged, Mode};
use crate::ids::{ChannelId, PlayerId, RecordId, RoundId, WalletId};
use crate::journal::{Journal, Lsn};
use std::sync::atomic::Ordering;

impl ExpireScope<'_> {
    fn wallet_matches(&self, w: &Wallet) -> bool {
        match self {
            ExpireScope::Player(c, p) => &w.key.channel == *c && &w.key.player == *p,
            ExpireScope::Channel(c) => &w.key.channel == *c,
            ExpireScope::OpenedBefore(_) => true,
        }
    }

    fn round_matches(&self, opened_at_ms: i64) -> bool {
        match self {
            ExpireScope::OpenedBefore(t) => opened_at_ms <= *t,
            _ => true,
        }
    }
}

impl<J: Journal<LedgerEffect>> Ledger<J> {
    /// Expires every unclosed round in `scope`: live bets are refunded, the round is
    /// closed and its record kept. One result per round, in (wallet, round) order.
    ///
    /// Targets are collected first (one shard lock at a time), then expired one by
    /// one; a round that closed in between is reported with its error.
    pub fn expire_rounds(&self, scope: ExpireScope<'_>, now_ms: i64) -> Logged<Vec<Expiry>> {
        let next_record = || RecordId(self.next_record.fetch_add(1, Ordering::Relaxed));
        let ctx = Ctx {
            now_ms,
            next_record: &next_record,
            // Each expiry decides its own (`expire_one`).
            funds: super::types::Funds::Local,
        };
        let mut targets = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            let wallets = shard.unclosed.iter().filter_map(|id| shard.wallets.get(id));
            // The open-round time-out leaves seamless rounds alone: their money is
            // in the operator's wallet, and only the operator expires them (the
            // engine then returns their bets there).
            let wallets = wallets.filter(|w| {
                !matches!(scope, ExpireScope::OpenedBefore(_))
                    || !self.has_remote_funds(&w.key.channel)
            });
            targets.extend(expiry_targets(wallets.map(|w| &**w), &scope));
        }
        targets.sort();
        let mut lsn = Lsn(0);
        let out = targets
            .into_iter()
            .map(|(wallet, round, game, player)| {
                let mut shard = self.shard(wallet).lock();
                let result = self.expire_one(&mut shard, wallet, &round, &ctx, &mut lsn);
                Expiry {
                    wallet,
                    player,
                    round,
                    game,
                    result,
                    unpaid: crate::money::Amount::ZERO,
                }
            })
            .collect();
        Logged {
            result: Ok(out),
            lsn,
        }
    }

    fn expire_one(
        &self,
        shard: &mut super::Shard,
        wallet: WalletId,
        round: &RoundId,
        ctx: &Ctx<'_>,
        lsn: &mut Lsn,
    ) -> Result<RecordId, LedgerError> {
        let w = shard
            .wallets
            .get(&wallet)
            .ok_or(LedgerError::WalletNotFound(wallet))?;
        let mut change = plan::expire(w, round, ctx)?;
        // A seamless wallet's live bets go back through the operator's wallet (the
        // engine sends those refunds): here the money only passes through.
        if self.has_remote_funds(&w.key.channel) {
            plan::pass_through_change(w.state, &mut change, crate::money::Amount::ZERO);
        }
        let record = change
            .record
            .as_ref()
            .map(|r| r.id)
            .ok_or(LedgerError::RoundNotFound(round.clone()))?;
        let mut effect = LedgerEffect::Wallet(change);
        let at = self.journal.append(&effect)?;
        *lsn = (*lsn).max(at);
        let applied = self.apply_locked(shard, at, &mut effect, Mode::Live, None);
        debug_assert!(applied.is_ok());
        Ok(record)
    }

    /// Rounds not closed, in every wallet: (open, incomplete: status 3 or 4). Visits
    /// only the wallets that have any (the shards' index), one shard lock at a time.
    pub fn unclosed_round_counts(&self) -> (u64, u64) {
        let (mut open, mut incomplete) = (0, 0);
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for id in &shard.unclosed {
                let Some(w) = shard.wallets.get(id) else {
                    continue;
                };
                for r in w.rounds.open_rounds() {
                    match r.status {
                        RoundStatus::Open => open += 1,
                        RoundStatus::BetFailed | RoundStatus::CreditFailed => incomplete += 1,
                    }
                }
            }
        }
        (open, incomplete)
    }

    /// Unclosed rounds of `channel` (one player's, if given), oldest first.
    pub fn incomplete_games(
        &self,
        channel: &ChannelId,
        player: Option<&PlayerId>,
    ) -> Vec<IncompleteGame> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for w in shard.unclosed.iter().filter_map(|id| shard.wallets.get(id)) {
                if &w.key.channel != channel || player.is_some_and(|p| p != &w.key.player) {
                    continue;
                }
                out.extend(w.rounds.open_rounds().map(|r| IncompleteGame {
                    wallet: w.id,
                    player: w.key.player.clone(),
                    currency: w.key.currency.clone(),
                    round: r.id.clone(),
                    game: r.game.id.clone(),
                    bet_amount: r.live_bets(),
                    total_win: r.wins.total().unwrap_or(crate::money::Amount::MAX),
                    status: r.status,
                    error: r.error.clone(),
                    opened_at_ms: r.opened_at_ms,
                }));
            }
        }
        out.sort_by(|a, b| {
            (a.opened_at_ms, a.wallet, &a.round).cmp(&(b.opened_at_ms, b.wallet, &b.round))
        });
        out
    }

    /// Checks every invariant of every wallet and of the indexes. O(n): for tests,
    /// fuzzers and after recovery, not for the hot path.
    pub fn check_invariants(&self) {
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for (id, w) in shard.wallets.iter() {
                assert_eq!(*id, w.id);
                w.check();
                assert_eq!(
                    shard.unclosed.contains(id),
                    w.rounds.has_open(),
                    "unclosed index of wallet {id}"
                );
                // Listed exactly while it holds history (an eviction drops it once
                // emptied, under the same lock).
                assert_eq!(
                    shard.holding.contains(id),
                    super::holds_history(w),
                    "eviction index of wallet {id}"
                );
                assert!(self.next_wallet.load(Ordering::Relaxed) > id.0);
                // With a history store attached, a closed round's record may be
                // there rather than here.
                let archived = self.archive.get().is_some();
                for (_, closed) in w.rounds.closed_rounds() {
                    assert!(
                        archived || self.records.get(&w.key.channel, closed.record).is_some(),
                        "record {} of wallet {id}",
                        closed.record
                    );
                }
            }
        }
    }

    /// Visits every wallet, one shard at a time (each shard is locked while visited).
    pub fn for_each_wallet(&self, mut f: impl FnMut(&Wallet)) {
        for shard in self.shards.iter() {
            shard.lock().wallets.values().for_each(|w| f(w));
        }
    }
}

/// The (wallet, round, game, player) of every unclosed round in `scope`.
fn expiry_targets<'a>(
    wallets: impl Iterator<Item = &'a Wallet>,
    scope: &ExpireScope<'_>,
) -> Vec<(WalletId, RoundId, crate::ids::GameId, PlayerId)> {
    wallets
        .filter(|w| scope.wallet_matches(w))
        .flat_map(|w| {
            w.rounds
                .open_rounds()
                .filter(|r| scope.round_matches(r.opened_at_ms))
                .map(|r| (w.id, r.id.clone(), r.game.id.clone(), w.key.player.clone()))
        })
        .collect()
}
