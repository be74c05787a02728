//! The Terraform modules of the yandex target: `terraform-modules/yandex` (the real one)
//! and `terraform-modules/local-sim` (its stand-in here) take the same variables, each typed
//! and described, and answer the same output; both are `terraform fmt` clean, and the
//! simulation is valid to the real Terraform CLI.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use ratchet_test_support::{terraform, terraform_module};

/// Every block `kind` of a module's .tf files, by its first label.
fn blocks(module: &Path, kind: &str) -> BTreeMap<String, hcl::Body> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(module).unwrap().flatten() {
        if entry.path().extension().is_none_or(|e| e != "tf") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let body = hcl::parse(&text)
            .unwrap_or_else(|e| panic!("{} is not valid HCL: {e}", entry.path().display()));
        for block in body.blocks().filter(|b| b.identifier() == kind) {
            let name = block.labels()[0].as_str().to_string();
            found.insert(name, block.body().clone());
        }
    }
    found
}

fn attribute(body: &hcl::Body, name: &str) -> Option<hcl::Expression> {
    body.attributes()
        .find(|a| a.key() == name)
        .map(|a| a.expr().clone())
}

#[test]
fn the_simulation_takes_exactly_the_variables_of_the_yandex_module() {
    let real = blocks(&terraform_module("yandex"), "variable");
    let sim = blocks(&terraform_module("local-sim"), "variable");
    assert_eq!(
        real.keys().collect::<Vec<_>>(),
        sim.keys().collect::<Vec<_>>(),
        "the two modules declare different variables"
    );
    for (name, body) in &real {
        let other = &sim[name];
        for attr in ["type", "default", "sensitive"] {
            assert_eq!(
                attribute(body, attr),
                attribute(other, attr),
                "variable `{name}`: its `{attr}` differs between the modules"
            );
        }
        assert!(
            attribute(body, "type").is_some(),
            "variable `{name}` has no type"
        );
        let described = matches!(attribute(body, "description"), Some(hcl::Expression::String(s)) if s.len() > 10);
        assert!(described, "variable `{name}` has no description");
    }
    // The variables the server sets are all declared (and nothing it needs is missing).
    for name in [
        "deployment",
        "labels",
        "folder_id",
        "zone",
        "network_id",
        "subnet_cidr",
        "server_cidrs",
        "egress_cidrs",
        "machines",
        "user_data",
    ] {
        assert!(
            real.contains_key(name),
            "the modules lack the variable `{name}`"
        );
    }
    assert_eq!(
        attribute(&real["user_data"], "sensitive"),
        Some(hcl::Expression::Bool(true)),
        "the user data carries enrollment tokens: it must be sensitive"
    );
}

#[test]
fn both_modules_answer_the_machines_output() {
    for module in ["yandex", "local-sim"] {
        let outputs = blocks(&terraform_module(module), "output");
        assert!(
            outputs.contains_key("machines"),
            "{module} has no `machines` output"
        );
    }
}

#[test]
fn the_modules_are_formatted_and_the_simulation_is_valid() {
    let tf = terraform();
    let root = terraform_module("yandex").parent().unwrap().to_path_buf();
    let fmt = Command::new(&tf.bin)
        .args(["fmt", "-check", "-recursive", "-diff"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        fmt.status.success(),
        "`terraform fmt` would change the modules (run it):\n{}",
        String::from_utf8_lossy(&fmt.stdout)
    );
    // The yandex provider cannot be installed here; the simulation's null provider can.
    let work = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(terraform_module("local-sim"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(entry.path(), work.path().join(entry.file_name())).unwrap();
    }
    for args in [
        &["init", "-input=false", "-no-color"][..],
        &["validate", "-no-color"],
    ] {
        let out = Command::new(&tf.bin)
            .args(args)
            .current_dir(work.path())
            .env("TF_CLI_CONFIG_FILE", &tf.cli_config)
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "terraform {}: {}{}",
            args[0],
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
