//! __NAME__ — a Tutti task in Rust (wasi:cli/command world): counts the words of its input.
//!
//! stdin is this instance's partition of the inputs, stdout becomes the output asset "stdout",
//! stderr is the instance log, and a non-zero exit status fails the instance (retryable).
//! Only `std` is used, so it builds with a bare `rustc` (no Cargo, no crates).
use std::io::{self, Read, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut stdin = io::stdin().lock();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut words, mut in_word) = (0u64, false);
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("__NAME__: cannot read stdin: {e}");
                return ExitCode::FAILURE;
            }
        };
        for &b in &buf[..n] {
            let space = b.is_ascii_whitespace() || b == 0x0b;
            if !space && !in_word {
                words += 1;
            }
            in_word = !space;
        }
    }
    let part = std::env::var("TUTTI_PARTITION_INDEX").unwrap_or_else(|_| "?".into());
    eprintln!("__NAME__: partition {part}: {words} words");
    if writeln!(io::stdout(), "{words}").is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
