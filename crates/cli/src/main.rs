//! `bandmate`: one binary for the server, the workers and the offline tools.
//!
//! `main` turns every error into one clear line on stderr and a non-zero exit code.

mod accompany;
mod analyze;
mod plan;
mod synth;

use clap::{Parser, Subcommand};

/// Bandmate: add a band to a vocal.
#[derive(Parser)]
#[command(name = "bandmate", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add a band to a vocal, offline: writes the finished song(s).
    Accompany(Box<accompany::Args>),
    /// Analyse a vocal: key, tempo, beats, notes and f0.
    Analyze(analyze::Args),
    /// Plan the band for a vocal: key, tempo, chords and style from the tags; MIDI on request.
    Plan(plan::Args),
    /// Render a synthetic vocal take (and its ground truth) for tests and benchmarks.
    SynthVocal(synth::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Accompany(args) => accompany::run(*args),
        Command::Analyze(args) => analyze::run(args),
        Command::Plan(args) => plan::run(args),
        Command::SynthVocal(args) => synth::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bandmate: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
