//! Go's `time.Duration.String()` formatting, for error texts that quote durations.

use std::fmt;
use std::time::Duration;

/// Formats a duration as Go does: `1.5s`, `1m0s`, `2h3m4.000000005s`, `250ms`, `0s`.
pub(crate) struct GoDuration(pub Duration);

/// Writes `whole[.frac]` where `frac` has `digits` digits with trailing zeros removed.
fn write_decimal(
    f: &mut fmt::Formatter<'_>,
    whole: u128,
    frac: u128,
    digits: usize,
) -> fmt::Result {
    write!(f, "{whole}")?;
    if frac == 0 {
        return Ok(());
    }
    let text = format!("{frac:0digits$}");
    write!(f, ".{}", text.trim_end_matches('0'))
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        if nanos < 1_000 {
            return write!(f, "{nanos}ns");
        }
        if nanos < 1_000_000 {
            write_decimal(f, nanos / 1_000, nanos % 1_000, 3)?;
            return f.write_str("µs");
        }
        if nanos < 1_000_000_000 {
            write_decimal(f, nanos / 1_000_000, nanos % 1_000_000, 6)?;
            return f.write_str("ms");
        }
        let secs = nanos / 1_000_000_000;
        let frac = nanos % 1_000_000_000;
        let (hours, minutes, seconds) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if hours > 0 {
            write!(f, "{hours}h{minutes}m")?;
        } else if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        write_decimal(f, seconds, frac, 9)?;
        f.write_str("s")
    }
}
