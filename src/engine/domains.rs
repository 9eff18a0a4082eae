//! Every domain the engine owns, in one value, so that construction, replay,
//! snapshots and the snapshotter thread each name every domain in exactly one place.

use super::log::{Effect, EngineLog};
use super::{EngineConfig, EngineError};
use crate::catalog::Catalog;
use crate::identity::Identity;
use crate::journal::Lsn;
use crate::ledger::export::Counters;
use crate::ledger::{Ledger, ReplayError};
use crate::seamless::Seamless;
use crate::tournaments::{TournamentEffect, Tournaments};
use crate::webhooks::Webhooks;
use std::sync::Arc;

pub(crate) type EngineLedger = Ledger<Arc<EngineLog>>;
pub(crate) type EngineTournaments = Tournaments<Arc<EngineLog>>;
pub(crate) type EngineCatalog = Catalog<Arc<EngineLog>>;
pub(crate) type EngineIdentity = Identity<Arc<EngineLog>>;
pub(crate) type EngineSeamless = Seamless<Arc<EngineLog>>;
pub(crate) type EngineWebhooks = Webhooks<Arc<EngineLog>>;

/// The engine's domains, shared (by `Arc`) with the snapshotter thread.
#[derive(Clone)]
pub(crate) struct Domains {
    pub ledger: Arc<EngineLedger>,
    pub tournaments: Arc<EngineTournaments>,
    pub catalog: Arc<EngineCatalog>,
    pub identity: Arc<EngineIdentity>,
    pub seamless: Arc<EngineSeamless>,
    pub webhooks: Arc<EngineWebhooks>,
}

impl Domains {
    pub fn new(
        config: &EngineConfig,
        clock: &Arc<dyn crate::clock::Clock>,
        log: &Arc<EngineLog>,
    ) -> Domains {
        let domains = Domains {
            ledger: Arc::new(Ledger::new(&config.ledger, log.clone())),
            tournaments: Arc::new(Tournaments::new(log.clone())),
            catalog: Arc::new(Catalog::new(log.clone())),
            identity: Arc::new(Identity::new(config.identity.clone(), log.clone())),
            seamless: Arc::new(Seamless::new(config.seamless.clone(), log.clone())),
            webhooks: Arc::new(Webhooks::new(
                config.webhooks.clone(),
                clock.clone(),
                log.clone(),
            )),
        };
        // The outbox hears of every change as it is made (and replayed).
        domains.ledger.observe(domains.webhooks.clone());
        domains.tournaments.observe(domains.webhooks.clone());
        domains
    }

    /// Applies one logged effect during recovery, to the domain it belongs to.
    pub fn replay(&self, lsn: Lsn, effect: Effect) -> Result<(), EngineError> {
        match effect {
            Effect::Ledger(e) => self
                .ledger
                .replay(lsn, e)
                .map_err(|e| replay_failed(lsn, e))?,
            Effect::Tournament(e) => {
                if let TournamentEffect::BoundFrom { first_record, .. } = &e {
                    // Ids below it were taken before the bind (some perhaps by
                    // operations that logged nothing): new records stay above it.
                    self.ledger.restore_counters(Counters {
                        next_wallet: 0,
                        next_record: *first_record,
                    });
                }
                self.tournaments.replay(lsn, &e)
            }
            Effect::Catalog(e) => self.catalog.replay(e),
            Effect::Identity(e) => self.identity.replay(e),
            Effect::Seamless(e) => self.seamless.replay(e),
            Effect::Webhook(e) => self.webhooks.replay(lsn, e),
        }
        Ok(())
    }

    /// Checks every domain's invariants (O(n): tests and debug-build recovery).
    pub fn check_invariants(&self) {
        self.ledger.check_invariants();
    }
}

/// The error for a ledger effect at `lsn` that cannot be replayed.
pub(super) fn replay_failed(lsn: Lsn, e: ReplayError) -> EngineError {
    EngineError::Storage(format!("log record {}: {e}", lsn.0))
}
