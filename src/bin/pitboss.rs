//! The `pitboss` binary: parses arguments and calls into `pitboss::server`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use clap::{Parser, Subcommand};
use pitboss::server::{cli, serve};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pitboss",
    version,
    about = "Game-platform engine server and its admin CLI"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the platform API over HTTP.
    Serve(serve::ServeArgs),
    /// Administers a running server (needs its admin token).
    Admin {
        #[command(flatten)]
        connection: cli::AdminConnection,
        #[command(subcommand)]
        command: cli::AdminCommand,
    },
    /// Prints an operator's apiKey for its client id; the password is read from a
    /// prompt, or from standard input (`echo "$PW" | pitboss login acme`).
    Login {
        client_id: String,
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
    },
}

fn main() -> ExitCode {
    let result: Result<(), Box<dyn std::error::Error>> = match Cli::parse().command {
        Command::Serve(args) => serve::serve(args).map_err(Into::into),
        Command::Admin {
            connection,
            command,
        } => cli::admin(&connection, command)
            .map(|out| println!("{out}"))
            .map_err(Into::into),
        Command::Login { client_id, server } => cli::read_password()
            .and_then(|password| cli::login(&server, &client_id, &password))
            .map(|out| println!("{out}"))
            .map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pitboss: {e}");
            ExitCode::FAILURE
        }
    }
}
