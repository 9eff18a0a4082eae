//! The deterministic simulator: the whole engine, on a fault-injecting file system
//! and a manual clock, driven by random operations from a `u64` seed and checked
//! against a reference model after every step and every recovery. Any failure
//! replays exactly from its seed. docs/simulation.md is the user's guide (what is
//! simulated, what is checked, how to run it for hours, the bugs it was shown to
//! catch); this module's items say how.
//!
//! One step is one of: a ledger operation ([`model::Op`]: deposits, withdrawals,
//! bets, wins, refunds, prizes, ends of rounds, expiries, time passing, archiver
//! passes), an operation with a disk fault armed (a failed fsync, a full disk, a
//! torn or failed write), an archiver pass whose history store fails, a snapshot,
//! an operator's published event, a round of webhook deliveries through a faulty
//! network (dropped, delayed, acknowledged-but-lost, duplicated), or a crash (a
//! power cut that keeps a random prefix of each file's unsynced bytes, sometimes
//! with a byte of an old log segment flipped) and a restart.
//!
//! Determinism: every choice comes from [`Choices`]; the engine is called from one
//! thread and every operation waits for its durability before the next, so which
//! bytes are on disk at a crash does not depend on thread timing; background
//! snapshots and archiver passes are turned off (the steps run them); file names
//! are visited in sorted order. [`Report::trace_hash`] hashes every step and its
//! result: two runs of one seed give the same hash.
//!
//! What a fault leaves uncertain is resolved the way a client would: an operation
//! that failed with a storage error may or may not have reached the disk, so after
//! the restart the simulator sends it again with the same transaction id, and from
//! then on the model counts it (the engine's answer must be the model's either
//! way). Between a fault and the crash the log has failed closed: any answer that
//! acknowledges a change is a violation.

pub mod choices;
pub mod model;
pub mod network;
mod tourney;

pub use choices::Choices;

use crate::clock::{Clock, ManualClock};
use crate::engine::{Engine, EngineConfig, EngineError};
use crate::history::{Faults, HistoryStore, Retention, SharedStore};
use crate::identity::types::{NewOperator, RemoteWallet, WalletDialect, WalletMode};
use crate::ids::{ChannelId, WalletId};
use crate::ids::{ClientId, GameId, PlayerId, RoundId, TxId};
use crate::ledger::types::{BetRequest, GameRef, PlayMeta, RefundRequest, WinRequest};
use crate::money::Amount;
use crate::paging::Page;
use crate::storage::{FaultyFs, FileSystem};
use crate::webhooks::event::{EventBody, EventId, EventName};
use crate::webhooks::{Attempt, Delivery, SubscriptionId};
use model::{apply_to_engine, MOut, Model, Op};
use network::{block_on, call_or_hang_up, Network, Transport};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The hot window the simulated engine runs with: a few steps' worth of clock, so
/// that entries leave memory all the time.
pub const HOT_WINDOW_MS: i64 = 1_000;

/// The archiver's lag bound the simulated engine runs with
/// (`HistoryConfig::max_lag_records`): low enough that admission refuses new work
/// now and then (about 2 % of the steps of seeds 0..20).
pub const MAX_LAG_RECORDS: u64 = 16;

/// The event an operator publishes in the simulation.
const PUBLISHED: &str = "sim.published";

/// Where `chA`'s subscription points (the simulated receiver; nothing listens).
const HOOK_URL: &str = "http://192.0.2.1/hooks";

/// The events `chA` subscribes to: its money operations and its own publishes.
fn hook_events() -> Result<Vec<EventName>, String> {
    [PUBLISHED, "wallet.transaction.success"]
        .iter()
        .map(|n| EventName::new(n).map_err(|e| format!("{e}")))
        .collect()
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub steps: u64,
    pub crashes: u64,
    /// Operations that failed on an injected disk fault, and of those the ones the
    /// restart found on disk.
    pub disk_faults: u64,
    pub uncertain_kept: u64,
    /// New work refused because the archiver was behind (`Engine::admit`).
    pub admission_refusals: u64,
    pub history_faults: u64,
    /// Old log segments corrupted at a crash: named by the restart, or not read by it.
    pub corruptions_named: u64,
    pub corruptions_unread: u64,
    pub archive_passes: u64,
    pub snapshots: u64,
    /// Webhook deliveries the receiver got (repeats included).
    pub deliveries: u64,
    /// Tournaments run, and prizes they paid.
    pub tournaments: u64,
    pub prizes: u64,
    /// Seamless calls that met a network fault.
    pub network_faults: u64,
    /// A hash of every step and its result: the same for every run of a seed.
    pub trace_hash: u64,
}

/// A violated invariant (or a panic), with the seed and the command that replays it.
#[derive(Clone, Debug)]
pub struct Failure {
    pub seed: Option<u64>,
    pub steps: u64,
    pub step: u64,
    pub message: String,
    /// The last steps before the failure, oldest first.
    pub recent: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seed {
            Some(seed) => writeln!(
                f,
                "simulation of seed {seed} failed at step {}: {}",
                self.step, self.message
            )?,
            None => writeln!(
                f,
                "simulation failed at step {}: {}",
                self.step, self.message
            )?,
        }
        writeln!(f, "last steps:")?;
        for line in &self.recent {
            writeln!(f, "  {line}")?;
        }
        if let Some(seed) = self.seed {
            write!(
                f,
                "replay: cargo run --release --example simulate -- --seed {seed} --steps {}",
                self.steps
            )?;
        }
        Ok(())
    }
}

/// Runs `steps` steps from `seed`.
pub fn run(seed: u64, steps: u64) -> Result<Report, Failure> {
    run_with(Choices::seeded(seed), Some(seed), steps)
}

/// Runs the steps a fuzzer's bytes choose (at most `max_steps`, fewer once the
/// bytes run out).
pub fn run_bytes(data: &[u8], max_steps: u64) -> Result<Report, Failure> {
    run_with(Choices::from_bytes(data), None, max_steps)
}

fn run_with(choices: Choices, seed: Option<u64>, steps: u64) -> Result<Report, Failure> {
    let failure = |step: u64, message: String, recent: &VecDeque<String>| Failure {
        seed,
        steps,
        step,
        message,
        recent: recent.iter().cloned().collect(),
    };
    let mut world = match caught(|| World::new(choices)) {
        Ok(world) => world,
        Err(message) => return Err(failure(0, message, &VecDeque::new())),
    };
    match world.run(steps) {
        Ok(()) => {
            let report = world.report.clone();
            world.retire();
            Ok(report)
        }
        Err(message) => Err(failure(world.report.steps, message, &world.recent)),
    }
}

