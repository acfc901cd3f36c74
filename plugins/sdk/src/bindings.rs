//! The wit-bindgen output, one `generate!` per world of `../wit/sdk.wit` (why that file splits
//! the plugin worlds is explained there). Nothing here is meant to be used by plugin authors;
//! it is public only because `export_plugin!` expands in the plugin's crate.

/// Imports `log`, exports `lifecycle`: linked into every plugin.
pub mod lifecycle {
    wit_bindgen::generate!({
        world: "praetor:plugin-sdk/plugin-lifecycle",
        path: ["../../wit", "wit"],
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "praetor_plugin_sdk::bindings::lifecycle",
    });
}

/// Exports `translation` (world `address-translator` with [`lifecycle`]).
pub mod translator {
    wit_bindgen::generate!({
        world: "praetor:plugin-sdk/translator-exports",
        path: ["../../wit", "wit"],
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "praetor_plugin_sdk::bindings::translator",
    });
}

/// Exports `routing` (world `router` with [`lifecycle`]).
pub mod router {
    wit_bindgen::generate!({
        world: "praetor:plugin-sdk/router-exports",
        path: ["../../wit", "wit"],
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "praetor_plugin_sdk::bindings::router",
    });
}

/// Imports `discovery-host`, exports `discovery` (world `join-provider` with [`lifecycle`]).
pub mod join {
    wit_bindgen::generate!({
        world: "praetor:plugin-sdk/join-exports",
        path: ["../../wit", "wit"],
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "praetor_plugin_sdk::bindings::join",
    });
}

/// Exports `intentions` (world `intention-evaluator` with [`lifecycle`]).
pub mod intentions {
    wit_bindgen::generate!({
        world: "praetor:plugin-sdk/intentions-exports",
        path: ["../../wit", "wit"],
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "praetor_plugin_sdk::bindings::intentions",
    });
}
