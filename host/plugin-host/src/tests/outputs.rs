//! What a component answers is input too: routes with any indexes (out of range, `u32::MAX`)
//! become "no route" rather than a panic or an index into nothing, and decisions keep
//! whatever text they carry.

use super::inputs::{Rng, route_request};
use crate::bindings::intentions::exports::praetor::plugins::intentions as wi;
use crate::bindings::router::exports::praetor::plugins::routing as wr;
use crate::convert;

#[test]
fn any_route_a_component_returns_is_safe_to_use() {
    let mut r = Rng::new(0x5eed);
    for _ in 0..20_000 {
        let request = route_request(&mut r);
        let pick = |r: &mut Rng| match r.below(4) {
            0 => u32::MAX,
            1 => r.below(4) as u32,
            _ => r.next() as u32,
        };
        let answer = wr::Route {
            candidate: pick(&mut r),
            server: pick(&mut r),
        };
        if let Some(route) = convert::route(Some(answer), &request) {
            let c = &request.candidates[route.candidate as usize];
            assert!((route.server as usize) < c.servers.len());
        }
    }
    assert_eq!(convert::route(None, &route_request(&mut r)), None);
}

#[test]
fn decisions_keep_any_text() {
    let d = convert::decision(wi::Decision {
        allowed: true,
        reason: "\u{0}\u{ffff}".repeat(1000),
        intention_id: Some(String::new()),
    });
    assert!(d.allowed);
    assert_eq!(d.reason.chars().count(), 2000);
}
