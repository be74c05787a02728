//! The OpenAPI derive sees type names only: tell it what the engine's aliases are.
fn main() {
    utoipa_config::Config::new()
        .alias_for("RunId", "uuid::Uuid")
        .alias_for("TaskId", "uuid::Uuid")
        .alias_for("WorkerId", "uuid::Uuid")
        .alias_for("Millis", "i64")
        .write_to_file();
}
