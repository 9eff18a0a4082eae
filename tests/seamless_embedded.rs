//! Seamless rounds through the library alone (no server, no tokio): an embedder
//! attaches its own transport (`RemoteWallets`), here an in-memory wallet that can
//! lose answers, and drives the async calls with a ten-line executor. Covers a taken
//! bet and a paid win, a repeated id answered without a call, a bet whose answer is
//! lost (status 3, rolled back), a win that fails (status 4, retried with the same id
//! until paid once), and an unfinished call that survives closing and reopening the
//! data directory.

use pitboss::identity::types::{NewOperator, RemoteWallet, WalletDialect, WalletMode};
use pitboss::ledger::round::{RoundEnd, RoundStatus};
use pitboss::seamless::{RemoteAnswer, RemoteCall, RemoteOp, RemoteWallets, SeamlessError};
use pitboss::simulation::network::{self, block_on};
use pitboss::storage::StdFs;
use pitboss::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// The defaults, with the cheapest password hashing (logins in tests).
fn fast_config() -> EngineConfig {
    EngineConfig {
        identity: pitboss::identity::IdentityConfig {
            argon2: pitboss::identity::secrets::Argon2Params::insecure_for_tests(),
            ..Default::default()
        },
        ..EngineConfig::default()
    }
}

/// What the fake wallet does with the next calls.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Works,
    /// Applies the call, then loses the answer.
    LosesAnswers,
    /// Applies nothing, answers nothing.
    Down,
    /// Applies the call and never answers (a wallet slower than the game server's
    /// patience).
    Hangs,
}

/// The simulator's operator wallet (`simulation::network::Books`), counting calls.
#[derive(Default)]
struct Books {
    inner: network::Books,
    calls: usize,
}

impl std::ops::Deref for Books {
    type Target = network::Books;
    fn deref(&self) -> &network::Books {
        &self.inner
    }
}

impl std::ops::DerefMut for Books {
    fn deref_mut(&mut self) -> &mut network::Books {
        &mut self.inner
    }
}

struct FakeWallet {
    books: Mutex<Books>,
    mode: Mutex<Mode>,
}

impl FakeWallet {
    fn answer(&self, call: &RemoteCall) -> RemoteAnswer {
        let mode = *self.mode.lock().expect("mode");
        let mut b = self.books.lock().expect("books");
        b.calls += 1;
        if mode == Mode::Down {
            return RemoteAnswer::Unknown("down".into());
        }
        match (mode, b.answer(call)) {
            (Mode::LosesAnswers, RemoteAnswer::Done { .. })
                if !matches!(call.op, RemoteOp::Balance) =>
            {
                RemoteAnswer::Unknown("answer lost".into())
            }
            (_, answer) => answer,
        }
    }
}

struct Transport(Arc<FakeWallet>);

impl RemoteWallets for Transport {
    fn send(&self, call: RemoteCall) -> Pin<Box<dyn Future<Output = RemoteAnswer> + Send>> {
        let hangs = *self.0.mode.lock().expect("mode") == Mode::Hangs;
        let answer = self.0.answer(&call);
        if hangs {
            return Box::pin(std::future::pending());
        }
        Box::pin(async move { answer })
    }
}

