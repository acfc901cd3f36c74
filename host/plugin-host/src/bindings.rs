//! The one place WIT bindings are generated: one `bindgen!` per world of `praetor:plugins@0.2.0`
//! (`wit/` at the repository root). The `log` interface is generated once (in [`join`]) and
//! shared by the other worlds through `with`, so the host implements it once.

/// `join-provider`: imports `log` and `discovery-host`, exports `lifecycle` and `discovery`.
pub mod join {
    wasmtime::component::bindgen!({
        world: "join-provider",
        path: "../../wit",
    });
}

/// `address-translator`: imports `log`, exports `lifecycle` and `translation`.
pub mod translator {
    wasmtime::component::bindgen!({
        world: "address-translator",
        path: "../../wit",
        // Call arguments borrow the host's strings instead of copying them per call.
        ownership: Borrowing { duplicate_if_necessary: true },
        with: { "praetor:plugins/log": super::join::praetor::plugins::log },
    });
}

/// `router`: imports `log`, exports `lifecycle` and `routing`.
pub mod router {
    wasmtime::component::bindgen!({
        world: "router",
        path: "../../wit",
        // Call arguments borrow the host's strings instead of copying them per call.
        ownership: Borrowing { duplicate_if_necessary: true },
        with: { "praetor:plugins/log": super::join::praetor::plugins::log },
    });
}

/// `intention-evaluator`: imports `log`, exports `lifecycle` and `intentions`.
pub mod intentions {
    wasmtime::component::bindgen!({
        world: "intention-evaluator",
        path: "../../wit",
        with: { "praetor:plugins/log": super::join::praetor::plugins::log },
    });
}
