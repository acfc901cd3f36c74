//! Server RPC bodies come from the network: mutated `Request`/`Response` bytes (seeded with
//! the golden files of format 1) never panic the decoder (see `praetor_fuzz`).

use praetor_rpc::{Request, Response};

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/golden/v1/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect(name)
}

#[test]
fn fuzz_rpc_bodies() {
    let requests = golden("requests.bin");
    let responses = golden("responses.bin");
    praetor_fuzz::run("rpc requests", &[&requests], |b| {
        let _ = postcard::from_bytes::<Vec<Request>>(b);
        let _ = postcard::from_bytes::<Request>(b);
    });
    praetor_fuzz::run("rpc responses", &[&responses], |b| {
        let _ = postcard::from_bytes::<Vec<Response>>(b);
        let _ = postcard::from_bytes::<Response>(b);
    });
}