/// Polls `call` until the wallet has seen one more call (it must still be waiting
/// for the answer then).
fn until_the_wallet_is_called<F: Future>(wallet: &FakeWallet, mut call: Pin<&mut F>) {
    let seen = wallet.books.lock().expect("books").calls;
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..1_000 {
        if call.as_mut().poll(&mut cx).is_ready() {
            panic!("the call ended before its answer came");
        }
        if wallet.books.lock().expect("books").calls > seen {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("the call never reached the wallet");
}

/// Polls `call` until the wallet has it, then drops it, as hyper drops a request's
/// future when its client hangs up.
fn hang_up_during_the_call<F: Future>(wallet: &FakeWallet, call: F) {
    until_the_wallet_is_called(wallet, std::pin::pin!(call));
}

fn id<T>(r: Result<T, pitboss::ids::IdError>) -> T {
    r.expect("a valid id")
}

fn bet(tx: &str, round: &str, amount: i64) -> BetRequest {
    BetRequest {
        tx: id(TxId::new(tx)),
        round: id(RoundId::new(round)),
        game: GameRef::bare(id(GameId::new("slot_alice"))),
        amount: Amount::new(amount),
        meta: PlayMeta::default(),
    }
}

fn win(tx: &str, round: &str, amount: i64) -> WinRequest {
    WinRequest {
        tx: id(TxId::new(tx)),
        round: id(RoundId::new(round)),
        game: id(GameId::new("slot_alice")),
        amount: Amount::new(amount),
        breakdown: None,
        keep_open: false,
    }
}

/// A seamless operator with one player whose wallet (here) is returned.
fn seamless_player(engine: &Engine) -> WalletId {
    let op = match engine.operator(&id(ClientId::new("brand"))) {
        Some(op) => op,
        None => Arc::new(
            engine
                .create_operator(NewOperator {
                    client_id: id(ClientId::new("brand")),
                    channel: id(ChannelId::new("brand-ch")),
                    currencies: vec![id(Currency::new("CNY"))],
                    wallet_mode: WalletMode::Seamless,
                    password: "a password".into(),
                })
                .expect("operator"),
        ),
    };
    let remote = RemoteWallet::new(WalletDialect::Bank, "http://wallet.example").expect("url");
    engine
        .set_operator_wallet(&op.client_id, WalletMode::Seamless, Some(remote))
        .expect("seamless");
    engine
        .login_player(&op, &id(PlayerId::new("ann")), "pw")
        .expect("login")
        .wallet
}

fn fake(balance: i64) -> Arc<FakeWallet> {
    let mut books = Books::default();
    books.balance.insert("ann".into(), balance);
    Arc::new(FakeWallet {
        books: Mutex::new(books),
        mode: Mutex::new(Mode::Works),
    })
}

/// An in-memory engine on a manual clock, its seamless player's wallet, and the
/// fake operator's wallet (holding `balance`) attached as its transport.
fn seamless_in_memory(balance: i64) -> (Arc<ManualClock>, Engine, WalletId, Arc<FakeWallet>) {
    let clock = Arc::new(ManualClock::new(1_741_330_280_000));
    let engine = Engine::in_memory_with_clock(fast_config(), clock.clone());
    let w = seamless_player(&engine);
    let wallet = fake(balance);
    engine.attach_remote_wallets(Arc::new(Transport(wallet.clone())));
    (clock, engine, w, wallet)
}

fn set_mode(w: &FakeWallet, mode: Mode) {
    *w.mode.lock().expect("mode") = mode;
}

/// Runs due retries until none is left, moving the clock past each backoff.
fn run_retries_out(engine: &Engine, clock: &ManualClock) {
    for _ in 0..20 {
        if engine.seamless_calls_unfinished() == 0 {
            return;
        }
        clock.advance_ms(301_000);
        block_on(engine.seamless_retry_due(100));
    }
    panic!("{} calls unfinished", engine.seamless_calls_unfinished());
}

#[test]
fn seamless_rounds_through_the_library() {
    let clock = Arc::new(ManualClock::new(1_741_330_280_000));
    let engine = Engine::in_memory_with_clock(fast_config(), clock.clone());
    let w = seamless_player(&engine);
    let wallet = fake(1_000);
    // Without a transport nothing can be sent: refused, and nothing is left logged.
    let early = block_on(engine.seamless_bet(w, &bet("b0", "r0", 100)));
    assert!(matches!(early, Err(EngineError::Seamless(_))), "{early:?}");
    assert_eq!(engine.seamless_calls_unfinished(), 0);
    engine.attach_remote_wallets(Arc::new(Transport(wallet.clone())));
    let channel = id(ChannelId::new("brand-ch"));

    // A bet and a win: the money moves there, the round and its record stay here.
    let r = block_on(engine.seamless_bet(w, &bet("b1", "r1", 100))).expect("bet");
    assert_eq!(
        r.balance.available,
        Amount::new(900),
        "the wallet's balance"
    );
    let r = block_on(engine.seamless_win(w, &win("w1", "r1", 250))).expect("win");
    assert_eq!(r.balance.available, Amount::new(1_150));
    let record = engine
        .game_record(&channel, r.record.expect("closed"))
        .expect("record");
    assert_eq!(
        (record.total_bet, record.total_win),
        (Amount::new(100), Amount::new(250))
    );
    assert_eq!(engine.balance(w).expect("balance").available, Amount::ZERO);
    // A repeated id is answered here, without a call.
    let calls = wallet.books.lock().expect("books").calls;
    let again = block_on(engine.seamless_bet(w, &bet("b1", "r1", 100))).expect("replay");
    assert!(again.replayed);
    assert_eq!(wallet.books.lock().expect("books").calls, calls);
    // A declined bet opens nothing.
    let poor = block_on(engine.seamless_bet(w, &bet("b2", "r2", 5_000)));
    assert!(matches!(poor, Err(EngineError::Seamless(_))), "{poor:?}");
    assert!(engine.incomplete_games(&channel, None).is_empty());

    // A bet whose answer is lost: status 3, then rolled back there and here.
    set_mode(&wallet, Mode::LosesAnswers);
    let lost = block_on(engine.seamless_bet(w, &bet("b3", "r3", 70)));
    assert!(matches!(lost, Err(EngineError::Seamless(_))), "{lost:?}");
    let incomplete = engine.incomplete_games(&channel, None);
    assert_eq!(incomplete.len(), 1);
    assert_eq!(incomplete[0].status, RoundStatus::BetFailed);
    set_mode(&wallet, Mode::Works);
    run_retries_out(&engine, &clock);
    assert!(engine.incomplete_games(&channel, None).is_empty());
    assert_eq!(wallet.books.lock().expect("books").balance["ann"], 1_150);

    // A win that fails: status 4, retried with the same id, paid once.
    block_on(engine.seamless_bet(w, &bet("b4", "r4", 50))).expect("bet");
    set_mode(&wallet, Mode::Down);
    let failed = block_on(engine.seamless_win(w, &win("w4", "r4", 80)));
    assert!(
        matches!(failed, Err(EngineError::Seamless(_))),
        "{failed:?}"
    );
    assert_eq!(
        engine.incomplete_games(&channel, None)[0].status,
        RoundStatus::CreditFailed
    );
    set_mode(&wallet, Mode::LosesAnswers);
    clock.advance_ms(1_000);
    block_on(engine.seamless_retry_due(10));
    set_mode(&wallet, Mode::Works);
    run_retries_out(&engine, &clock);
    assert!(engine.incomplete_games(&channel, None).is_empty());
    let books = wallet.books.lock().expect("books");
    assert_eq!(books.balance["ann"], 1_150 - 50 + 80, "the win paid once");
    let paid = engine
        .transaction(w, &id(TxId::new("w4")))
        .expect("query")
        .expect("applied here");
    assert_eq!(paid.amount, Amount::new(80));
    engine.check_invariants();
}

#[test]
fn an_unfinished_call_survives_a_restart_of_an_embedded_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(1_741_330_280_000));
    let open = || {
        Engine::open_with(dir.path(), fast_config(), clock.clone(), Arc::new(StdFs)).expect("open")
    };
    let wallet = fake(500);
    let w = {
        let engine = open();
        let w = seamless_player(&engine);
        engine.attach_remote_wallets(Arc::new(Transport(wallet.clone())));
        block_on(engine.seamless_bet(w, &bet("b1", "r1", 100))).expect("bet");
        set_mode(&wallet, Mode::Down);
        assert!(block_on(engine.seamless_win(w, &win("w1", "r1", 300))).is_err());
        assert_eq!(engine.seamless_calls_unfinished(), 1);
        w
    };
    // Reopened: the win's call is still there, and is paid once the wallet answers.
    let engine = open();
    assert_eq!(engine.seamless_calls_unfinished(), 1);
    engine.attach_remote_wallets(Arc::new(Transport(wallet.clone())));
    set_mode(&wallet, Mode::Works);
    run_retries_out(&engine, &clock);
    let r = engine
        .transaction(w, &id(TxId::new("w1")))
        .expect("query")
        .expect("paid");
    let channel = id(ChannelId::new("brand-ch"));
    let record = engine
        .game_record(&channel, r.record.expect("closed"))
        .expect("record");
    assert_eq!(record.end, RoundEnd::Settled);
    assert_eq!(wallet.books.lock().expect("books").balance["ann"], 700);
    engine.check_invariants();
}