/// Runs `f`, turning a panic (the engine's own invariant checks assert) into an
/// error, so that a failure still reports its seed and step.
fn caught<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            Err(format!("panic: {text}"))
        }
    }
}

/// A scratch data directory, removed when the run ends.
struct SimDir(PathBuf);

impl SimDir {
    fn new() -> Result<SimDir, String> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        // In memory when the machine has a tmpfs: the history store syncs for real.
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let path = base.join(format!("pitboss-sim-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|e| format!("scratch directory: {e}"))?;
        Ok(SimDir(path))
    }
}

impl Drop for SimDir {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The disk faults an operation can meet.
#[derive(Clone, Copy, Debug)]
enum DiskFault {
    FailSync,
    NoSpace { after_bytes: u64 },
    TornWrite { keep: usize },
    FailWrite,
}

/// What a webhook delivery meets on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Delivered,
    /// Never reaches the receiver.
    Lost,
    /// Reaches it; the answer is lost, so it is retried (a duplicate).
    AnswerLost,
    /// Reaches it at a later step (delayed, and reordered with later ones).
    Held,
}

/// The webhook receiver, and what the model says it must get.
#[derive(Default)]
struct Hooks {
    /// `chA`'s subscription (`None` while a step has ended it).
    sub: Option<SubscriptionId>,
    /// Every committed money operation of channel `chA`, as `tx <wallet> <id>`.
    committed: HashSet<String>,
    /// What need not arrive: committed or published while no subscription existed,
    /// or not yet received when the subscription ended (its outbox went with it).
    excused: HashSet<String>,
    /// Received events: id → what it announced.
    received: HashMap<EventId, String>,
    /// The id each announced thing was received under.
    announced: HashMap<String, EventId>,
    /// Published events the engine acknowledged, by number.
    published: HashSet<u64>,
    next_publish: u64,
    /// Deliveries the network holds back, with their subscription.
    held: Vec<(SubscriptionId, Delivery)>,
}

impl Hooks {
    /// Everything committed or published, as the receiver names it.
    fn announceable(&self) -> impl Iterator<Item = String> + '_ {
        self.committed
            .iter()
            .cloned()
            .chain(self.published.iter().map(|n| format!("published {n}")))
    }

    /// A change of `chA` committed: the receiver must hear of it, if subscribed.
    fn commit(&mut self, what: String) {
        if self.sub.is_none() {
            self.excused.insert(what.clone());
        }
        self.committed.insert(what);
    }
}

struct World {
    choices: Choices,
    dir: SimDir,
    fs: FaultyFs,
    clock: Arc<ManualClock>,
    history_faults: Faults,
    /// The history store, kept open across most crashes (see `crash`).
    store: Option<SharedStore>,
    engine: Option<Engine>,
    wallets: Vec<WalletId>,
    model: Model,
    hooks: Hooks,
    /// The newest transaction and round ids handed out.
    next_tx: u32,
    next_round: u32,
    /// Seamless mode: the network and the operator's wallet, the two players'
    /// wallets here, and every id sent (what the reconciliation checks).
    net: Arc<Network>,
    seamless: Seamless,
    /// The tournament running in channel `chA`, and the prizes credited so far.
    tourney: Option<tourney::Running>,
    prizes: u32,
    /// An operation that failed on a fault: it may or may not be on disk.
    /// With the model's time when it was made (a kept one happened then).
    uncertain: Option<(Op, i64)>,
    /// The archiver's lag just before the operation being checked was made.
    lag_before: u64,
    /// The log failed closed (after a fault); a crash comes in this many steps.
    failed: Option<u32>,
    /// Ledger outcomes so far, and (time, outcomes) at each archiver pass since the
    /// engine opened: what the hot window lets memory hold.
    outcomes: u64,
    passes: VecDeque<(i64, u64)>,
    report: Report,
    recent: VecDeque<String>,
    /// `PITBOSS_SIM_TRACE` is set: every step is printed to stderr as it runs.
    print_steps: bool,
}

/// Steps kept for a failure's message.
const RECENT_STEPS: usize = 24;

impl World {
    fn new(choices: Choices) -> Result<World, String> {
        let model = Model {
            now: 1_700_000_000_000,
            ..Model::default()
        };
        let mut world = World {
            choices,
            dir: SimDir::new()?,
            fs: FaultyFs::marks_only(),
            clock: Arc::new(ManualClock::new(model.now)),
            history_faults: Faults::default(),
            store: None,
            engine: None,
            wallets: Vec::new(),
            model,
            hooks: Hooks::default(),
            next_tx: 0,
            next_round: 0,
            net: Network::new(Choices::seeded(0)),
            seamless: Seamless::default(),
            tourney: None,
            prizes: 0,
            uncertain: None,
            lag_before: 0,
            failed: None,
            outcomes: 0,
            passes: VecDeque::new(),
            report: Report {
                trace_hash: FNV_OFFSET,
                ..Report::default()
            },
            recent: VecDeque::new(),
            print_steps: std::env::var_os("PITBOSS_SIM_TRACE").is_some(),
        };
        // The network draws its faults from a stream of its own, seeded from ours.
        let net_seed = world.choices.below(u64::MAX);
        world.net = Network::new(Choices::seeded(net_seed));
        world.open_store()?;
        let engine = world.open().map_err(|e| format!("first open: {e}"))?;
        world.wallets = model::open_wallets(&engine).map_err(|e| format!("wallets: {e}"))?;
        let sub = engine
            .subscribe_webhook_pending(&chan(0), HOOK_URL.into(), hook_events()?)
            .wait()
            .map_err(|e| format!("subscribe: {e}"))?;
        world.hooks.sub = Some(sub.id);
        world.seamless.wallets = seamless_players(&engine)?;
        world.engine = Some(engine);
        Ok(world)
    }

    fn config(&self) -> EngineConfig {
        let mut c = EngineConfig {
            round_timeout_ms: model::TIMEOUT_MS,
            // Snapshots and archiver passes are steps of their own.
            snapshot_every_records: u64::MAX,
            snapshot_every: Duration::from_secs(365 * 86_400),
            ..EngineConfig::default()
        };
        // Small segments: many of them, rolled, retained and deleted.
        c.wal.segment_size = 8 * 1024;
        c.history.hot_window = Some(Duration::from_millis(HOT_WINDOW_MS as u64));
        c.history.archive_every = Duration::from_secs(365 * 86_400);
        c.history.max_lag_records = MAX_LAG_RECORDS;
        c.history.faults = self.history_faults.clone();
        c.history.shared_store = self.store.clone();
        c.identity.argon2 = crate::identity::secrets::Argon2Params::insecure_for_tests();
        c
    }

