//! The engine's conformance suite (DESIGN.md §2): every case runs on SQLite and on a
//! throw-away PostgreSQL.

mod cases;
mod harness;
#[path = "../fixtures/layered.rs"]
mod layered;

macro_rules! conformance {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::cases::$case(crate::harness::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::cases::$case(crate::harness::Backend::Postgres).await;
                }
            )+
        }
    };
}

conformance!(
    linear_dag_runs_in_order,
    diamond_dag_fans_in_ancestor_outputs,
    definitions_are_validated_and_versions_immutable,
    retries_wait_the_backoff_on_the_clock,
    non_retryable_failure_skips_retries,
    on_failure_sees_every_error_and_downstream_is_cancelled,
    on_failure_is_skipped_on_success,
    cancel_during_a_run_still_runs_on_failure,
    cancel_one_task_cancels_its_downstream,
    schedule_timeout_cancels_a_task_nobody_takes,
    execution_timeout_fails_the_attempt_and_stops_the_handler,
    refresh_timeout_extends_the_deadline,
    stale_completion_is_refused,
    lost_worker_tasks_are_reassigned,
    an_attempt_its_worker_does_not_list_is_reassigned,
    a_worker_that_leaves_hands_its_tasks_back_without_using_a_retry,
    parent_conditions_skip_and_children_follow,
    cancel_if_cancels,
    sleep_condition_waits_on_the_clock,
    desired_labels_route_tasks,
    a_task_behind_many_for_other_workers_still_runs,
    logs_are_stored_in_order_without_a_cap,
    memo_survives_a_retry,
    restart_mid_dag_completes_each_task_once,
    run_many_of_a_thousand_children_answers_outputs_in_order,
    a_parent_executed_again_finds_its_children_instead_of_spawning_twice,
    cancelling_a_parent_cancels_its_children,
    input_from_hands_an_ancestors_output_to_a_task,
    leases_are_exclusive_and_quotas_are_never_exceeded,
    event_conditions_hold_in_or_groups_and_ed_together,
    on_events_start_the_matching_workflows,
    a_cron_fires_once_per_tick_with_two_engines_on_one_store,
);
