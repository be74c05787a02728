//! The Terraform CLI and its provider mirror that `scripts/install-terraform` puts in
//! `.tools/terraform/` (Terraform 1.0.3 and the null provider, from PyPI).

use std::path::PathBuf;

pub struct TerraformTools {
    pub bin: PathBuf,
    /// The CLI configuration that serves the null provider from the local mirror.
    pub cli_config: PathBuf,
}

/// The installed Terraform; a missing one fails the test with the command that installs it.
pub fn terraform() -> TerraformTools {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/terraform");
    let tools = TerraformTools {
        bin: root.join("bin/terraform"),
        cli_config: root.join("terraformrc"),
    };
    assert!(
        tools.bin.is_file() && tools.cli_config.is_file(),
        "Terraform is not installed in {}: run `bash scripts/install-terraform` (`.ci/run` does)",
        root.display()
    );
    tools
}

/// The repository's `terraform-modules/<name>`.
pub fn terraform_module(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../terraform-modules")
        .join(name)
        .canonicalize()
        .expect("the module exists")
}
