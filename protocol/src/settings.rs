//! Which `postgresql.conf` settings a benchmark may set. A suite decides a database's
//! configuration, never what its machine does: settings that make PostgreSQL run programs,
//! load libraries, read or write files outside its data directory, listen elsewhere or
//! weaken authentication are refused — by the suite parser (400 naming each) and again by
//! the agent that writes the file. The list follows PostgreSQL 12–18's documentation
//! (chapter 20, "Server Configuration"); name patterns cover settings added later.

/// Why PostgreSQL itself refuses the setting's kind here, or `None` when a suite may set it.
/// Names are case-insensitive, as in PostgreSQL.
pub fn refused(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    let name = name.as_str();
    if let Some((_, why)) = REFUSED.iter().find(|(n, _)| *n == name) {
        return Some(why);
    }
    // Extension settings (`auto_explain.log_min_duration`) are the extension's; the rules
    // on names below still apply to their last part.
    let last = name.rsplit('.').next().unwrap_or(name);
    if last.ends_with("_command") {
        return Some(RUNS_PROGRAM);
    }
    if last.ends_with("_library") || last.ends_with("_libraries") {
        return Some(LOADS_LIBRARY);
    }
    if last.ends_with("_file")
        || last.ends_with("_directory")
        || last.ends_with("_directories")
        || last.ends_with("_dir")
    {
        return Some(NAMES_FILE);
    }
    None
}

const RUNS_PROGRAM: &str = "it makes PostgreSQL run a program";
const LOADS_LIBRARY: &str = "it makes PostgreSQL load a library";
const NAMES_FILE: &str = "it names a file or directory outside the database's data";
const SET_BY_AGENT: &str = "the agent sets it (the machine's address, port and socket)";
const AUTHENTICATION: &str =
    "it changes how connections authenticate (each run has its own password, scram-sha-256)";
const REPLICATION: &str = "it connects this server to another host (topologies set it themselves)";

/// Settings refused by name (those the patterns in [`refused`] do not already catch).
const REFUSED: &[(&str, &str)] = &[
    // Programs and libraries.
    ("archive_command", RUNS_PROGRAM),
    ("archive_library", LOADS_LIBRARY),
    ("restore_command", RUNS_PROGRAM),
    ("archive_cleanup_command", RUNS_PROGRAM),
    ("recovery_end_command", RUNS_PROGRAM),
    ("ssl_passphrase_command", RUNS_PROGRAM),
    ("ssl_passphrase_command_supports_reload", RUNS_PROGRAM),
    ("shared_preload_libraries", LOADS_LIBRARY),
    ("session_preload_libraries", LOADS_LIBRARY),
    ("local_preload_libraries", LOADS_LIBRARY),
    ("oauth_validator_libraries", LOADS_LIBRARY),
    ("dynamic_library_path", LOADS_LIBRARY),
    ("jit_provider", LOADS_LIBRARY),
    // Other files.
    ("include", NAMES_FILE),
    ("include_dir", NAMES_FILE),
    ("include_if_exists", NAMES_FILE),
    ("data_directory", NAMES_FILE),
    ("config_file", NAMES_FILE),
    ("hba_file", NAMES_FILE),
    ("ident_file", NAMES_FILE),
    ("external_pid_file", NAMES_FILE),
    ("log_directory", NAMES_FILE),
    ("log_filename", NAMES_FILE),
    ("stats_temp_directory", NAMES_FILE),
    ("promote_trigger_file", NAMES_FILE),
    ("krb_server_keyfile", NAMES_FILE),
    ("ssl_cert_file", NAMES_FILE),
    ("ssl_key_file", NAMES_FILE),
    ("ssl_ca_file", NAMES_FILE),
    ("ssl_crl_file", NAMES_FILE),
    ("ssl_crl_dir", NAMES_FILE),
    ("ssl_dh_params_file", NAMES_FILE),
    ("event_source", NAMES_FILE),
    // Where it listens: the agent's to decide.
    ("listen_addresses", SET_BY_AGENT),
    ("port", SET_BY_AGENT),
    ("unix_socket_directories", SET_BY_AGENT),
    ("unix_socket_group", SET_BY_AGENT),
    ("unix_socket_permissions", SET_BY_AGENT),
    // Authentication.
    ("password_encryption", AUTHENTICATION),
    ("krb_caseins_users", AUTHENTICATION),
    ("db_user_namespace", AUTHENTICATION),
    // Other hosts.
    ("primary_conninfo", REPLICATION),
    ("primary_slot_name", REPLICATION),
    ("synchronous_standby_names", REPLICATION),
];

#[cfg(test)]
mod tests {
    use super::refused;

    #[test]
    fn programs_libraries_files_and_listening_are_refused_tuning_is_not() {
        for name in [
            "archive_command",
            "ARCHIVE_COMMAND",
            "shared_preload_libraries",
            "include_dir",
            "data_directory",
            "ssl_key_file",
            "listen_addresses",
            "port",
            "password_encryption",
            // Caught by the name patterns (present and future settings alike).
            "some_future_command",
            "myext.preload_library",
            "pg_stat_statements.dump_file",
        ] {
            assert!(refused(name).is_some(), "{name} should be refused");
        }
        for name in [
            "shared_buffers",
            "work_mem",
            "synchronous_commit",
            "wal_compression",
            "max_connections",
            "search_path",
            "pg_stat_statements.max",
            "log_min_duration_statement",
        ] {
            assert!(refused(name).is_none(), "{name} should be allowed");
        }
    }
}
