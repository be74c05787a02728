//! What an agent (or anyone with a session) sends is hostile: every wire type decodes
//! variations of a valid message or refuses them, and a decoded result re-encodes to what
//! it decoded (no value the server would store differently from what it was told).

use proptest::prelude::*;
use protocol::{
    LogBatch, MAX_LOG_LINE_BYTES, Poll, ProgressBatch, Registration, TaskResult, cap_log_line,
};
use ratchet_test_support::fuzz::{cases, mutations_of};
use serde::Serialize;
use serde::de::DeserializeOwned;

const REGISTRATION: &str = r#"{"name":"db-1","version":"0.1.0","protocol":1,"labels":{"machine":"db","cores":2},"actions":["shell","postgres.start"],"slots":2,"host":{"hostname":"h","os":"linux","arch":"x86_64","cpus":2,"memory_mb":2048}}"#;
const POLL: &str = r#"{"running":[{"task_id":"01a23334-b8b9-767a-868a-6d2681db9762","attempt":1}],"free_slots":1,"wait_s":10,"run_id":null}"#;
const LOGS: &str = r#"{"task_id":"01a23334-b8b9-767a-868a-6d2681db9762","attempt":1,"lines":[{"seq":1,"at":1796155422914,"line":"tick-1"},{"seq":2,"at":1796155422915,"line":"tick-2"}]}"#;
const PROGRESS: &str = r#"{"task_id":"01a23334-b8b9-767a-868a-6d2681db9762","attempt":2,"points":[{"seq":1,"at":1796155422914,"values":{"tps":955.5,"latency_ms":4.1}}]}"#;
const RESULT: &str = r#"{"task_id":"01a23334-b8b9-767a-868a-6d2681db9762","attempt":1,"result":{"outcome":"completed","output":{"tps":955.577,"series":[{"t":1,"tps":870.9}]}}}"#;

/// Decoded, it encodes and decodes to itself.
fn round_trips<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    text: &str,
) -> Result<(), TestCaseError> {
    if let Ok(value) = serde_json::from_str::<T>(text) {
        let again: T = serde_json::from_str(&serde_json::to_string(&value).unwrap())
            .map_err(|e| TestCaseError::fail(format!("{e}: {value:?}")))?;
        prop_assert_eq!(again, value);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn every_wire_type_decodes_a_variation_of_a_valid_message_or_refuses_it(
        registration in mutations_of(REGISTRATION),
        poll in mutations_of(POLL),
        logs in mutations_of(LOGS),
        progress in mutations_of(PROGRESS),
        result in mutations_of(RESULT),
    ) {
        round_trips::<Registration>(&registration)?;
        round_trips::<Poll>(&poll)?;
        round_trips::<LogBatch>(&logs)?;
        round_trips::<ProgressBatch>(&progress)?;
        round_trips::<TaskResult>(&result)?;
    }

    #[test]
    fn a_log_line_of_any_length_is_cut_to_the_limit_at_a_character_boundary(
        line in prop_oneof![any::<String>(), (1usize..200_000).prop_map(|n| "é".repeat(n))],
    ) {
        let capped = cap_log_line(line.clone());
        prop_assert!(capped.len() <= MAX_LOG_LINE_BYTES);
        if line.len() <= MAX_LOG_LINE_BYTES {
            prop_assert_eq!(capped, line);
        } else {
            let kept = capped.split(" … [line truncated: ").next().unwrap();
            prop_assert!(line.starts_with(kept));
            let marker = format!("{} bytes]", line.len());
            prop_assert!(capped.ends_with(&marker));
        }
    }
}
