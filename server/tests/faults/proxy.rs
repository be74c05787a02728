//! An in-test TCP proxy between agents and the server that can cut the line: open
//! connections are dropped, and new ones are accepted and then black-holed (nothing
//! forwarded, nothing answered) until the line is restored, as a dead network path looks
//! to the agent.

use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct Proxy {
    pub url: String,
    /// `true` while the line is cut; each change also ends every connection made before it.
    cut: watch::Sender<bool>,
    _accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy to `upstream` (`host:port`) on a free loopback port.
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (cut, watch) = watch::channel(false);
        let upstream = Arc::new(upstream);
        let accept = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                while connections.try_join_next().is_some() {}
                let (upstream, mut watch) = (upstream.clone(), watch.clone());
                connections.spawn(async move {
                    let black_hole = *watch.borrow_and_update();
                    tokio::select! {
                        () = serve(client, &upstream, black_hole) => {}
                        _ = watch.changed() => {} // the line changed: this connection ends
                    }
                });
            }
        });
        Proxy {
            url,
            cut,
            _accept: accept,
        }
    }

    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

async fn serve(mut client: TcpStream, upstream: &str, black_hole: bool) {
    if black_hole {
        std::future::pending::<()>().await;
    }
    if let Ok(mut server) = TcpStream::connect(upstream).await {
        let _ = copy_bidirectional(&mut client, &mut server).await;
    }
}
