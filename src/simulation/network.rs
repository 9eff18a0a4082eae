//! The simulated network and the operator's wallet behind it (seamless mode): the
//! engine's [`RemoteWallets`] transport in the simulator. Each call meets a fate
//! drawn from the network's own [`Choices`] (seeded from the run's, so a seed still
//! gives one run): answered; lost before the wallet; done by the wallet with the
//! answer lost; delayed (the wallet gets it at a later step, after newer calls);
//! duplicated; answered "busy"; or still waiting when its caller hangs up (the
//! wallet did it or not; the engine's future is dropped, as hyper drops a request's
//! when the game server disconnects: [`call_or_hang_up`]).
//!
//! The wallet keeps its books as a real one would: an id applied once is answered
//! again without moving money, and a refund of a bet it never saw cancels that bet,
//! so that the bet, arriving late, is refused.

use super::Choices;
use crate::money::Amount;
use crate::seamless::{Decline, RemoteAnswer, RemoteCall, RemoteOp, RemoteWallets};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake};

/// What each of the wallet's players starts with, in minor units.
pub const FUNDS: i64 = 1_000_000;

/// What a call met on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallFate {
    Answered,
    LostBefore,
    AnswerLost,
    Delayed,
    Duplicated,
    Busy,
    /// The caller hung up while the call was out (done by the wallet or not).
    CallerGone,
}

/// The operator's wallet: balances and applied ids (ordered maps: the simulator
/// iterates them, and must do so the same way every run).
#[derive(Debug, Default)]
pub struct Books {
    pub balance: BTreeMap<String, i64>,
    /// (player, id) → amount moved (a refund's id is `refund:<bet>`).
    pub applied: BTreeMap<(String, String), i64>,
    /// (player, bet id) refunded before the bet arrived.
    pub cancelled: BTreeSet<(String, String)>,
}

impl Books {
    /// What the wallet answers `call`, applying it first when it moves money.
    pub fn answer(&mut self, call: &RemoteCall) -> RemoteAnswer {
        let player = call.player.to_string();
        let balance = *self.balance.entry(player.clone()).or_insert(FUNDS);
        let (id, delta) = match &call.op {
            RemoteOp::Balance => {
                return RemoteAnswer::Done {
                    balance: Amount::new(balance),
                }
            }
            RemoteOp::Bet { tx, amount, .. } => {
                let key = (player.clone(), tx.to_string());
                if self.cancelled.contains(&key) {
                    return RemoteAnswer::Declined {
                        reason: Decline::Refused,
                        message: "cancelled".into(),
                    };
                }
                if !self.applied.contains_key(&key) && amount.minor_units() > balance {
                    return RemoteAnswer::Declined {
                        reason: Decline::InsufficientBalance,
                        message: "insufficient balance".into(),
                    };
                }
                (tx.to_string(), -amount.minor_units())
            }
            RemoteOp::Credit { tx, amount, .. } | RemoteOp::Prize { tx, amount } => {
                (tx.to_string(), amount.minor_units())
            }
            RemoteOp::Refund { bet_tx, .. } => {
                let bet = (player.clone(), bet_tx.to_string());
                let Some(taken) = self.applied.get(&bet).copied() else {
                    self.cancelled.insert(bet);
                    return RemoteAnswer::NoSuchBet;
                };
                (format!("refund:{bet_tx}"), -taken)
            }
        };
        if let std::collections::btree_map::Entry::Vacant(e) =
            self.applied.entry((player.clone(), id))
        {
            e.insert(delta);
            *self.balance.entry(player.clone()).or_insert(FUNDS) += delta;
        }
        RemoteAnswer::Done {
            balance: Amount::new(self.balance[&player]),
        }
    }
}

/// The network and the wallet, shared by the engine's transport and the simulator.
pub struct Network {
    state: Mutex<NetState>,
}

struct NetState {
    choices: Choices,
    faults: bool,
    books: Books,
    delayed: Vec<RemoteCall>,
    fates: Vec<CallFate>,
    /// A call is waiting for an answer that will not come: its caller hangs up.
    hung: bool,
}

