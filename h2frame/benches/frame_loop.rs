//! Reads one of the frame benchmark's streams `PASSES` times with one reader (or writes its
//! frames `PASSES` times into a warm `Vec<u8>`) and prints the frames per pass: the loop whose
//! instructions `tools/callgrind_frames.sh` counts (two pass counts subtracted, so that
//! building the stream and the process's setup cancel out).
//!
//! `cargo run --release -p slackwater-h2frame --example frame_loop -- control|data16k slackwater|bare|write PASSES`

mod common;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: frame_loop control|data16k slackwater|bare|write PASSES";
    let [stream, reader, passes] = args.as_slice() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let (bytes, frames) = match stream.as_str() {
        "control" => common::control_stream(1000),
        "data16k" => common::data_stream(512),
        other => {
            eprintln!("unknown stream {other:?}; {usage}");
            return ExitCode::from(2);
        }
    };
    let Ok(passes) = passes.parse::<usize>() else {
        eprintln!("PASSES must be a number; {usage}");
        return ExitCode::from(2);
    };
    // One pass of the chosen side; the writer's frames are decoded once, and its output
    // checked once, before the counted passes.
    let mut pass: Box<dyn FnMut() -> usize> = match reader.as_str() {
        "slackwater" => Box::new(|| common::slackwater_pass(&bytes)),
        "bare" => Box::new(|| common::bare_pass(&bytes)),
        "write" => {
            let decoded = common::decode_all(&bytes);
            let mut out = Vec::with_capacity(bytes.len());
            common::write_pass(&decoded, &mut out);
            assert_eq!(out, bytes);
            Box::new(move || common::write_pass(&decoded, &mut out))
        }
        other => {
            eprintln!("unknown reader {other:?}; {usage}");
            return ExitCode::from(2);
        }
    };
    for _ in 0..passes {
        assert_eq!(pass(), frames);
    }
    println!("{frames}");
    ExitCode::SUCCESS
}
