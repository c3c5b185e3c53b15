//! by-status — step 2a of the polyglot log-analytics flow (Rust, wasi:cli/command, std only).
//!
//! stdin: every `parse` instance's "STATUS MILLIS" lines, concatenated (a fan-in).
//! stdout: "STATUS COUNT\n" per status code, in ascending status order.
use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};

fn main() {
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    for line in io::stdin().lock().lines() {
        let line = line.expect("by-status: cannot read stdin");
        if let Some(status) = line.split_whitespace().next().and_then(|s| s.parse().ok()) {
            *counts.entry(status).or_default() += 1;
        }
    }
    let mut out = io::stdout().lock();
    for (status, n) in &counts {
        writeln!(out, "{status} {n}").expect("by-status: cannot write stdout");
    }
    eprintln!("by-status: {} status codes", counts.len());
}