impl Network {
    pub fn new(choices: Choices) -> Arc<Network> {
        Arc::new(Network {
            state: Mutex::new(NetState {
                choices,
                faults: true,
                books: Books::default(),
                delayed: Vec::new(),
                fates: Vec::new(),
                hung: false,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, NetState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Faults on or off (off: every call is answered).
    pub fn set_faults(&self, on: bool) {
        self.state().faults = on;
    }

    /// The fates met since the last call of this (for the step's trace).
    pub fn take_fates(&self) -> Vec<CallFate> {
        std::mem::take(&mut self.state().fates)
    }

    /// Delivers one delayed call (chosen by the network), or all of them.
    pub fn release_delayed(&self, all: bool) -> usize {
        let mut s = self.state();
        let n = if all { s.delayed.len() } else { 1 };
        let mut released = 0;
        for _ in 0..n {
            if s.delayed.is_empty() {
                break;
            }
            let waiting = s.delayed.len() as u64;
            let i = s.choices.below(waiting) as usize;
            let call = s.delayed.swap_remove(i);
            s.books.answer(&call);
            released += 1;
        }
        released
    }

    /// Reads the wallet's books.
    pub fn with_books<T>(&self, f: impl FnOnce(&Books) -> T) -> T {
        f(&self.state().books)
    }

    /// The answer to `call`, or `None` if it never comes (its caller hangs up).
    fn call(&self, call: RemoteCall) -> Option<RemoteAnswer> {
        let mut s = self.state();
        let fate = if s.faults {
            match s.choices.weighted(&[70, 8, 8, 6, 4, 4, 3]) {
                0 => CallFate::Answered,
                1 => CallFate::LostBefore,
                2 => CallFate::AnswerLost,
                3 => CallFate::Delayed,
                4 => CallFate::Duplicated,
                5 => CallFate::Busy,
                _ => CallFate::CallerGone,
            }
        } else {
            CallFate::Answered
        };
        s.fates.push(fate);
        let lost = RemoteAnswer::Unknown("simulated: no answer".into());
        Some(match fate {
            CallFate::Answered => s.books.answer(&call),
            CallFate::LostBefore => lost,
            CallFate::AnswerLost => {
                s.books.answer(&call);
                lost
            }
            CallFate::Delayed => {
                s.delayed.push(call);
                lost
            }
            CallFate::Duplicated => {
                s.books.answer(&call);
                s.books.answer(&call)
            }
            CallFate::Busy => RemoteAnswer::Busy,
            CallFate::CallerGone => {
                if s.choices.below(2) == 0 {
                    s.books.answer(&call);
                }
                s.hung = true;
                return None;
            }
        })
    }

    /// Whether a call is hanging since the last look (and forgets it).
    fn take_hung(&self) -> bool {
        std::mem::take(&mut self.state().hung)
    }
}

/// The engine's transport: every call goes through the simulated network, and is
/// answered before the future is first polled.
pub struct Transport(pub Arc<Network>);

impl RemoteWallets for Transport {
    fn send(&self, call: RemoteCall) -> Pin<Box<dyn Future<Output = RemoteAnswer> + Send>> {
        match self.0.call(call) {
            Some(answer) => Box::pin(async move { answer }),
            None => Box::pin(std::future::pending()),
        }
    }
}

/// [`block_on`] for a seamless call through `net`: `None` if a call it made is left
/// hanging, in which case its caller hangs up (the future is dropped there).
pub fn call_or_hang_up<F: Future>(net: &Network, f: F) -> Option<F::Output> {
    // Nothing will wake a hanging call: hang up.
    run_on_this_thread(f, || net.take_hung())
}

/// Runs a future to completion on this thread (the engine's seamless calls are
/// async; their durability waits wake this thread).
pub fn block_on<F: Future>(f: F) -> F::Output {
    match run_on_this_thread(f, || false) {
        Some(v) => v,
        None => unreachable!("a future that is never given up on ends ready"),
    }
}

/// Polls `f` on this thread, parking until it is woken, until it is ready (`Some`)
/// or, when it is pending, `give_up` says to drop it (`None`).
fn run_on_this_thread<F: Future>(f: F, mut give_up: impl FnMut() -> bool) -> Option<F::Output> {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return Some(v),
            Poll::Pending if give_up() => return None,
            Poll::Pending => std::thread::park(),
        }
    }
}
