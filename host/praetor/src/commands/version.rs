//! `praetor version`: Consul's first lines, with praetor's name and version.

use super::Outcome;

/// `Praetor v0.1.0`, the Consul API level it implements, and the protocol line.
pub fn version_text() -> String {
    format!(
        "Praetor v{}\nConsul API v{}\nProtocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)",
        praetor_agent::VERSION,
        praetor_agent::CONSUL_API_VERSION,
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
        assert_eq!(lines.next(), Some("Consul API v1.21.4"));
        assert!(
            lines
                .next()
                .is_some_and(|l| l.starts_with("Protocol 2 spoken by default"))
        );
    }
}
