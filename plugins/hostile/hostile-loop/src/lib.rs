//! Sandbox test guest: an address translator whose `translate` never returns. The host must
//! interrupt it (epoch deadline) and fall back to its built-in translator.

use praetor_plugin_sdk::{AddressQuery, AddressTranslator, Presented, export_plugin};
use std::hint::black_box;

#[derive(Default)]
struct Loop;

impl AddressTranslator for Loop {
    fn translate(&self, query: &AddressQuery) -> Presented {
        let mut spins: u64 = 0;
        loop {
            // Opaque work, so the loop is neither removed nor proven infinite.
            spins = black_box(spins.wrapping_add(query.port as u64 + 1));
        }
    }
}

export_plugin!(translator: Loop);
