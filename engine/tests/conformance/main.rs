//! The engine's conformance suite (DESIGN.md §2): every case runs on SQLite and on a
//! throw-away PostgreSQL.

mod advanced;
mod boundaries;
mod cases;
mod harness;
#[path = "../fixtures/layered.rs"]
mod layered;

macro_rules! conformance {
    ($($module:ident :: $case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::$module::$case(crate::harness::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::$module::$case(crate::harness::Backend::Postgres).await;
                }
            )+
        }
    };
}

conformance!(
    cases::linear_dag_runs_in_order,
    cases::diamond_dag_fans_in_ancestor_outputs,
    cases::definitions_are_validated_and_versions_immutable,
    cases::retries_wait_the_backoff_on_the_clock,
    cases::non_retryable_failure_skips_retries,
    cases::on_failure_sees_every_error_and_downstream_is_cancelled,
    cases::on_failure_is_skipped_on_success,
    cases::cancel_during_a_run_still_runs_on_failure,
    cases::cancel_one_task_cancels_its_downstream,
    cases::schedule_timeout_cancels_a_task_nobody_takes,
    cases::execution_timeout_fails_the_attempt_and_stops_the_handler,
    cases::refresh_timeout_extends_the_deadline,
    cases::stale_completion_is_refused,
    cases::lost_worker_tasks_are_reassigned,
    cases::an_attempt_its_worker_does_not_list_is_reassigned,
    cases::a_worker_that_leaves_hands_its_tasks_back_without_using_a_retry,
    cases::parent_conditions_skip_and_children_follow,
    cases::cancel_if_cancels,
    cases::sleep_condition_waits_on_the_clock,
    cases::desired_labels_route_tasks,
    cases::a_task_behind_many_for_other_workers_still_runs,
    cases::logs_are_stored_in_order_without_a_cap,
    cases::memo_survives_a_retry,
    cases::restart_mid_dag_completes_each_task_once,
    cases::run_many_of_a_thousand_children_answers_outputs_in_order,
    cases::a_parent_executed_again_finds_its_children_instead_of_spawning_twice,
    cases::cancelling_a_parent_cancels_its_children,
    cases::input_from_hands_an_ancestors_output_to_a_task,
    cases::leases_are_exclusive_and_quotas_are_never_exceeded,
    cases::records_are_replaced_whole_and_kept_per_namespace,
    cases::event_conditions_hold_in_or_groups_and_ed_together,
    cases::on_events_start_the_matching_workflows,
    cases::a_cron_fires_once_per_tick_with_two_engines_on_one_store,
    advanced::group_round_robin_never_admits_more_than_max_runs,
    advanced::cancel_newest_cancels_the_newcomer_and_cancel_in_progress_the_older,
    advanced::task_concurrency_holds_per_key_across_runs,
    advanced::a_rate_limit_of_ten_per_second_holds_over_a_hundred_tasks,
    advanced::weighted_labels_prefer_the_better_worker_and_stuck_tasks_say_why,
    advanced::a_durable_wait_holds_no_slot_and_survives_a_restart,
    advanced::replay_reruns_descendants_and_their_children_only,
    advanced::the_observer_hears_each_attempts_end_its_outcome_and_times,
    boundaries::agents_are_never_handed_in_process_actions,
    boundaries::a_bound_runs_tasks_go_only_to_its_agents,
    boundaries::a_runs_tokens_are_revoked_together,
);
