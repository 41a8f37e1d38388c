//! A one-line progress bar, drawn only when stdout is a terminal.

use std::io::{IsTerminal, Write};

pub struct Progress {
    enabled: bool,
    rate: f64,
}

impl Progress {
    pub fn new(sample_rate: u32) -> Self {
        Progress {
            enabled: std::io::stdout().is_terminal(),
            rate: f64::from(sample_rate),
        }
    }

    pub fn update(&self, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        let fraction = done as f64 / total.max(1) as f64;
        let width = 30;
        let filled = (fraction * width as f64).round() as usize;
        print!(
            "\r[{}{}] {:>3.0}%  {:.1}/{:.1} s",
            "#".repeat(filled),
            " ".repeat(width - filled),
            fraction * 100.0,
            done as f64 / self.rate,
            total as f64 / self.rate
        );
        if done >= total {
            println!();
        }
        let _ = std::io::stdout().flush();
    }
}
