//! __NAME__ — a typed Tutti task in Rust (world tutti:task/planned-task, wit/task.wit), built with
//! `cargo component` (wit-bindgen generates `src/bindings.rs`). NOT BUILT IN CI: crates.io is not
//! reachable there.
//!
//! plan: one partition per `per` bytes of each input (param `per`, default 1048576).
//! run:  counts the words that start inside its slices (the byte before a slice, read through
//!       host.read's random access, tells whether a word began earlier) and writes the count and
//!       "\n" to the output asset "words"; the counts of all partitions add up to the whole.
#[allow(warnings)]
mod bindings;

use bindings::tutti::task::host;
use bindings::tutti::task::types::{AssetInfo, Level, Param, Partition, Slice, TaskError};
use bindings::Guest;

const CHUNK: u64 = 64 * 1024;

struct Component;

fn is_space(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

impl Guest for Component {
    fn plan(inputs: Vec<AssetInfo>, params: Vec<Param>) -> Result<Vec<Partition>, String> {
        let per = match params.iter().find(|p| p.name == "per") {
            Some(p) => p.value.parse::<u64>().map_err(|e| format!("__NAME__: param per: {e}"))?,
            None => 1 << 20,
        };
        if per == 0 {
            return Err("__NAME__: param per must be positive".into());
        }
        let mut slices = Vec::new();
        for (input, info) in inputs.iter().enumerate() {
            let mut offset = 0;
            while offset < info.size {
                slices.push(Slice { input: input as u32, offset, length: per.min(info.size - offset) });
                offset += per;
            }
        }
        let count = slices.len() as u32;
        Ok(slices.into_iter().enumerate().map(|(i, s)| Partition { index: i as u32, count, slices: vec![s] }).collect())
    }

    fn run(partition: Partition, _inputs: Vec<AssetInfo>, _params: Vec<Param>) -> Result<(), TaskError> {
        let mut words = 0u64;
        for s in &partition.slices {
            let read = |offset: u64, len: u64| host::read(s.input, offset, len).map_err(TaskError::Retryable);
            let mut in_word = s.offset > 0 && read(s.offset - 1, 1)?.first().map_or(false, |&b| !is_space(b));
            let (mut pos, end) = (s.offset, s.offset + s.length);
            while pos < end {
                let bytes = read(pos, CHUNK.min(end - pos))?;
                if bytes.is_empty() {
                    break;
                }
                for &b in &bytes {
                    let space = is_space(b);
                    if !space && !in_word {
                        words += 1;
                    }
                    in_word = !space;
                }
                pos += bytes.len() as u64;
            }
        }
        host::write("words", format!("{words}\n").as_bytes()).map_err(TaskError::Permanent)?;
        host::log(Level::Info, &format!("partition {}: {words} words", partition.index));
        Ok(())
    }
}

bindings::export!(Component with_types_in bindings);
