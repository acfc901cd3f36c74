//! Sandbox test guest: an address translator whose `translate` panics, which traps (the
//! plugins are built with `panic = "abort"`). The host must fall back to its built-in
//! translator and not reuse the trapped instance.

use praetor_plugin_sdk::{AddressQuery, AddressTranslator, Presented, export_plugin};

#[derive(Default)]
struct Trap;

impl AddressTranslator for Trap {
    fn translate(&self, query: &AddressQuery) -> Presented {
        panic!(
            "hostile-trap: deliberate panic translating {:?}",
            query.address
        );
    }
}

export_plugin!(translator: Trap);
