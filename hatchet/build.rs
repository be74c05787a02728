//! Generates the gRPC server code from `proto/`, the same files `check-protos` compares with
//! the SDK's descriptors.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/dispatcher.proto",
        "proto/events.proto",
        "proto/workflows.proto",
        "proto/v1/dispatcher.proto",
        "proto/v1/workflows.proto",
    ];
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(false)
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
