//! The store opens, migrates and keeps its data across reopening, on SQLite and on a real
//! (throw-away) PostgreSQL.

use engine::store::{self, DatabaseTarget, StoreError, StoreKind};

#[tokio::test]
async fn sqlite_store_migrates_and_keeps_its_installation_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let target = DatabaseTarget::from_url(None, dir.path()).unwrap();

    let store = store::connect(&target).await.unwrap();
    assert_eq!(store.kind(), StoreKind::Sqlite);
    store.ping().await.unwrap();
    let first = store.installation().await.unwrap();
    store.close().await;
    assert!(dir.path().join("ratchet.db").is_file());

    let store = store::connect(&target).await.unwrap();
    assert_eq!(store.installation().await.unwrap(), first);
    store.close().await;
}

#[tokio::test]
async fn postgres_store_migrates_and_keeps_its_installation_across_reconnect() {
    let db = ratchet_test_support::test_database().await;
    let target = DatabaseTarget::from_url(Some(db.url()), std::path::Path::new("unused")).unwrap();

    let store = store::connect(&target).await.unwrap();
    assert_eq!(store.kind(), StoreKind::Postgres);
    store.ping().await.unwrap();
    let first = store.installation().await.unwrap();
    store.close().await;

    let store = store::connect(&target).await.unwrap();
    assert_eq!(store.installation().await.unwrap(), first);
    store.close().await;
}

#[tokio::test]
async fn unreachable_postgres_is_a_clear_error_without_the_password() {
    let port = ratchet_test_support::free_port();
    let url = format!("postgres://ratchet:hunter2@127.0.0.1:{port}/ratchet");
    let target = DatabaseTarget::from_url(Some(&url), std::path::Path::new("unused")).unwrap();
    let error = store::connect(&target)
        .await
        .err()
        .expect("nothing listens there");
    assert!(
        matches!(error, StoreError::ConnectPostgres { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{port}/ratchet")),
        "{message}"
    );
    assert!(message.contains("check DATABASE_URL"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}
