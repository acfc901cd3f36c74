//! Sandbox test guest: an address translator whose `translate` allocates (and touches) memory
//! without end. The host's memory limit must stop it (a failed `memory.grow` traps).

use praetor_plugin_sdk::{AddressQuery, AddressTranslator, Presented, export_plugin};
use std::hint::black_box;

#[derive(Default)]
struct MemBomb;

impl AddressTranslator for MemBomb {
    fn translate(&self, query: &AddressQuery) -> Presented {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            // 1 MiB per round, written so the pages are really used.
            hoard.push(vec![query.port as u8 | 1; 1 << 20]);
            black_box(&hoard);
        }
    }
}

export_plugin!(translator: MemBomb);
