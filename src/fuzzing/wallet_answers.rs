//! Fuzz entry point of what operators' wallets answer (seamless mode): arbitrary
//! bytes as the answer to each kind of call, in both dialects, through the readers
//! the transport uses. Panics only if something breaks: an answer that panics, or a
//! bank balance that does not survive being written back as a decimal.

use crate::identity::types::WalletDialect;
use crate::ids::{GameId, RoundId, TxId};
use crate::money::Amount;
use crate::seamless::{RemoteAnswer, RemoteOp};
use crate::server::remote_wallets::read_answer;

pub fn wallet_answers(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let (Ok(tx), Ok(round), Ok(game)) = (TxId::new("t"), RoundId::new("r"), GameId::new("g"))
    else {
        return;
    };
    let amount = Amount::new(100);
    let op = match selector % 4 {
        0 => RemoteOp::Balance,
        1 => RemoteOp::Bet {
            tx,
            round,
            game,
            amount,
        },
        2 => RemoteOp::Credit {
            tx,
            round,
            game,
            amount,
            end_round: true,
        },
        _ => RemoteOp::Refund {
            bet_tx: tx,
            round,
            game,
            amount,
        },
    };
    let dialect = if selector & 4 == 0 {
        WalletDialect::Gate
    } else {
        WalletDialect::Bank
    };
    let exponent = (selector >> 3) % 9;
    let answer = read_answer(dialect, &op, body, exponent);
    if let (WalletDialect::Bank, RemoteAnswer::Done { balance }) = (dialect, &answer) {
        // Read from its own text: writing it back gives the same amount.
        let text = balance.to_decimal(exponent);
        assert_eq!(Amount::parse_decimal(&text, exponent).ok(), Some(*balance));
        assert!(!balance.is_negative());
    }
}
