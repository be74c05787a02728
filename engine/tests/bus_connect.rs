//! The bus delivers published messages to subscribers: in-process, and across two
//! connections to a real (throw-away) Valkey/Redis server, as two replicas would use it.

use std::time::Duration;

use engine::bus::{self, BusError, BusKind};

async fn next_payload(rx: &mut tokio::sync::broadcast::Receiver<bus::BusMessage>) -> String {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a message arrives")
        .expect("the channel is open")
        .payload
}

#[tokio::test]
async fn in_process_bus_delivers_to_every_subscriber() {
    let bus = bus::connect(None).await.unwrap();
    assert_eq!(bus.kind(), BusKind::InProcess);
    let mut a = bus.subscribe("runs").await.unwrap();
    let mut b = bus.subscribe("runs").await.unwrap();
    let mut other = bus.subscribe("logs").await.unwrap();
    bus.publish("runs", "run-1 RUNNING").await.unwrap();
    assert_eq!(next_payload(&mut a).await, "run-1 RUNNING");
    assert_eq!(next_payload(&mut b).await, "run-1 RUNNING");
    assert!(other.try_recv().is_err(), "another channel gets nothing");
}

#[tokio::test]
async fn valkey_bus_fans_out_between_two_replicas() {
    let valkey = ratchet_test_support::test_valkey();
    let replica_a = bus::connect(Some(valkey.url())).await.unwrap();
    let replica_b = bus::connect(Some(&valkey.url().replace("redis://", "valkey://")))
        .await
        .unwrap();
    assert_eq!(replica_a.kind(), BusKind::Valkey);
    replica_a.ping().await.unwrap();

    let channel = format!("test-{}", std::process::id());
    let mut on_b = replica_b.subscribe(&channel).await.unwrap();
    let mut on_a = replica_a.subscribe(&channel).await.unwrap();
    // The bus carries hints (a missed one costs a poll interval): wait until a probe gets
    // through to both subscriptions before counting on every message.
    'ready: for _ in 0..100 {
        replica_a.publish(&channel, "probe").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (mut b_got, mut a_got) = (false, false);
        while let Ok(m) = on_b.try_recv() {
            b_got |= m.payload == "probe";
        }
        while let Ok(m) = on_a.try_recv() {
            a_got |= m.payload == "probe";
        }
        if a_got && b_got {
            break 'ready;
        }
    }
    for i in 0..3 {
        replica_a
            .publish(&channel, &format!("line {i}"))
            .await
            .unwrap();
    }
    for i in 0..3 {
        assert_eq!(next_payload(&mut on_b).await, format!("line {i}"));
        assert_eq!(next_payload(&mut on_a).await, format!("line {i}"));
    }
    replica_a.close().await;
    replica_b.close().await;
}

#[tokio::test]
async fn bad_valkey_urls_are_refused_with_the_reason() {
    let error = bus::connect(Some("http://localhost:6379"))
        .await
        .err()
        .unwrap();
    assert!(matches!(error, BusError::InvalidUrl(_)), "{error:?}");
    assert!(
        error.to_string().contains("redis:// or valkey://"),
        "{error}"
    );
}
