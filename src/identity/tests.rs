//! Unit tests of identity: uniqueness, login and sessions, replay and snapshots.

use super::secrets::Argon2Params;
use super::*;
use crate::ids::Currency;
use crate::journal::MemoryJournal;

fn identity() -> Identity<MemoryJournal<IdentityEffect>> {
    let config = IdentityConfig {
        argon2: Argon2Params::insecure_for_tests(),
        session_ttl_ms: 1000,
        max_sessions_per_player: 2,
        ..IdentityConfig::default()
    };
    Identity::new(config, MemoryJournal::new())
}

fn new_op(client: &str, channel: &str) -> NewOperator {
    NewOperator {
        client_id: ClientId::new(client).expect("client"),
        channel: ChannelId::new(channel).expect("channel"),
        currencies: vec![Currency::new("CNY").expect("currency")],
        wallet_mode: WalletMode::Transfer,
        password: "pw".into(),
    }
}

fn ch(s: &str) -> ChannelId {
    ChannelId::new(s).expect("channel")
}

fn pl(s: &str) -> PlayerId {
    PlayerId::new(s).expect("player")
}

#[test]
fn operators_are_unique_by_client_and_channel() {
    let id = identity();
    let (op, _) = id.create_operator(new_op("a", "ch-a"), 5).expect("a");
    assert_eq!(op.api_key.expose().len(), 32);
    assert!(matches!(
        id.create_operator(new_op("a", "ch-b"), 5),
        Err(IdentityError::OperatorExists(_))
    ));
    assert!(matches!(
        id.create_operator(new_op("b", "ch-a"), 5),
        Err(IdentityError::ChannelTaken(_))
    ));
    let no_currency = NewOperator {
        currencies: vec![],
        ..new_op("c", "ch-c")
    };
    assert!(matches!(
        id.create_operator(no_currency, 5),
        Err(IdentityError::Invalid { .. })
    ));
    let client = ClientId::new("a").expect("client");
    assert!(id.operator_login(&client, "pw").is_ok());
    assert_eq!(
        id.operator_login(&client, "wrong"),
        Err(IdentityError::WrongCredential)
    );
    assert_eq!(
        id.operator_of(&ch("ch-a")).map(|o| o.client_id.clone()),
        Some(client)
    );
    assert_eq!(format!("{:?}", op.api_key), "Secret(..)");
}

#[test]
fn login_registers_then_checks_the_credential() {
    let id = identity();
    let (first, _) = id
        .login(&ch("c"), &pl("guest"), "123456", 0)
        .expect("register");
    assert!(first.registered);
    assert_eq!(first.player.uid, Uid(1));
    let (second, _) = id
        .login(&ch("c"), &pl("guest"), "123456", 10)
        .expect("login");
    assert!(!second.registered);
    assert_eq!(second.player.uid, Uid(1));
    assert_ne!(first.session.token, second.session.token);
    assert_eq!(
        id.login(&ch("c"), &pl("guest"), "nope", 20).map(|_| ()),
        Err(IdentityError::WrongCredential)
    );
    // The same identifier in another channel is another player.
    let (other, _) = id
        .login(&ch("d"), &pl("guest"), "x", 0)
        .expect("other channel");
    assert_eq!(other.player.uid, Uid(2));
    let token = second.session.token.expose();
    assert!(id.session_player(token, 500).is_some());
    assert!(id.session_player(token, 10_000).is_none(), "expired");
}

#[test]
fn sessions_are_capped_and_ended_by_logout_and_update() {
    let id = identity();
    let tokens: Vec<_> = (0..3)
        .map(|t| {
            id.login(&ch("c"), &pl("p"), "pw", t)
                .expect("login")
                .0
                .session
                .token
        })
        .collect();
    assert!(
        id.session_player(tokens[0].expose(), 5).is_none(),
        "oldest ended"
    );
    assert!(id.session_player(tokens[2].expose(), 5).is_some());
    assert_eq!(
        id.logout(&ch("c"), &pl("p"), "bad", 5).map(|_| ()),
        Err(IdentityError::WrongCredential)
    );
    assert_eq!(id.logout(&ch("c"), &pl("p"), "pw", 5).map(|r| r.0), Ok(2));
    assert!(id.session_player(tokens[2].expose(), 5).is_none());
    let (session, _) = id.login(&ch("c"), &pl("p"), "pw", 6).expect("login");
    id.update_credential(&ch("c"), &pl("p"), "new")
        .expect("update");
    assert!(id
        .session_player(session.session.token.expose(), 7)
        .is_none());
    assert!(id.login(&ch("c"), &pl("p"), "pw", 8).is_err());
    assert!(id.login(&ch("c"), &pl("p"), "new", 8).is_ok());
    assert!(matches!(
        id.update_credential(&ch("c"), &pl("ghost"), "x"),
        Err(IdentityError::PlayerNotFound(_))
    ));
    assert!(matches!(
        id.login(&ch("c"), &pl("p"), &"x".repeat(257), 9),
        Err(IdentityError::Invalid { .. })
    ));
}

#[test]
fn replay_twice_and_import_rebuild_the_same_state() {
    let id = identity();
    id.create_operator(new_op("a", "ch-a"), 0).expect("op");
    let (login, _) = id.login(&ch("c"), &pl("p"), "pw", 0).expect("login");
    id.login(&ch("c"), &pl("q"), "pw", 0).expect("login q");
    id.logout(&ch("c"), &pl("q"), "pw", 1).expect("logout");
    let replica = identity();
    for _ in 0..2 {
        for e in id.journal.effects() {
            replica.replay(e);
        }
    }
    let sorted = |mut s: IdentitySnapshot| {
        s.players.sort_by_key(|p| p.uid);
        s
    };
    assert_eq!(sorted(replica.export()), sorted(id.export()));
    assert!(replica
        .session_player(login.session.token.expose(), 1)
        .is_some());
    let restored = identity();
    restored.import(id.export());
    assert_eq!(sorted(restored.export()), sorted(id.export()));
    let (next, _) = restored
        .login(&ch("c"), &pl("r"), "pw", 2)
        .expect("new player");
    assert_eq!(next.player.uid, Uid(3), "uids continue after import");
}
