//! `praetor plugin test`: runs a component offline against JSON input and returns its JSON
//! output, with the same limits as a slot but no fallback (a failure is reported).

use std::sync::Arc;

use praetor_policy as policy;
use wasmtime::Store;

use crate::bindings::intentions::IntentionEvaluator;
use crate::bindings::join::JoinProvider;
use crate::bindings::router::Router;
use crate::bindings::translator::AddressTranslator;
use crate::convert;
use crate::engine;
use crate::error::LoadError;
use crate::host::SlotId;
use crate::info::ComponentSource;
use crate::json;
use crate::settings::SlotSettings;
use crate::slot::{LoadInput, Slot};
use crate::store::HostState;

fn input<T: serde::de::DeserializeOwned>(input_json: &str) -> Result<T, LoadError> {
    serde_json::from_str(input_json).map_err(|e| LoadError::Input(e.to_string()))
}

fn output<T: serde::Serialize>(value: &T) -> Result<String, LoadError> {
    serde_json::to_string_pretty(value).map_err(|e| LoadError::Input(e.to_string()))
}

fn ok_prepare<W>(
    _: &W,
    _: &mut Store<HostState>,
    _: &mut u64,
) -> wasmtime::Result<Result<(), String>> {
    Ok(Ok(()))
}

/// Runs the component `bytes` for slot kind `slot` (`translator`, `router`, `intentions` or
/// `join:<provider>`) on `input_json` (see [`crate::json`] for each form) and returns the
/// output as pretty JSON. `settings` defaults to the slot's defaults (no grants).
pub fn test_call(
    slot: &str,
    bytes: &[u8],
    config_json: &str,
    input_json: &str,
    settings: Option<SlotSettings>,
) -> Result<String, LoadError> {
    let id = SlotId::parse(slot)?;
    let engine = engine::engine().map_err(|e| LoadError::Canary(e.to_string()))?;
    let linker = engine::linker(engine, matches!(id, SlotId::Join(_)))
        .map_err(|e| LoadError::Canary(format!("{e:#}")))?;
    let linker = Arc::new(linker);
    let settings = settings.unwrap_or_else(|| match id {
        SlotId::Join(_) => SlotSettings::join_default(),
        _ => SlotSettings::default(),
    });
    let load = || LoadInput {
        bytes: bytes.to_vec(),
        compiled: None,
        config_json: config_json.to_owned(),
        name: "test".to_owned(),
        source: ComponentSource::Bytes,
    };
    match id {
        SlotId::Translator => {
            let q: policy::AddressQuery = input::<json::AddressQuery>(input_json)?.into();
            let slot = Slot::<AddressTranslator>::new_custom(
                slot,
                engine,
                linker,
                settings,
                load(),
                &ok_prepare,
            )?;
            let tagged = convert::tagged(&q);
            let wq = convert::address_query(&q, &tagged);
            let p = slot
                .call(|i, s| {
                    let translation = i.praetor_plugins_translation();
                    translation.call_set_agent(&mut *s, &q.local_datacenter, q.enabled)?;
                    translation.call_translate(s, wq)
                })
                .map_err(LoadError::Call)?;
            output(&json::Presented::from(convert::presented(p)))
        }
        SlotId::Router => {
            let slot =
                Slot::<Router>::new_custom(slot, engine, linker, settings, load(), &ok_prepare)?;
            match input::<json::RouterInput>(input_json)? {
                json::RouterInput::Rank {
                    local_datacenter,
                    candidates,
                } => {
                    let cs: Vec<policy::Candidate> =
                        candidates.into_iter().map(Into::into).collect();
                    let lists = convert::candidate_lists(&cs);
                    let wcs = convert::candidates(&cs, &lists);
                    let names = slot
                        .call(|i, s| {
                            i.praetor_plugins_routing()
                                .call_rank(s, &local_datacenter, &wcs)
                        })
                        .map_err(LoadError::Call)?;
                    output(&names)
                }
                json::RouterInput::Pick {
                    local_datacenter,
                    target,
                    candidates,
                } => {
                    let request = policy::RouteRequest {
                        local_datacenter,
                        target,
                        candidates: candidates.into_iter().map(Into::into).collect(),
                    };
                    let lists = convert::candidate_lists(&request.candidates);
                    let wcs = convert::candidates(&request.candidates, &lists);
                    let wr = convert::route_request(&request, &wcs);
                    let route = slot
                        .call(|i, s| {
                            let routing = i.praetor_plugins_routing();
                            routing.call_set_request(&mut *s, wr)?;
                            routing.call_pick(s)
                        })
                        .map_err(LoadError::Call)?;
                    let route = convert::route(route, &request).map(|r| json::Route {
                        candidate: r.candidate,
                        server: r.server,
                    });
                    output(&route)
                }
            }
        }
        SlotId::Intentions => {
            let input: json::IntentionsInput = input(input_json)?;
            let set: Vec<policy::Intention> =
                input.intentions.into_iter().map(Into::into).collect();
            let wset: Vec<_> = set.iter().map(convert::intention).collect();
            let slot = Slot::<IntentionEvaluator>::new_custom(
                slot,
                engine,
                linker,
                settings,
                load(),
                &ok_prepare,
            )?;
            let mut decisions = Vec::new();
            for r in input.requests {
                let r = convert::request(&r.into());
                let d = slot
                    .call_prepared(
                        |i, s, _| {
                            i.praetor_plugins_intentions().call_update(
                                s,
                                &wset,
                                input.default_allow,
                            )
                        },
                        |i, s, _| i.praetor_plugins_intentions().call_evaluate(s, &r),
                    )
                    .map_err(LoadError::Call)?;
                decisions.push(json::Decision::from(convert::decision(d)));
            }
            output(&decisions)
        }
        SlotId::Join(_) => {
            let args = match input::<json::JoinInput>(input_json)? {
                json::JoinInput::Args(a) => a,
                json::JoinInput::Entry(e) => policy::parse_args(&e).map_err(LoadError::Input)?,
            };
            let slot = Slot::<JoinProvider>::new_custom(
                slot,
                engine,
                linker,
                settings,
                load(),
                &ok_prepare,
            )?;
            let answer = slot
                .call(|i, s| i.praetor_plugins_discovery().call_discover(s, &args))
                .map_err(LoadError::Call)?;
            output(&match answer {
                Ok(a) => json::JoinOutput::Ok(a),
                Err(e) => json::JoinOutput::Err(e),
            })
        }
    }
}
