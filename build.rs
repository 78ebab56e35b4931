//! Generates the protobuf messages and the grpcio `PeerService` stubs from `proto/` without a
//! system `protoc`: rust-protobuf's pure-Rust parser reads the files, and grpcio-compiler (which
//! only understands protobuf-2 descriptors) gets the same descriptors re-parsed as protobuf 2.

use protobuf::Message as _;
use std::{env, fs, path::PathBuf};

const PROTO_DIR: &str = "proto";
const PROTOS: &[&str] = &[
    "proto/aelf_core.proto",
    "proto/aelf_block.proto",
    "proto/network_types.proto",
    "proto/peer_service.proto",
];

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("protos");
    fs::create_dir_all(&out).expect("create OUT_DIR/protos");

    protobuf_codegen::Codegen::new()
        .pure()
        .include(PROTO_DIR)
        .inputs(PROTOS)
        .out_dir(&out)
        .run_from_script();

    let parsed = protobuf_parse::Parser::new()
        .pure()
        .include(PROTO_DIR)
        .inputs(PROTOS)
        .parse_and_typecheck()
        .expect("parse proto files");
    let descriptors: Vec<protobuf2::descriptor::FileDescriptorProto> = parsed
        .file_descriptors
        .iter()
        .map(|fd| {
            let bytes = fd.write_to_bytes().expect("encode descriptor");
            protobuf2::Message::parse_from_bytes(&bytes).expect("descriptor as protobuf 2")
        })
        .collect();
    let to_generate: Vec<String> = parsed
        .relative_paths
        .iter()
        .map(|p| p.to_str().to_owned())
        .collect();

    let mut modules: Vec<String> = PROTOS
        .iter()
        .map(|p| {
            PathBuf::from(p)
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("proto file name")
                .to_owned()
        })
        .collect();
    for file in grpcio_compiler::codegen::gen(&descriptors, &to_generate) {
        modules.push(file.name.trim_end_matches(".rs").to_owned());
        // The generated stubs allow a lint that rustc no longer knows.
        let code = String::from_utf8(file.content)
            .expect("generated code is UTF-8")
            .replace("#![allow(box_pointers)]\n", "");
        fs::write(out.join(&file.name), code).expect("write generated stubs");
    }

    let mod_rs: String = modules.iter().map(|m| format!("pub mod {m};\n")).collect();
    fs::write(out.join("mod.rs"), mod_rs).expect("write mod.rs");

    println!("cargo:rerun-if-changed={PROTO_DIR}");
    println!("cargo:rerun-if-changed=build.rs");
}
