//! Generates the protobuf messages and the grpcio `PeerService` stubs from `proto/` without a
//! system `protoc`: rust-protobuf's pure-Rust parser reads the files, and grpcio-compiler (which
//! only understands protobuf-2 descriptors) gets the same descriptors re-parsed as protobuf 2.
//!
//! The generated messages are then patched so that unknown fields are written in the order
//! Google.Protobuf writes them (see `src/pb/unknown_order.rs`): each message gets an
//! `unknown_order` field, filled when unknown fields are read and used when they are written.

use protobuf::Message as _;
use std::{env, fs, path::PathBuf};

const PROTO_DIR: &str = "proto";
const PROTOS: &[&str] = &[
    "proto/aelf_core.proto",
    "proto/aelf_block.proto",
    "proto/network_types.proto",
    "proto/peer_service.proto",
    "proto/aedpos.proto",
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
    for proto in PROTOS {
        let stem = PathBuf::from(proto);
        let stem = stem
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("proto file name");
        let path = out.join(format!("{stem}.rs"));
        let code = fs::read_to_string(&path).expect("read generated messages");
        fs::write(&path, keep_unknown_order(&code, stem)).expect("write generated messages");
    }

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

/// Routes every generated message's unknown fields through `crate::pb::unknown_order`: a field
/// `unknown_order` next to `special_fields`, filled by `merge_from`, used by
/// `write_to_with_cached_sizes`, emptied by `clear`. Stops the build if rust-protobuf's output no
/// longer has the shape these edits expect (one of each line per message).
fn keep_unknown_order(code: &str, file: &str) -> String {
    const EDITS: &[(&str, &str)] = &[
        (
            "    pub special_fields: ::protobuf::SpecialFields,\n",
            "    pub special_fields: ::protobuf::SpecialFields,\n    \
             pub unknown_order: crate::pb::unknown_order::UnknownOrder,\n",
        ),
        (
            "::protobuf::rt::read_unknown_or_skip_group(tag, is, \
             self.special_fields.mut_unknown_fields())?;",
            "crate::pb::unknown_order::read_unknown(tag, is, &mut self.special_fields, \
             &mut self.unknown_order)?;",
        ),
        (
            "os.write_unknown_fields(self.special_fields.unknown_fields())?;",
            "crate::pb::unknown_order::write_unknown(os, self.special_fields.unknown_fields(), \
             &self.unknown_order)?;",
        ),
        (
            "self.special_fields.clear();",
            "self.special_fields.clear();\n        self.unknown_order.clear();",
        ),
    ];
    let messages = code.matches("\npub struct ").count();
    let mut code = code.to_owned();
    for (from, to) in EDITS {
        let found = code.matches(from).count();
        assert_eq!(
            found, messages,
            "{file}.rs: expected {messages} of `{from}`, found {found}"
        );
        code = code.replace(from, to);
    }
    // Static default instances (messages without a lazily built one) list every field.
    code.replace(
        "special_fields: ::protobuf::SpecialFields::new(),",
        "special_fields: ::protobuf::SpecialFields::new(),\n            \
         unknown_order: crate::pb::unknown_order::UnknownOrder::new(),",
    )
}
