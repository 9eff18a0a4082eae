//! Fuzz entry point of the tournament spec: arbitrary bytes as a `tournament/create`
//! body, through the server's parser, the domain's validation of every Publisher Manual
//! §5.2.4 rule, and the engine. Panics only if something breaks: a spec that
//! validates but that the engine refuses to create, or a created tournament whose
//! listing disagrees with its spec.

use crate::engine::{Engine, EngineConfig};
use crate::ids::ChannelId;
use crate::paging::Page;
use crate::server::tournament_spec;

pub fn tournament_spec(data: &[u8]) {
    let Ok(spec) = tournament_spec::parse(data) else {
        return;
    };
    let Ok(config) = spec.validate() else {
        return;
    };
    let engine = Engine::in_memory(EngineConfig::default());
    let Ok(channel) = ChannelId::new("fuzz") else {
        return;
    };
    let created = engine.create_tournament(&channel, &spec);
    // Validation is the only gate on a new channel's first tournament.
    #[allow(clippy::expect_used)]
    let info = created.expect("a spec that validates is created");
    assert_eq!(info.rounds.len(), config.rounds.len());
    let listed = engine.list_tournaments(&channel, Page::first(10));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].start_secs, config.start_secs);
    assert_eq!(listed[0].end_secs, config.end_secs);
}
