//! Process-wide logging through simplelog: to stderr, or appended to `[log] file`.
//!
//! The logger itself passes everything; the active level is `log`'s global max level, so a
//! SIGHUP can change it without re-installing the logger. Owns nothing else.

use simplelog::{
    ColorChoice, CombinedLogger, ConfigBuilder, LevelFilter, SharedLogger, TermLogger,
    TerminalMode, WriteLogger,
};
use std::fs::OpenOptions;
use std::io;
use std::path::Path;

/// Installs the process logger. Call once, before any thread starts.
pub fn init(level: LevelFilter, file: Option<&Path>) -> io::Result<()> {
    let config = ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_thread_level(LevelFilter::Error)
        .set_target_level(LevelFilter::Error)
        .build();
    let logger: Box<dyn SharedLogger> = match file {
        Some(path) => {
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            WriteLogger::new(LevelFilter::Trace, config, file)
        }
        None => TermLogger::new(
            LevelFilter::Trace,
            config,
            TerminalMode::Stderr,
            ColorChoice::Never,
        ),
    };
    CombinedLogger::init(vec![logger]).map_err(io::Error::other)?;
    set_level(level);
    Ok(())
}

/// Changes the active level (SIGHUP).
pub fn set_level(level: LevelFilter) {
    log::set_max_level(level);
}
