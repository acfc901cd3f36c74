//! Generated protobuf messages and gRPC services for the server RPC port (from `proto/`).

/// Raft transport between servers of one datacenter.
pub mod raft {
    tonic::include_proto!("praetor.raft.v1");
}

/// Server RPC: forwarded writes and reads, operator calls.
pub mod rpc {
    tonic::include_proto!("praetor.rpc.v1");
}