    fn open_store(&mut self) -> Result<(), String> {
        let store = HistoryStore::open(
            &self.dir.0.join(crate::engine::HISTORY_DIR),
            self.clock.clone(),
            Retention::default(),
            self.history_faults.clone(),
        )
        .map_err(|e| format!("history store: {e}"))?;
        self.store = Some(SharedStore(Arc::new(store)));
        Ok(())
    }

    fn open(&self) -> Result<Engine, EngineError> {
        let fs: Arc<dyn FileSystem> = Arc::new(self.fs.clone());
        let engine = Engine::open_with(&self.dir.0, self.config(), self.clock.clone(), fs)?;
        engine.attach_remote_wallets(Arc::new(Transport(self.net.clone())));
        Ok(engine)
    }

    fn engine(&self) -> &Engine {
        // `engine` is `None` only inside `crash`, which reopens before it returns.
        #[allow(clippy::expect_used)]
        self.engine
            .as_ref()
            .expect("the engine is open between steps")
    }

    fn run(&mut self, steps: u64) -> Result<(), String> {
        while self.report.steps < steps && !self.choices.exhausted() {
            self.report.steps += 1;
            caught(|| self.step())?;
        }
        caught(|| self.finish())
    }

    /// Ends a run that passed: the engine closes here, the history store and the
    /// directory on a thread of their own (closing fjall waits up to 250 ms for its
    /// monitor thread), which overlaps the next run. At most one such thread lives:
    /// the next retirement joins it first.
    fn retire(mut self) {
        use std::sync::Mutex;
        static RETIRING: Mutex<Option<std::thread::JoinHandle<()>>> = Mutex::new(None);
        self.engine = None;
        let (store, dir) = (
            self.store.take(),
            std::mem::replace(&mut self.dir, SimDir(PathBuf::new())),
        );
        drop(self);
        let mut retiring = RETIRING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(previous) = retiring.take() {
            let _ = previous.join();
        }
        let spawned = std::thread::Builder::new()
            .name("pitboss-sim-retire".into())
            .spawn(move || {
                drop(store);
                drop(dir);
            });
        *retiring = spawned.ok();
    }

    fn note(&mut self, line: String) {
        self.report.trace_hash = fnv(self.report.trace_hash, line.as_bytes());
        if self.print_steps {
            eprintln!("{}: {line}", self.report.steps);
        }
        if self.recent.len() == RECENT_STEPS {
            self.recent.pop_front();
        }
        self.recent
            .push_back(format!("{}: {line}", self.report.steps));
    }

    fn step(&mut self) -> Result<(), String> {
        if let Some(left) = self.failed {
            if left == 0 {
                return self.crash();
            }
            self.failed = Some(left - 1);
        }
        // Per thousand: ledger operations, faulted operations, archiver passes,
        // failing passes, snapshots, publishes, deliveries, crashes, seamless calls,
        // tournament steps.
        match self
            .choices
            .weighted(&[730, 4, 40, 2, 20, 10, 80, 3, 100, 10])
        {
            0 => {
                let op = self.op();
                self.ledger_step(op)
            }
            1 if self.failed.is_none() => self.faulted_step(),
            2 => self.archive_step(),
            3 if self.failed.is_none() => self.failing_archive_step(),
            4 => self.snapshot_step(),
            5 => self.publish_step(),
            6 => self.deliver_step(),
            7 => self.crash(),
            8 if self.failed.is_none() => self.seamless_step(),
            9 if self.failed.is_none() => self.tournament_step(),
            _ => Ok(()),
        }?;
        // A step of any kind can move the board (a bet closing a round of `g0`, an
        // expiry, a restart's rescoring): it equals the model's after each one, but
        // while an operation is uncertain (its write failed, the restart decides),
        // memory may hold its score and the model cannot yet (seed 4,000,014).
        if self.uncertain.is_some() {
            return Ok(());
        }
        self.check_leaderboard()
    }

    // ------------------------------------------------------------ operations

    /// A transaction id: a new one, or one of the last 48 (a replay, a conflict, a
    /// bet to refund). Ids move on, so that a long run keeps making new ones.
    fn tx_id(&mut self) -> u32 {
        if self.choices.one_in(2) {
            self.next_tx += 1;
            self.next_tx
        } else {
            self.next_tx - self.choices.below(u64::from(self.next_tx.min(48))) as u32
        }
    }

    /// A random ledger operation, in the proportions of `tests/ledger_model.rs`,
    /// over ids that move on (a fresh round one time in six).
    fn op(&mut self) -> Op {
        let tx = self.tx_id();
        let bet_tx = self.tx_id();
        let round = if self.choices.one_in(6) {
            self.next_round += 1;
            self.next_round
        } else {
            self.next_round - self.choices.below(u64::from(self.next_round.min(4))) as u32
        };
        let c = &mut self.choices;
        let w = if c.below(4) < 3 {
            0
        } else {
            c.below(4) as usize
        };
        let game = if c.below(4) < 3 { 0 } else { 1 };
        match c.weighted(&[4, 2, 6, 4, 3, 1, 1, 1, 1, 1, 1, 2]) {
            0 => {
                let amount = if c.below(4) < 3 {
                    c.range(100, 10_000)
                } else {
                    amount(c)
                };
                Op::Deposit { w, tx, amount }
            }
            1 => {
                let amount = if c.one_in(2) { None } else { Some(amount(c)) };
                Op::Withdraw { w, tx, amount }
            }
            2 => Op::Bet {
                w,
                tx,
                round,
                game,
                amount: amount(c),
            },
            3 => Op::Win {
                w,
                tx,
                round,
                game,
                amount: amount(c),
                keep_open: c.one_in(2),
            },
            4 => Op::Refund { w, tx, bet_tx },
            5 => Op::Prize {
                w,
                tx,
                amount: amount(c),
            },
            6 => Op::EndRound { w, tx, round },
            7 => Op::ExpirePlayer { w },
            8 => Op::ExpireChannel {
                channel: c.below(2) as usize,
            },
            9 => Op::Advance {
                ms: c.range(0, 8_000),
            },
            10 => Op::ExpireStale,
            _ => Op::Archive,
        }
    }

