//! Runs the deterministic simulator (`pitboss::simulation`; docs/simulation.md).
//!
//! ```sh
//! # one seed, as a failure prints it
//! cargo run --release --example simulate -- --seed 42 --steps 5000
//! # seeds 0..1000 in a row
//! cargo run --release --example simulate -- --seed 0 --seeds 1000 --steps 5000
//! # random seeds for eight hours (each seed is printed if it fails)
//! cargo run --release --example simulate -- --minutes 480 --steps 5000
//! ```
//!
//! Prints the steps per second and the totals; exits 1 at the first failure, after
//! printing it with the command that replays it.

use pitboss::simulation::{self, Report};
use std::time::{Duration, Instant};

struct Args {
    seed: Option<u64>,
    seeds: u64,
    steps: u64,
    minutes: Option<u64>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        seed: None,
        seeds: 1,
        steps: 5_000,
        minutes: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .parse::<u64>()
            .map_err(|e| format!("{flag}: {e}"))?;
        match flag.as_str() {
            "--seed" => args.seed = Some(value),
            "--seeds" => args.seeds = value,
            "--steps" => args.steps = value,
            "--minutes" => args.minutes = Some(value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: simulate [--seed N] [--seeds K] [--steps S] [--minutes M]");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let deadline = args.minutes.map(|m| started + Duration::from_secs(m * 60));
    // Without --seed, seeds come from the time: a long run covers new ground.
    let first = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let mut total = Report::default();
    let mut seeds = 0u64;
    loop {
        let seed = first.wrapping_add(seeds);
        match simulation::run(seed, args.steps) {
            Ok(r) => add(&mut total, &r),
            Err(failure) => {
                eprintln!("{failure}");
                std::process::exit(1);
            }
        }
        seeds += 1;
        let more = match deadline {
            Some(d) => Instant::now() < d,
            None => seeds < args.seeds,
        };
        if !more {
            break;
        }
        if seeds.is_multiple_of(100) {
            print_totals(first, seeds, &total, started.elapsed());
        }
    }
    print_totals(first, seeds, &total, started.elapsed());
}

fn add(total: &mut Report, r: &Report) {
    total.steps += r.steps;
    total.crashes += r.crashes;
    total.disk_faults += r.disk_faults;
    total.uncertain_kept += r.uncertain_kept;
    total.admission_refusals += r.admission_refusals;
    total.history_faults += r.history_faults;
    total.corruptions_named += r.corruptions_named;
    total.corruptions_unread += r.corruptions_unread;
    total.archive_passes += r.archive_passes;
    total.snapshots += r.snapshots;
    total.deliveries += r.deliveries;
    total.tournaments += r.tournaments;
    total.prizes += r.prizes;
    total.network_faults += r.network_faults;
    total.trace_hash ^= r.trace_hash;
}

fn print_totals(first: u64, seeds: u64, t: &Report, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "seeds {first}..+{seeds}: {} steps in {secs:.1} s ({:.0} steps/s), 0 failures; \
         {} crashes, {} disk faults ({} kept by the disk), {} history-store faults, \
         {} corrupt segments named, {} not needed, {} archiver passes, {} snapshots, \
         {} webhook deliveries, {} seamless calls meeting a network fault, \
         {} tournaments paying {} prizes, {} operations refused while the archiver \
         was behind; trace {:016x}",
        t.steps,
        t.steps as f64 / secs,
        t.crashes,
        t.disk_faults,
        t.uncertain_kept,
        t.history_faults,
        t.corruptions_named,
        t.corruptions_unread,
        t.archive_passes,
        t.snapshots,
        t.deliveries,
        t.network_faults,
        t.tournaments,
        t.prizes,
        t.admission_refusals,
        t.trace_hash,
    );
}