/// A round whose win and a refund of its bet are both unfinished would pay the
/// player twice (the operator's wallet returns the bet and pays the win; here only
/// one of them could apply). Found by the simulator; either call waits for the
/// other: a refund is refused while the win is being paid (status 4), and a win
/// is "in progress" while a refund of the round's bet is.
#[test]
fn a_win_and_a_refund_of_one_round_never_both_go_out() {
    let (clock, engine, w, wallet) = seamless_in_memory(1_000);
    let refund = |bet_tx: &str| RefundRequest {
        tx: pitboss::engine::refund_tx(&id(TxId::new(bet_tx))).expect("refund id"),
        bet_tx: id(TxId::new(bet_tx)),
    };

    // The win is being paid: the refund is refused, the win is paid once.
    block_on(engine.seamless_bet(w, &bet("b1", "r1", 100))).expect("bet");
    set_mode(&wallet, Mode::Down);
    assert!(block_on(engine.seamless_win(w, &win("w1", "r1", 300))).is_err());
    set_mode(&wallet, Mode::Works);
    let refused = block_on(engine.seamless_refund(w, &refund("b1")));
    assert!(
        matches!(
            refused,
            Err(EngineError::Ledger(LedgerError::WrongState { .. }))
        ),
        "{refused:?}"
    );
    run_retries_out(&engine, &clock);
    assert_eq!(wallet.books.lock().expect("books").balance["ann"], 1_200);

    // The refund is being sent: the win waits ("in progress"); the bet comes back.
    block_on(engine.seamless_bet(w, &bet("b2", "r2", 100))).expect("bet");
    set_mode(&wallet, Mode::Down);
    assert!(block_on(engine.seamless_refund(w, &refund("b2"))).is_err());
    set_mode(&wallet, Mode::Works);
    let waiting = block_on(engine.seamless_win(w, &win("w2", "r2", 300)));
    assert!(
        matches!(
            waiting,
            Err(EngineError::Seamless(SeamlessError::InProgress(_)))
        ),
        "{waiting:?}"
    );
    run_retries_out(&engine, &clock);
    assert_eq!(wallet.books.lock().expect("books").balance["ann"], 1_200);
    let late = block_on(engine.seamless_win(w, &win("w2", "r2", 300)));
    assert!(late.is_err(), "the round was refunded: {late:?}");
    assert_eq!(wallet.books.lock().expect("books").balance["ann"], 1_200);

    // The win's first attempt is out (the round still open, not yet status 4): a
    // refund of its bet, and a second bet of the round, wait for it.
    block_on(engine.seamless_bet(w, &bet("b3", "r3", 100))).expect("bet");
    set_mode(&wallet, Mode::Hangs);
    let w3 = win("w3", "r3", 300);
    let mut win_out = Box::pin(engine.seamless_win(w, &w3));
    until_the_wallet_is_called(&wallet, win_out.as_mut());
    set_mode(&wallet, Mode::Works);
    for waits in [
        block_on(engine.seamless_refund(w, &refund("b3"))),
        block_on(engine.seamless_bet(w, &bet("b4", "r3", 10))),
    ] {
        assert!(
            matches!(
                waits,
                Err(EngineError::Seamless(SeamlessError::InProgress(_)))
            ),
            "{waits:?}"
        );
    }
    // The win's caller hangs up; the retry driver pays it once.
    drop(win_out);
    run_retries_out(&engine, &clock);
    assert_eq!(
        wallet.books.lock().expect("books").balance["ann"],
        1_200 - 100 + 300
    );
    engine.check_invariants();
}