    /// One ledger operation on the engine and on the model; they must agree.
    fn ledger_step(&mut self, op: Op) -> Result<(), String> {
        let got = self.apply(&op);
        if self.failed.is_some() {
            return self.after_failure(op, got);
        }
        self.note(format!("{op:?} → {got:?}"));
        if let Some(e) = got.iter().find_map(|g| g.err().filter(|e| is_storage(e))) {
            let why = self.engine().status().failure;
            return Err(format!("{e} error with no fault armed (the log: {why:?})"));
        }
        self.agree(&op, &got)?;
        if matches!(op, Op::Archive) {
            self.after_pass()?;
            // What a pass moved to the store reads back the same (now and then:
            // it reads every record).
            if self.choices.one_in(8) {
                model::check_records(self.engine(), &self.wallets, &self.model)?;
            }
        }
        Ok(())
    }

    /// Makes `op` on the engine, noting the archiver's lag just before (what
    /// admission judged it by).
    fn apply(&mut self, op: &Op) -> Vec<MOut> {
        self.lag_before = self.engine().archiver_lag().unwrap_or(0);
        apply_to_engine(self.engine(), &self.clock, &self.wallets, op)
    }

    /// The model makes `op` too; the outcomes must be equal, and the balances.
    /// Except past the archiver's lag bound: there new work (a deposit, withdrawal
    /// or bet whose id the wallet has not applied) must be refused as
    /// `LimitExceeded`, changing nothing, and the model does not make it.
    fn agree(&mut self, op: &Op, got: &[MOut]) -> Result<(), String> {
        if self.lag_before > MAX_LAG_RECORDS && is_new_work(op, &self.model) {
            if got != [Err("LimitExceeded")] {
                return Err(format!(
                    "{op:?} with {} records not archived (bound {MAX_LAG_RECORDS}): \
                     the engine says {got:?}; new work must be refused",
                    self.lag_before
                ));
            }
            self.report.admission_refusals += 1;
            model::check_balances(self.engine(), &self.wallets, &self.model)?;
            self.engine().check_invariants();
            return Ok(());
        }
        let new_tx = tx_of(op).filter(|(w, tx)| !self.model.wallets[*w].txs.contains_key(tx));
        let want = self.model.apply(op);
        if got != want.as_slice() {
            return Err(format!(
                "{op:?}: the engine says {got:?}, the model {want:?}"
            ));
        }
        self.outcomes += want.len() as u64;
        if let (Some((w, tx)), Some(Ok(_))) = (new_tx, want.first()) {
            if w < 2 && !matches!(op, Op::EndRound { .. }) {
                self.hooks.commit(format!("tx {w} {}", model::tx_id(tx)));
            }
        }
        let engine = self.engine();
        model::check_balances(engine, &self.wallets, &self.model)?;
        engine.check_invariants();
        Ok(())
    }

    /// After the log failed closed: nothing may be acknowledged that the model would
    /// have to write. Refusals of any kind are fine (nothing was promised); an
    /// answer that changes nothing (a replay) must be the model's.
    fn after_failure(&mut self, op: Op, got: Vec<MOut>) -> Result<(), String> {
        self.note(format!("(log failed) {op:?} → {got:?}"));
        let mut probe = self.model.clone();
        let before = fingerprint(&probe);
        let want = probe.apply(&op);
        let wrote = fingerprint(&probe) != before;
        for (g, w) in got
            .iter()
            .zip(want.iter().chain(std::iter::repeat(&Err(""))))
        {
            if g.is_ok() && (wrote || g != w) {
                return Err(format!(
                    "{op:?} acknowledged {g:?} after the log failed (the model: {want:?})"
                ));
            }
        }
        if !wrote {
            self.model = probe;
        }
        Ok(())
    }

    /// A money operation with a disk fault armed. A storage error leaves it
    /// uncertain and the log failed; any other answer is checked as usual.
    fn faulted_step(&mut self) -> Result<(), String> {
        let fault = match self.choices.below(4) {
            0 => DiskFault::FailSync,
            1 => DiskFault::NoSpace {
                after_bytes: self.choices.below(64),
            },
            2 => DiskFault::TornWrite {
                keep: self.choices.below(48) as usize,
            },
            _ => DiskFault::FailWrite,
        };
        let op = loop {
            let op = self.op();
            if tx_of(&op).is_some() {
                break op;
            }
        };
        match fault {
            DiskFault::FailSync => self.fs.fail_syncs(true),
            DiskFault::NoSpace { after_bytes } => self.fs.enospc_after(after_bytes),
            DiskFault::TornWrite { keep } => self.fs.tear_nth_write(1, keep),
            DiskFault::FailWrite => self.fs.fail_nth_write(1),
        }
        let got = self.apply(&op);
        self.note(format!("{fault:?} then {op:?} → {got:?}"));
        if got.iter().any(|g| g.err().is_some_and(is_storage)) {
            self.report.disk_faults += 1;
            self.uncertain = Some((op, self.model.now));
            self.failed = Some(self.choices.below(4) as u32);
            return Ok(());
        }
        // The operation wrote nothing (a refusal or a replay): the fault never fired.
        self.fs.clear_faults();
        self.agree(&op, &got)
    }

    /// An archiver pass, with the clock moved on as `Op::Archive` moves it.
    fn archive_step(&mut self) -> Result<(), String> {
        self.report.archive_passes += 1;
        self.ledger_step(Op::Archive)
    }

    /// An archiver pass whose history store fails: the log must fail closed.
    fn failing_archive_step(&mut self) -> Result<(), String> {
        self.history_faults.fail(true);
        let got = apply_to_engine(self.engine(), &self.clock, &self.wallets, &Op::Archive);
        self.model.apply(&Op::Archive);
        self.note(format!("history store fails, archive → {got:?}"));
        match got.first() {
            Some(Err(_)) => {
                self.report.history_faults += 1;
                self.failed = Some(self.choices.below(4) as u32);
                Ok(())
            }
            // Nothing to archive: the store was not called.
            _ => {
                self.history_faults.fail(false);
                Ok(())
            }
        }
    }

    fn snapshot_step(&mut self) -> Result<(), String> {
        let got = self.engine().snapshot();
        // Error kinds only: messages name the scratch directory, which differs by run.
        self.note(format!(
            "snapshot → {:?}",
            got.as_ref().map_err(model::error_kind)
        ));
        match got {
            Ok(_) => {
                self.report.snapshots += 1;
                Ok(())
            }
            Err(_) if self.failed.is_some() => Ok(()),
            Err(e) => Err(format!("snapshot failed with no fault armed: {e}")),
        }
    }

