//! Journeys through the running service, over HTTP only — each on SQLite and on PostgreSQL.
//!
//! A journey is an `async fn name(backend: Backend)` in its module; `journey!(module::name)`
//! makes it two tests, `name::sqlite` and `name::postgres` (`cargo test -p abonent-tests
//! postgres` runs one backend). The PostgreSQL ones need the server of
//! [`abonent_tests::DEFAULT_POSTGRES_URL`] (or `ABONENT_TEST_POSTGRES_URL`); see
//! [`abonent_tests::Backend::available`] for what happens when it is unreachable.

mod accounts;
mod backoffice;
mod billing;
mod imports;
mod operator;
mod payments;
mod proxies;
mod questions;
mod readings;
mod register_login;
mod settings_recovery;
mod smoke;

/// Runs the journey `module::name` as two tests, `name::sqlite` and `name::postgres`.
macro_rules! journey {
    ($module:ident :: $name:ident) => {
        mod $name {
            use abonent_tests::Backend;

            #[tokio::test]
            async fn sqlite() {
                crate::$module::$name(Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                if Backend::Postgres.available() {
                    crate::$module::$name(Backend::Postgres).await;
                }
            }
        }
    };
}

journey!(smoke::starts_answers_probes_and_stops);
journey!(smoke::every_error_is_a_problem);
journey!(smoke::public_information_and_the_sandbox_inbox);
journey!(register_login::register_by_phone_confirm_and_log_in);
journey!(register_login::registering_a_taken_phone_answers_alike_and_notifies_the_owner);
journey!(register_login::bad_registration_input_is_a_400_naming_the_field);
journey!(settings_recovery::change_password_block_and_recover);
journey!(settings_recovery::recovery_answers_alike_for_an_unknown_email);
journey!(settings_recovery::emailed_links_open_pages_that_work_without_a_script);
journey!(settings_recovery::the_email_confirmation_page_confirms_only_when_its_button_is_pressed);
journey!(accounts::register_by_account_link_three_ways_switch_and_unlink);
journey!(accounts::wrong_link_proofs_are_throttled);

/// SQLite only: PostgreSQL's column types refuse the damage this journey plants.
#[tokio::test]
async fn a_damaged_link_row_does_not_hide_a_revoked_session() {
    accounts::a_damaged_link_row_does_not_hide_a_revoked_session().await;
}
journey!(readings::submit_correct_replay_cancel_and_late);
journey!(billing::billing_reads_of_a_linked_account);
journey!(questions::ask_answer_and_read);
journey!(operator::operator_logs_in_mints_a_key_and_blocks_and_unblocks_a_cabinet);
journey!(payments::pay_part_of_the_debt_through_the_sandbox_page);
journey!(payments::autopay_settings);
journey!(backoffice::key_rates_and_a_billing_run);
journey!(imports::an_operator_imports_houses_premises_and_a_bank_registry);
journey!(proxies::behind_a_trusted_proxy_each_client_has_its_own_limits);
journey!(proxies::a_forwarding_header_from_an_untrusted_peer_is_ignored);
