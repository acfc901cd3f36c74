//! Sandbox test guest: an `address-translator` of the previous WIT package version
//! (`praetor:plugins@0.1.0`, kept in `wit/` here as it was released). This agent serves
//! another version, so loading it must be refused with a message naming both versions.

wit_bindgen::generate!({
    world: "address-translator",
    path: "wit",
});

use exports::praetor::plugins::lifecycle;
use exports::praetor::plugins::translation::{self, AddressQuery, Presented};

struct OldAbi;

impl lifecycle::Guest for OldAbi {
    fn configure(_config_json: String) -> Result<(), String> {
        Ok(())
    }
}

impl translation::Guest for OldAbi {
    fn translate(query: AddressQuery) -> Presented {
        Presented {
            address: query.address,
            port: query.port,
        }
    }
}

export!(OldAbi);
