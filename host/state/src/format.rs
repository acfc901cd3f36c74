//! The version of praetor's binary formats: raft log entries, snapshot files and the bodies of
//! server-to-server RPC (raft and `Call`) are postcard encodings of the types in this crate,
//! `praetor-rpc` and openraft, and carry this number beside them (a header field, a file
//! header, the log database's metadata).
//!
//! Version 1 is the layout of 2026-12-06; version 2 (2026-12-07) appends the batch variants
//! ([`BATCH_FORMAT`]). The golden files under `host/state/tests/golden/v<N>/` hold their bytes
//! and must keep decoding. Postcard is positional, so a change that reorders or
//! inserts a field or an enum variant (anything but appending a variant) is a new version.
//!
//! Rolling upgrades: a build reads every version from [`OLDEST_READABLE_FORMAT`] to
//! [`FORMAT_VERSION`]. A release that introduces version N+1 ships reading N and N+1 while
//! still writing N; the release after it writes N+1. So a server of release R always talks
//! with one of release R-1, in both directions. A sender that predates versioning sends 0,
//! which means version 1.

/// The format this build writes (except raft entries holding a batch, see [`BATCH_FORMAT`]).
pub const FORMAT_VERSION: u32 = 1;
/// The oldest format this build reads.
pub const OLDEST_READABLE_FORMAT: u32 = 1;
/// The newest format this build reads.
pub const NEWEST_READABLE_FORMAT: u32 = 2;
/// Version 2 appends `Command::Batch` and `CommandResult::Batch`; nothing else moved. A leader
/// proposes batches only once every server of its raft configuration has said (in its raft
/// replies) that it reads version 2; the messages and the log database holding one are stamped
/// 2, so a build reading only version 1 refuses them with [`UnsupportedFormat`] instead of
/// misreading them. Everything else is still written as version 1.
pub const BATCH_FORMAT: u32 = 2;

/// Bytes of a format this build cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "format version {found} is not readable by this build (it reads versions \
     {OLDEST_READABLE_FORMAT} to {NEWEST_READABLE_FORMAT}); upgrade this server first"
)]
pub struct UnsupportedFormat {
    pub found: u32,
}

/// The version `found` stands for (0: a sender from before versioning, i.e. 1), if readable.
pub fn readable(found: u32) -> Result<u32, UnsupportedFormat> {
    let version = found.max(1);
    if (OLDEST_READABLE_FORMAT..=NEWEST_READABLE_FORMAT).contains(&version) {
        Ok(version)
    } else {
        Err(UnsupportedFormat { found })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_in_range_are_readable() {
        assert_eq!(readable(0), Ok(1));
        assert_eq!(readable(FORMAT_VERSION), Ok(FORMAT_VERSION));
        assert_eq!(readable(BATCH_FORMAT), Ok(BATCH_FORMAT));
        assert_eq!(
            readable(NEWEST_READABLE_FORMAT + 1),
            Err(UnsupportedFormat {
                found: NEWEST_READABLE_FORMAT + 1
            })
        );
    }
}
