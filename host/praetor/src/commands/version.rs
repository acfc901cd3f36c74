//! `praetor version`: Consul's first lines, with praetor's name and version.

use super::Outcome;

/// `Praetor v0.1.0` and the protocol line, newline-separated.
pub fn version_text() -> String {
    format!(
        "Praetor v{}\nProtocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)",
        env!("CARGO_PKG_VERSION")
    )
}

pub fn run() -> Outcome {
    println!("{}", version_text());
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_lines() {
        let text = super::version_text();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("Praetor v0.1.0"));
        assert!(
            lines
                .next()
                .is_some_and(|l| l.starts_with("Protocol 2 spoken by default"))
        );
    }
}
