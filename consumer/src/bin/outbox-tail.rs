//! `outbox-tail`: prints the outbox of a cluster or server as JSON lines,
//! one per entry, and acknowledges each once printed.
//!
//! ```text
//! outbox-tail --node 127.0.0.1:7000 [--node …] [--group outbox-tail]
//!             [--consumer <name>] [--count 500] [--lag-every <seconds>]
//!             [--user <name>]
//! ```
//!
//! With `--user`, it authenticates as that ACL user on every node, with the
//! password in the environment variable `OUTBOX_PASSWORD` (not on the
//! command line, where other users of the machine could read it). Errors
//! and, with `--lag-every`, the lag (`{"lag": N}`) go to stderr.

use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use wasm_triggers_outbox::{Auth, Consumer, Entry, Options};

fn main() {
    if let Err(e) = run() {
        eprintln!("outbox-tail: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut nodes = Vec::new();
    let mut group = "outbox-tail".to_string();
    let mut consumer = format!("outbox-tail-{}", std::process::id());
    let mut count = None;
    let mut lag_every = None;
    let mut user = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--node" => nodes.push(value()?),
            "--group" => group = value()?,
            "--consumer" => consumer = value()?,
            "--count" => count = Some(value()?.parse().context("--count needs a number")?),
            "--user" => user = Some(value()?),
            "--lag-every" => {
                let seconds: f64 = value()?.parse().context("--lag-every needs seconds")?;
                lag_every = Some(Duration::from_secs_f64(seconds));
            }
            "--help" | "-h" => {
                println!(
                    "outbox-tail --node HOST:PORT [--node …] [--group NAME] [--consumer NAME] \
                     [--count N] [--lag-every SECONDS] [--user NAME, password in OUTBOX_PASSWORD]"
                );
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    if nodes.is_empty() {
        bail!("give at least one --node HOST:PORT");
    }
    let mut options = Options::new(&group, &consumer);
    if let Some(count) = count {
        options.count = count;
    }
    if let Some(user) = user {
        let password = std::env::var("OUTBOX_PASSWORD")
            .context("--user needs the password in the environment variable OUTBOX_PASSWORD")?;
        options.auth = Some(Auth { user, password });
    }
    let mut reader = Consumer::new(&nodes, options)?;
    // Entries are acknowledged on a thread of their own, once printed,
    // while the next ones are read; at most two batches wait for it.
    let mut acker = reader.acker();
    let (printed, to_acknowledge) = std::sync::mpsc::sync_channel::<Vec<Entry>>(2);
    std::thread::spawn(move || {
        for entries in to_acknowledge {
            for error in acker.ack(&entries) {
                eprintln!("outbox-tail: acknowledging: {error}");
            }
        }
    });
    // Written a poll at a time, and flushed before the entries are
    // acknowledged.
    let mut stdout = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut reported = Instant::now();
    let mut last_error = None;
    loop {
        let entries = reader.poll();
        for entry in &entries {
            serde_json::to_writer(&mut stdout, entry)?;
            stdout.write_all(b"\n")?;
        }
        stdout.flush()?;
        if !entries.is_empty() {
            printed
                .send(entries)
                .context("the acknowledging thread stopped")?;
        }
        let error = reader.last_error().map(str::to_owned);
        if error.is_some() && error != last_error {
            eprintln!("outbox-tail: {}", error.as_deref().unwrap_or_default());
        }
        last_error = error;
        if lag_every.is_some_and(|every| reported.elapsed() >= every) {
            match reader.lag() {
                Ok(lag) => eprintln!("{}", serde_json::json!({ "lag": lag })),
                Err(e) => eprintln!("outbox-tail: lag: {e:#}"),
            }
            reported = Instant::now();
        }
    }
}