    /// The operator of channel `chA` publishes an event of its own, or ends its
    /// subscription (one step in 20), or subscribes again (one in two once ended).
    fn publish_step(&mut self) -> Result<(), String> {
        let toggle = self
            .choices
            .one_in(if self.hooks.sub.is_some() { 20 } else { 2 });
        if toggle && self.failed.is_none() && self.uncertain.is_none() {
            return self.toggle_subscription();
        }
        let n = self.hooks.next_publish;
        self.hooks.next_publish += 1;
        let name = EventName::new(PUBLISHED).map_err(|e| e.to_string())?;
        let got = self
            .engine()
            .publish_event_pending(&chan(0), name, format!("{{\"n\":{n}}}"))
            .wait();
        self.note(format!(
            "publish {n} → {:?}",
            got.as_ref().map_err(model::error_kind)
        ));
        let subscribers = usize::from(self.hooks.sub.is_some());
        match got {
            // No subscriber: no event, nothing written (even on a failed log).
            Ok(0) if subscribers == 0 => Ok(()),
            Ok(count) if count == subscribers && self.failed.is_none() => {
                self.hooks.published.insert(n);
                Ok(())
            }
            Ok(count) => Err(format!(
                "publish {n} answered {count} (log failed: {})",
                self.failed.is_some()
            )),
            Err(_) if self.failed.is_some() => Ok(()),
            Err(e) => Err(format!("publish failed with no fault armed: {e}")),
        }
    }

    // ------------------------------------------------------------ webhooks

    /// Ends `chA`'s subscription (what it had not delivered is dropped with it), or
    /// subscribes again (only changes from then on are sent).
    fn toggle_subscription(&mut self) -> Result<(), String> {
        let engine = self.engine();
        match self.hooks.sub {
            Some(_) => {
                let count = engine
                    .unsubscribe_webhooks_pending(&chan(0))
                    .wait()
                    .map_err(|e| format!("unsubscribe: {e}"))?;
                if count != 1 {
                    return Err(format!("unsubscribe ended {count} subscriptions, not 1"));
                }
                let hooks = &mut self.hooks;
                let undelivered: Vec<String> = hooks
                    .announceable()
                    .filter(|what| !hooks.announced.contains_key(what))
                    .collect();
                hooks.excused.extend(undelivered);
                hooks.sub = None;
                self.note("webhooks: unsubscribed".into());
            }
            None => {
                let sub = engine
                    .subscribe_webhook_pending(&chan(0), HOOK_URL.into(), hook_events()?)
                    .wait()
                    .map_err(|e| format!("subscribe again: {e}"))?;
                self.hooks.sub = Some(sub.id);
                self.note("webhooks: subscribed again".into());
            }
        }
        Ok(())
    }

    /// Deliveries due now go out through the simulated network.
    fn deliver_step(&mut self) -> Result<(), String> {
        let due = self.engine().webhooks_due(8, 32);
        let mut fates = Vec::with_capacity(due.len());
        for (sub, d) in due {
            let fate = match self.choices.weighted(&[14, 2, 2, 2]) {
                0 => Fate::Delivered,
                1 => Fate::Lost,
                2 => Fate::AnswerLost,
                _ => Fate::Held,
            };
            fates.push((d.event.id, fate));
            self.send(sub.id, d, fate)?;
        }
        // A held delivery arrives now and then, after newer ones.
        if !self.hooks.held.is_empty() && self.choices.one_in(3) {
            let i = self.choices.below(self.hooks.held.len() as u64) as usize;
            let (sub, d) = self.hooks.held.swap_remove(i);
            fates.push((d.event.id, Fate::Delivered));
            self.send(sub, d, Fate::Delivered)?;
        }
        self.note(format!("deliver {fates:?}"));
        // The outcomes were logged without waiting: none may be in flight when the
        // next step arms a fault.
        match self.engine().flush() {
            Err(e) if self.failed.is_none() => Err(format!("logging delivery outcomes: {e}")),
            _ => Ok(()),
        }
    }

    fn send(&mut self, sub: SubscriptionId, d: Delivery, fate: Fate) -> Result<(), String> {
        if fate == Fate::Held {
            self.hooks.held.push((sub, d));
            return Ok(());
        }
        if fate != Fate::Lost {
            self.receive(&d)?;
        }
        let attempt = match fate {
            Fate::Delivered => Attempt::Delivered,
            _ => Attempt::Failed("simulated network".into()),
        };
        // Not waited for, and refused once the log failed: the delivery is then
        // simply attempted again after the restart (at least once).
        let _ = self.engine().webhook_attempted(sub, d.event.id, attempt);
        Ok(())
    }