/// A game server that hangs up while its bet or win is with the operator's wallet
/// (hyper then drops the request's future) must not leave the call stuck in flight
/// until a restart: the retry driver takes it up as after a restart. The bet is
/// rolled back (its round listed as status 3 meanwhile), the win is paid once, and
/// the ids are usable again.
#[test]
fn a_call_whose_caller_hangs_up_goes_to_the_retry_driver() {
    let (clock, engine, w, wallet) = seamless_in_memory(1_000);
    let channel = id(ChannelId::new("brand-ch"));

    // The bet: taken by the wallet, its answer never read.
    set_mode(&wallet, Mode::Hangs);
    hang_up_during_the_call(&wallet, engine.seamless_bet(w, &bet("b1", "r1", 100)));
    assert_eq!(wallet.books.lock().expect("books").balance["ann"], 900);
    set_mode(&wallet, Mode::Works);
    assert_eq!(
        block_on(engine.seamless_retry_due(10)),
        1,
        "the call is due, not in flight"
    );
    // Rolled back here (status 3) and returned there.
    run_retries_out(&engine, &clock);
    assert!(engine.incomplete_games(&channel, None).is_empty());
    assert_eq!(wallet.books.lock().expect("books").balance["ann"], 1_000);
    let again = block_on(engine.seamless_bet(w, &bet("b1", "r1", 100)));
    assert!(
        matches!(
            again,
            Err(EngineError::Seamless(SeamlessError::RolledBack(_)))
        ),
        "{again:?}"
    );

    // The win: paid by the wallet, its answer never read; sent again with its id.
    block_on(engine.seamless_bet(w, &bet("b2", "r2", 100))).expect("bet");
    set_mode(&wallet, Mode::Hangs);
    hang_up_during_the_call(&wallet, engine.seamless_win(w, &win("w2", "r2", 300)));
    set_mode(&wallet, Mode::Works);
    run_retries_out(&engine, &clock);
    assert_eq!(
        wallet.books.lock().expect("books").balance["ann"],
        1_000 - 100 + 300,
        "the win paid once"
    );
    let paid = engine
        .transaction(w, &id(TxId::new("w2")))
        .expect("query")
        .expect("applied here");
    assert_eq!(paid.amount, Amount::new(300));
    assert!(engine.incomplete_games(&channel, None).is_empty());
    engine.check_invariants();
}

