//! Unit tests of the catalog: uniqueness rules, versions, replay and snapshots.

use super::game::*;
use super::*;
use crate::journal::MemoryJournal;

fn id(s: &str) -> GameId {
    GameId::new(s).expect("game id")
}

fn label(s: &str) -> Label {
    Label::new(s).expect("label")
}

fn new_game(name: &str, serial: u32) -> NewGame {
    NewGame {
        record: None,
        id: id(name),
        kind: label(name),
        serial,
        developer: label("devsz"),
        uri: format!("games/devsz/{name}/client"),
        status: GameStatus::Online,
        config: String::new(),
        version: Some(label("2025.01.01.0001")),
    }
}

#[test]
fn register_assigns_records_and_refuses_duplicates() {
    let c = Catalog::new(MemoryJournal::new());
    let (a, _) = c.register(new_game("a", 1), 10).expect("a");
    assert_eq!(a.record, 1);
    let b = NewGame {
        record: Some(8),
        ..new_game("b", 2)
    };
    assert_eq!(c.register(b, 20).expect("b").0.record, 8);
    assert_eq!(c.register(new_game("c", 3), 30).expect("c").0.record, 9);
    assert!(matches!(
        c.register(new_game("a", 4), 40),
        Err(CatalogError::GameExists(_))
    ));
    assert!(matches!(
        c.register(new_game("d", 1), 40),
        Err(CatalogError::SerialTaken { .. })
    ));
    let taken = NewGame {
        record: Some(8),
        ..new_game("e", 5)
    };
    assert!(matches!(
        c.register(taken, 40),
        Err(CatalogError::RecordTaken { .. })
    ));
    let names: Vec<_> = c.list().into_iter().map(|g| g.id.to_string()).collect();
    assert_eq!(names, ["c", "b", "a"]);
    assert_eq!(c.journal.effects().len(), 3, "rejections are not journaled");
}

#[test]
fn versions_are_newest_first_and_paged() {
    let c = Catalog::new(MemoryJournal::new());
    c.register(new_game("a", 1), 0).expect("a");
    for v in ["2025.01.02.0001", "2025.01.03.0001"] {
        c.add_version(&id("a"), label(v)).expect("version");
    }
    let dup = c.add_version(&id("a"), label("2025.01.02.0001"));
    assert!(matches!(dup, Err(CatalogError::VersionExists { .. })));
    assert_eq!(
        c.get(&id("a")).and_then(|g| g.version().cloned()),
        Some(label("2025.01.03.0001"))
    );
    let page = |p, s| {
        let page = crate::paging::Page::numbered(p, s).expect("a page");
        c.versions(&id("a"), page).expect("versions")
    };
    assert_eq!(
        page(0, 2),
        [label("2025.01.03.0001"), label("2025.01.02.0001")]
    );
    assert_eq!(page(1, 2), [label("2025.01.01.0001")]);
    assert!(page(1_000_000, 2).is_empty());
    assert!(matches!(
        c.versions(&id("x"), crate::paging::Page::first(1)),
        Err(CatalogError::GameNotFound(_))
    ));
}

#[test]
fn replaying_the_journal_twice_rebuilds_the_same_catalog() {
    let c = Catalog::new(MemoryJournal::new());
    c.register(new_game("a", 1), 0).expect("a");
    c.add_version(&id("a"), label("v2")).expect("v2");
    c.set_status(&id("a"), GameStatus::Disabled)
        .expect("status");
    let replica = Catalog::new(MemoryJournal::new());
    for _ in 0..2 {
        for effect in c.journal.effects() {
            replica.replay(effect);
        }
    }
    assert_eq!(replica.export(), c.export());
    let restored = Catalog::new(MemoryJournal::new());
    restored.import(c.export());
    assert_eq!(restored.list(), c.list());
}

#[test]
fn bad_input_is_refused() {
    let c = Catalog::new(MemoryJournal::new());
    let long_uri = NewGame {
        uri: "x".repeat(MAX_URI_LEN + 1),
        ..new_game("a", 1)
    };
    assert!(matches!(
        c.register(long_uri, 0),
        Err(CatalogError::Invalid { .. })
    ));
    let zero = NewGame {
        record: Some(0),
        ..new_game("a", 1)
    };
    assert!(matches!(
        c.register(zero, 0),
        Err(CatalogError::Invalid { .. })
    ));
    assert_eq!(GameStatus::from_code(3), None);
    for s in [GameStatus::Disabled, GameStatus::Online] {
        assert_eq!(GameStatus::from_code(s.code().into()), Some(s));
    }
}
