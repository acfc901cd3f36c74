//! Generates the prost messages and tonic services from `proto/` (the only place that does).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time: the build script's binary may be shared by clones in other places.
    let root = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = ["praetor/raft/v1/raft.proto", "praetor/rpc/v1/rpc.proto"];
    let fds = protox::compile(files, [&root])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .bytes(".")
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