    /// The receiver's checks: an event announces a committed change, and one
    /// change is announced under one id.
    fn receive(&mut self, d: &Delivery) -> Result<(), String> {
        self.report.deliveries += 1;
        let what = match &d.event.body {
            EventBody::Transaction { wallet, tx, .. } => {
                let w = self
                    .wallets
                    .iter()
                    .position(|x| x == wallet)
                    .ok_or_else(|| format!("event {} for an unknown wallet", d.event.id))?;
                let what = format!("tx {w} {tx}");
                if !self.hooks.committed.contains(&what) {
                    return Err(format!(
                        "event {} announces wallet {w}'s {tx}, which is not committed",
                        d.event.id
                    ));
                }
                what
            }
            EventBody::Published { payload, .. } => {
                let n: u64 = payload
                    .strip_prefix("{\"n\":")
                    .and_then(|p| p.strip_suffix('}'))
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| format!("published payload {payload}"))?;
                if !self.hooks.published.contains(&n) {
                    return Err(format!(
                        "event {} announces publish {n}, never acknowledged",
                        d.event.id
                    ));
                }
                format!("published {n}")
            }
            other => return Err(format!("event {} not subscribed to: {other:?}", d.event.id)),
        };
        if let Some(before) = self.hooks.received.get(&d.event.id) {
            if *before != what {
                return Err(format!(
                    "event id {} announced {before} and then {what}",
                    d.event.id
                ));
            }
        }
        if let Some(id) = self.hooks.announced.get(&what) {
            if *id != d.event.id {
                return Err(format!("{what} announced as {id} and as {}", d.event.id));
            }
        }
        self.hooks.received.insert(d.event.id, what.clone());
        self.hooks.announced.insert(what, d.event.id);
        Ok(())
    }

    // ------------------------------------------------------------ seamless

    /// A seamless operator's round call through the simulated network, a round of
    /// retries, or a delayed call arriving at the wallet.
    fn seamless_step(&mut self) -> Result<(), String> {
        // Each call leaves at most a few entries here (a bet and its rollback).
        self.outcomes += 3;
        let p = self.choices.below(2) as usize;
        let wallet = self.seamless.wallets[p];
        let what = match self.choices.weighted(&[40, 30, 10, 15, 5]) {
            0 => {
                let tx = self.seamless.bet_id(&mut self.choices, p);
                let round = format!("sr{tx}");
                let req = BetRequest {
                    tx: sim_id(TxId::new(&tx))?,
                    round: sim_id(RoundId::new(&round))?,
                    game: GameRef::bare(sim_id(GameId::new(model::GAMES[0]))?),
                    amount: Amount::new(self.choices.range(1, 500)),
                    meta: PlayMeta::default(),
                };
                let got = call_or_hang_up(&self.net, self.engine().seamless_bet(wallet, &req));
                format!("seamless bet {p} {tx} → {}", answer(got))
            }
            1 => {
                let Some(bet) = self.seamless.recent_bet(&mut self.choices, p) else {
                    return Ok(());
                };
                let tx = self.seamless.win_id(p, &bet);
                let req = WinRequest {
                    tx: sim_id(TxId::new(&tx))?,
                    round: sim_id(RoundId::new(&format!("sr{bet}")))?,
                    game: sim_id(GameId::new(model::GAMES[0]))?,
                    amount: Amount::new(self.choices.range(0, 800)),
                    breakdown: None,
                    keep_open: false,
                };
                let got = call_or_hang_up(&self.net, self.engine().seamless_win(wallet, &req));
                format!("seamless win {p} {tx} → {}", answer(got))
            }
            2 => {
                let Some(bet) = self.seamless.recent_bet(&mut self.choices, p) else {
                    return Ok(());
                };
                let bet_tx = sim_id(TxId::new(&bet))?;
                let req = RefundRequest {
                    tx: crate::engine::refund_tx(&bet_tx).map_err(|e| e.to_string())?,
                    bet_tx,
                };
                let got = call_or_hang_up(&self.net, self.engine().seamless_refund(wallet, &req));
                format!("seamless refund {p} {bet} → {}", answer(got))
            }
            3 => {
                self.advance(2_000);
                const RETRIES: usize = 16;
                let n = call_or_hang_up(&self.net, self.engine().seamless_retry_due(RETRIES));
                // Each call retried is finished like a new one (seed 3000727); a
                // driver that hung up may have attempted them all.
                self.outcomes += 3 * n.unwrap_or(RETRIES) as u64;
                format!("seamless retries: {n:?}")
            }
            _ => format!("delayed calls arrive: {}", self.net.release_delayed(false)),
        };
        let fates = self.net.take_fates();
        self.report.network_faults += fates
            .iter()
            .filter(|f| **f != network::CallFate::Answered)
            .count() as u64;
        self.note(format!("{what} {fates:?}"));
        self.engine().check_invariants();
        // Record ids are shared by every channel: the model's next one comes after
        // the seamless rounds' records.
        let q = crate::ledger::records::RecordQuery {
            size: 1,
            ..Default::default()
        };
        let newest = self
            .engine()
            .game_records(&sim_id(ChannelId::new("chS"))?, &q)
            .map_err(|e| format!("records of chS: {e}"))?;
        if let Some(r) = newest.records.first() {
            self.model.next_record = self.model.next_record.max(r.id.0);
        }
        Ok(())
    }

    /// Moves the clock (and the model's) on.
    fn advance(&mut self, ms: i64) {
        let op = Op::Advance { ms };
        apply_to_engine(self.engine(), &self.clock, &self.wallets, &op);
        self.model.apply(&op);
    }

    /// With the network's faults off and every delayed call delivered, retries run
    /// until no call is unfinished; then, for every id sent, the operator's wallet
    /// and the engine agree on whether it took effect (docs/seamless.md): a bet is
    /// kept on one side exactly when on the other, a win paid on one exactly when
    /// on the other, and the wallet applied no id that was never sent.
    fn reconcile(&mut self) -> Result<(), String> {
        self.net.release_delayed(true);
        self.net.set_faults(false);
        for _ in 0..64 {
            if self.engine().seamless_calls_unfinished() == 0 {
                break;
            }
            self.advance(301_000);
            block_on(self.engine().seamless_retry_due(10_000));
        }
        let left = self.engine().seamless_calls_unfinished();
        if left > 0 {
            return Err(format!("{left} seamless calls never finished"));
        }
        let engine = self.engine();
        let has = |w: WalletId, id: &str| -> Result<bool, String> {
            let tx = sim_id(TxId::new(id))?;
            Ok(engine
                .transaction(w, &tx)
                .map_err(|e| e.to_string())?
                .is_some())
        };
        for (p, &w) in self.seamless.wallets.iter().enumerate() {
            let player = format!("s{p}");
            let applied = |id: &str| {
                self.net
                    .with_books(|b| b.applied.contains_key(&(player.clone(), id.to_string())))
            };
            let mut known = BTreeSet::new();
            for bet in &self.seamless.bets[p] {
                let refund = format!("refund:{bet}");
                let kept_here = has(w, bet)? && !has(w, &refund)?;
                let kept_there = applied(bet) && !applied(&refund);
                if kept_here != kept_there {
                    return Err(format!(
                        "bet {bet} of {player}: kept here {kept_here}, at the wallet {kept_there}"
                    ));
                }
                known.insert(bet.clone());
                known.insert(refund);
            }
            for win in &self.seamless.wins[p] {
                let (here, there) = (has(w, win)?, applied(win));
                if here != there {
                    return Err(format!(
                        "win {win} of {player}: paid here {here}, at the wallet {there}"
                    ));
                }
                known.insert(win.clone());
            }
            let unknown: Vec<String> = self.net.with_books(|b| {
                b.applied
                    .keys()
                    .filter(|(pl, id)| *pl == player && !known.contains(id))
                    .map(|(_, id)| id.clone())
                    .collect()
            });
            if !unknown.is_empty() {
                return Err(format!("the wallet applied ids never sent: {unknown:?}"));
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ archiving

    /// After a pass at `now`: memory holds only what the last hot window wrote.
    /// The pass evicts through the position archived at the newest earlier pass at
    /// least a window ago, so what stays is at most what the operations since that
    /// pass touched: two transaction entries, one record and one round each, plus
    /// the open rounds (4 wallets × 4 round ids).
    fn after_pass(&mut self) -> Result<(), String> {
        let now = self.clock.now_ms();
        self.passes.push_back((now, self.outcomes));
        let Some(cut) = self
            .passes
            .iter()
            .rposition(|(t, _)| *t <= now - HOT_WINDOW_MS)
        else {
            return Ok(());
        };
        self.passes.drain(..cut);
        let since = self.outcomes - self.passes[0].1;
        let r = self.engine().resident_history();
        if r.transactions as u64 > 2 * since
            || r.records as u64 > since
            || r.rounds as u64 > since + 16
        {
            return Err(format!(
                "memory holds {r:?} after a pass; the {since} outcomes of the last hot window allow less"
            ));
        }
        Ok(())
    }

    // ------------------------------------------------------------ crashes

    /// A power cut, sometimes a flipped byte in an old segment, and a restart; then
    /// the uncertain operation is sent again and everything is checked.
    fn crash(&mut self) -> Result<(), String> {
        self.report.crashes += 1;
        self.engine = None;
        self.hooks.held.clear();
        let choices = &mut self.choices;
        self.fs
            .lose_unsynced_data_torn(|_, unsynced| match choices.below(3) {
                // All of it reached the disk, none of it, or a prefix.
                0 => unsynced,
                1 => 0,
                _ => choices.below(unsynced + 1),
            })
            .map_err(|e| format!("power cut: {e}"))?;
        self.fs.clear_faults();
        self.history_faults.fail(false);
        // The history store lives on a real file system, where no power is cut:
        // most crashes keep it open (what it holds is what its last persisted batch
        // wrote either way); one in 64 closes and reopens it for real.
        if self.choices.one_in(64) {
            self.store = None;
            self.open_store()?;
        }
        let corrupt = if self.choices.one_in(4) {
            self.corrupt_old_segment()?
        } else {
            None
        };
        let corrupted = corrupt.is_some();
        let engine = match (self.open(), corrupt) {
            (Ok(engine), None) => engine,
            (Err(e), None) => return Err(format!("restart failed: {e}")),
            (Ok(engine), Some(c)) => {
                // Recovery did not need the segment (a snapshot covers it): the state
                // is checked below like any other, then the byte is put back.
                self.report.corruptions_unread += 1;
                c.restore()?;
                engine
            }
            (Err(e), Some(c)) => {
                let name = c.file_name();
                if !e.to_string().contains(&name) {
                    return Err(format!(
                        "a corrupt {name} was reported without its name: {e}"
                    ));
                }
                self.report.corruptions_named += 1;
                c.restore()?;
                self.open()
                    .map_err(|e| format!("restart after repair failed: {e}"))?
            }
        };
        self.note(format!("crash and restart (corrupt: {corrupted})"));
        self.engine = Some(engine);
        self.failed = None;
        self.passes.clear();
        if let Some((op, made_at)) = self.uncertain.take() {
            let kept = tx_of(&op).is_some_and(|(w, tx)| {
                matches!(
                    self.engine()
                        .transaction(self.wallets[w], &model::tx_id(tx)),
                    Ok(Some(_))
                )
            });
            let got = self.apply(&op);
            self.note(format!("again {op:?} → {got:?} (kept: {kept})"));
            if kept {
                // Found on disk: the answer is a replay of what happened when the
                // operation was made, so the model makes it at that time (a round
                // it opened is that old, a record it wrote has that time).
                self.report.uncertain_kept += 1;
                let now = std::mem::replace(&mut self.model.now, made_at);
                let agreed = self.agree(&op, &got);
                self.model.now = now;
                agreed?;
            } else {
                self.agree(&op, &got)?;
            }
        }
        self.check_everything()
    }

    /// Flips one byte of a log segment other than the newest, if there is one.
    fn corrupt_old_segment(&mut self) -> Result<Option<Corruption>, String> {
        let mut segments: Vec<PathBuf> = std::fs::read_dir(&self.dir.0)
            .map_err(|e| format!("list: {e}"))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        segments.sort();
        segments.pop();
        if segments.is_empty() {
            return Ok(None);
        }
        let path = segments.swap_remove(self.choices.below(segments.len() as u64) as usize);
        let mut bytes = std::fs::read(&path).map_err(|e| format!("read: {e}"))?;
        if bytes.is_empty() {
            return Ok(None);
        }
        let at = self.choices.below(bytes.len() as u64) as usize;
        let original = bytes[at];
        bytes[at] ^= 1 + self.choices.below(255) as u8;
        std::fs::write(&path, &bytes).map_err(|e| format!("write: {e}"))?;
        Ok(Some(Corruption { path, at, original }))
    }

    /// Balances, records (every one, and pages both ways), the engine's own
    /// invariants, and the webhook subscription.
    fn check_everything(&mut self) -> Result<(), String> {
        let engine = self.engine();
        model::check_balances(engine, &self.wallets, &self.model)?;
        model::check_records(engine, &self.wallets, &self.model)?;
        model::check_paging(engine, &self.model)?;
        engine.check_invariants();
        let subscribed = usize::from(self.hooks.sub.is_some());
        let listed = engine.webhook_subscriptions(&chan(0)).len();
        if listed != subscribed {
            return Err(format!(
                "{listed} webhook subscriptions after the restart, not {subscribed}"
            ));
        }
        self.check_leaderboard()
    }

    /// The end of a run: a last restart if the log failed, then every delivery is
    /// let through until none is left. Every committed change and published event
    /// must have reached the receiver.
    fn finish(&mut self) -> Result<(), String> {
        if self.failed.is_some() {
            self.crash()?;
        }
        self.check_everything()?;
        self.reconcile()?;
        self.finish_tournament()?;
        let held = std::mem::take(&mut self.hooks.held);
        for (sub, d) in held {
            self.send(sub, d, Fate::Delivered)?;
        }
        for _ in 0..32 {
            // Past the longest retry wait.
            self.advance(11 * 3_600_000);
            let due = self.engine().webhooks_due(100_000, 100_000);
            let failed = self.engine().failed_deliveries(&chan(0), page_all());
            if due.is_empty() && failed.is_empty() {
                break;
            }
            for (sub, d) in due {
                self.send(sub.id, d, Fate::Delivered)?;
            }
            for d in failed {
                self.engine()
                    .redeliver_pending(&chan(0), Some(d.sub), d.event.id)
                    .wait()
                    .map_err(|e| format!("redeliver: {e}"))?;
            }
        }
        // Every received event was checked against the committed changes as it
        // came (`receive`); here, everything required must have come.
        let hooks = &self.hooks;
        let mut missing: Vec<String> = hooks
            .announceable()
            .filter(|what| !hooks.excused.contains(what) && !hooks.announced.contains_key(what))
            .collect();
        if !missing.is_empty() {
            missing.sort();
            return Err(format!("never delivered: {missing:?}"));
        }
        let got = hooks.announced.len();
        self.note(format!("finished: {got} events delivered"));
        Ok(())
    }
}

/// The seamless side: the players' wallets here and every id sent, per player.
#[derive(Default)]
struct Seamless {
    wallets: Vec<WalletId>,
    bets: [Vec<String>; 2],
    wins: [Vec<String>; 2],
    next: u32,
}

impl Seamless {
    /// A new bet id, or now and then one sent before (a game server's retry).
    fn bet_id(&mut self, c: &mut Choices, p: usize) -> String {
        if let (false, Some(bet)) = (c.one_in(8), self.bets[p].last()) {
            return bet.clone();
        }
        self.next += 1;
        let id = format!("s{}", self.next);
        self.bets[p].push(id.clone());
        id
    }

    /// One of the player's last few bets (its round is `sr<bet>`).
    fn recent_bet(&self, c: &mut Choices, p: usize) -> Option<String> {
        let bets = &self.bets[p];
        let back = c.below(bets.len().min(4) as u64) as usize;
        bets.len().checked_sub(1 + back).map(|i| bets[i].clone())
    }

    /// The win id of a round: one per round (`w<bet>`), sent again now and then.
    fn win_id(&mut self, p: usize, bet: &str) -> String {
        let id = format!("w{bet}");
        if !self.wins[p].contains(&id) {
            self.wins[p].push(id.clone());
        }
        id
    }
}

/// The seamless operator (channel `chS`, its wallet behind the simulated network)
/// and its two players, `s0` and `s1`.
fn seamless_players(engine: &Engine) -> Result<Vec<WalletId>, String> {
    let client = sim_id(ClientId::new("sim-operator"))?;
    let op = engine
        .create_operator(NewOperator {
            client_id: client.clone(),
            channel: sim_id(ChannelId::new("chS"))?,
            currencies: vec![model::wallet_currency()],
            wallet_mode: WalletMode::Seamless,
            password: "simulated password".into(),
        })
        .map_err(|e| format!("operator: {e}"))?;
    let remote = RemoteWallet::new(WalletDialect::Bank, "http://wallet.sim")
        .ok_or("the wallet's address")?;
    engine
        .set_operator_wallet(&client, WalletMode::Seamless, Some(remote))
        .map_err(|e| format!("seamless mode: {e}"))?;
    (0..2)
        .map(|p| {
            let player = sim_id(PlayerId::new(&format!("s{p}")))?;
            engine
                .login_player(&op, &player, "pw")
                .map(|s| s.wallet)
                .map_err(|e| format!("player: {e}"))
        })
        .collect()
}

fn sim_id<T>(id: Result<T, crate::ids::IdError>) -> Result<T, String> {
    id.map_err(|e| e.to_string())
}

/// A byte flipped in a segment, to be put back.
struct Corruption {
    path: PathBuf,
    at: usize,
    original: u8,
}

impl Corruption {
    fn file_name(&self) -> String {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string()
    }

    fn restore(&self) -> Result<(), String> {
        let mut bytes = std::fs::read(&self.path).map_err(|e| format!("read: {e}"))?;
        if let Some(b) = bytes.get_mut(self.at) {
            *b = self.original;
        }
        std::fs::write(&self.path, &bytes).map_err(|e| format!("write: {e}"))
    }
}

/// A seamless call's answer for the trace: the amount, or the error's kind (not its
/// message, which may name the scratch directory).
fn answer(got: Option<Result<crate::ledger::types::Receipt, EngineError>>) -> String {
    match got {
        Some(got) => format!(
            "{:?}",
            got.map(|r| r.amount).map_err(|e| model::error_kind(&e))
        ),
        None => "the caller hung up".into(),
    }
}

/// An amount that is usually small, sometimes zero, negative or extreme.
fn amount(c: &mut Choices) -> i64 {
    match c.below(8) {
        0 => 0,
        1 => -5,
        2 => i64::MAX,
        3 => i64::MAX / 2 + 1,
        _ => c.range(1, 200),
    }
}

/// The wallet and transaction id an operation is keyed by (money operations).
/// A deposit, withdrawal or bet whose id the model's wallet has not applied: what
/// admission refuses while the archiver is behind.
fn is_new_work(op: &Op, model: &Model) -> bool {
    match *op {
        Op::Deposit { w, tx, .. } | Op::Withdraw { w, tx, .. } | Op::Bet { w, tx, .. } => {
            !matches!(model.wallets[w].txs.get(&tx), Some((_, Ok(_))))
        }
        _ => false,
    }
}

fn tx_of(op: &Op) -> Option<(usize, u32)> {
    match *op {
        Op::Deposit { w, tx, .. }
        | Op::Withdraw { w, tx, .. }
        | Op::Bet { w, tx, .. }
        | Op::Win { w, tx, .. }
        | Op::Refund { w, tx, .. }
        | Op::Prize { w, tx, .. }
        | Op::EndRound { w, tx, .. } => Some((w, tx)),
        _ => None,
    }
}

/// What an operation would have to write: changes when the model changes.
fn fingerprint(m: &Model) -> (u64, Vec<(i64, usize, usize, usize)>) {
    let wallets = m
        .wallets
        .iter()
        .map(|w| (w.available, w.txs.len(), w.open.len(), w.closed.len()))
        .collect();
    (m.next_record, wallets)
}

/// A storage failure (the log's or the history store's), by its kind's name.
fn is_storage(kind: &str) -> bool {
    matches!(kind, "Journal" | "Storage")
}

fn chan(i: usize) -> ChannelId {
    #[allow(clippy::expect_used)]
    ChannelId::new(model::CHANNELS[i]).expect("a valid channel")
}

fn page_all() -> Page {
    #[allow(clippy::expect_used)]
    Page::new(0, 1000).expect("a valid page")
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