/// An expiry returns through the wallet every bet the wallet took of the rounds it
/// expires, a round at status 3 included: there one bet's outcome was unknown (and
/// it was rolled back), but another bet of the round was taken.
#[test]
fn an_expiry_returns_the_taken_bets_of_a_round_at_status_3() {
    let (clock, engine, w, wallet) = seamless_in_memory(1_000);
    let channel = id(ChannelId::new("brand-ch"));

    block_on(engine.seamless_bet(w, &bet("b1", "r1", 100))).expect("taken");
    set_mode(&wallet, Mode::LosesAnswers);
    assert!(block_on(engine.seamless_bet(w, &bet("b2", "r1", 30))).is_err());
    set_mode(&wallet, Mode::Works);
    run_retries_out(&engine, &clock);
    // b2 is back; b1 is still out, in a round at status 3.
    assert_eq!(wallet.books.lock().expect("books").balance["ann"], 900);
    let incomplete = engine.incomplete_games(&channel, None);
    assert_eq!(incomplete.len(), 1);
    assert_eq!(incomplete[0].status, RoundStatus::BetFailed);

    let expired = engine
        .expire_player_rounds(&channel, &id(PlayerId::new("ann")))
        .expect("expire");
    assert_eq!(expired.len(), 1);
    run_retries_out(&engine, &clock);
    assert_eq!(
        wallet.books.lock().expect("books").balance["ann"],
        1_000,
        "the taken bet came back"
    );
    assert!(engine.incomplete_games(&channel, None).is_empty());
    engine.check_invariants();
}

/// A call logged and handed straight to the retry driver (here an expiry's return of
/// a taken bet) is not sent before its record is durable: with the disk refusing
/// every fsync, the driver sends nothing.
#[test]
fn a_call_handed_to_the_retry_driver_waits_for_its_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(1_741_330_280_000));
    let fs = pitboss::storage::FaultyFs::new();
    let engine = Engine::open_with(
        dir.path(),
        fast_config(),
        clock.clone(),
        Arc::new(fs.clone()),
    )
    .expect("open");
    let w = seamless_player(&engine);
    let wallet = fake(1_000);
    engine.attach_remote_wallets(Arc::new(Transport(wallet.clone())));
    let channel = id(ChannelId::new("brand-ch"));
    block_on(engine.seamless_bet(w, &bet("b1", "r1", 100))).expect("taken");

    fs.fail_syncs(true);
    let calls = wallet.books.lock().expect("books").calls;
    let expired = engine.expire_player_rounds(&channel, &id(PlayerId::new("ann")));
    assert!(expired.is_err(), "the log failed: {expired:?}");
    clock.advance_ms(1_000);
    block_on(engine.seamless_retry_due(10));
    assert_eq!(
        wallet.books.lock().expect("books").calls,
        calls,
        "nothing sent that the log does not hold"
    );
    assert_eq!(wallet.books.lock().expect("books").balance["ann"], 900);
}
