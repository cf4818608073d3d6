//! The websocket under the sync client: frames in and out, byte counts, clear connection errors.

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use ibasho_shared::sync::Frame;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A server URL as given (`http://host:port`, `ws://host:port`), normalised to `ws://host:port`.
pub fn base_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("http://"))
        .map(|r| format!("ws://{r}"))
        .or_else(|| {
            url.strip_prefix("wss://")
                .or_else(|| url.strip_prefix("https://"))
                .map(|r| format!("wss://{r}"))
        });
    match rest {
        Some(u) if u.len() > 6 => Ok(u),
        _ => bail!("{url:?} is not a server URL (e.g. http://127.0.0.1:7700)"),
    }
}

/// An open websocket to the server.
#[derive(Debug)]
pub struct Connection {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    sent: u64,
    received: u64,
}

impl Connection {
    /// Connects to `path` on the server, with the device token when there is one.
    pub async fn open(url: &str, path: &str, token: Option<&str>) -> Result<Connection> {
        let target = format!("{}{path}", base_url(url)?);
        let mut request = target
            .as_str()
            .into_client_request()
            .with_context(|| format!("{target} is not a valid URL"))?;
        if let Some(token) = token {
            request.headers_mut().insert(
                "Authorization",
                format!("Bearer {token}")
                    .parse()
                    .expect("a hex token is a valid header"),
            );
        }
        let connecting = tokio_tungstenite::connect_async(request);
        let (ws, _) = match tokio::time::timeout(Duration::from_secs(15), connecting).await {
            Err(_) => bail!("no answer from {target} within 15 s"),
            Ok(Err(tungstenite::Error::Http(response))) => {
                let body = response
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).trim().to_string())
                    .unwrap_or_default();
                bail!("the server refused: {} {body}", response.status())
            }
            Ok(Err(e)) => {
                return Err(anyhow!(e)).with_context(|| {
                    format!("cannot reach {target} (offline, or no server there)")
                });
            }
            Ok(Ok(ok)) => ok,
        };
        Ok(Connection {
            ws,
            sent: 0,
            received: 0,
        })
    }

    /// Sends a frame.
    pub async fn send(&mut self, frame: &Frame) -> Result<()> {
        let bytes = frame.encode();
        self.sent += bytes.len() as u64;
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .context("sending to the server")
    }

    /// The next frame, or `None` when the server closed the connection.
    pub async fn recv_any(&mut self) -> Result<Option<Frame>> {
        loop {
            match self.ws.next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(Message::Binary(bytes))) => {
                    self.received += bytes.len() as u64;
                    return Ok(Some(Frame::decode(&bytes)?));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(anyhow!(e)).context("receiving from the server"),
            }
        }
    }

    /// The next frame within `timeout`; a closed connection is an error here.
    pub async fn recv(&mut self, timeout: Duration) -> Result<Frame> {
        match tokio::time::timeout(timeout, self.recv_any()).await {
            Err(_) => bail!("the server did not answer within {} s", timeout.as_secs()),
            Ok(frame) => frame?.context("the server closed the connection"),
        }
    }

    /// Bytes sent and received in frames so far.
    pub fn byte_counts(&self) -> (u64, u64) {
        (self.sent, self.received)
    }

    /// Closes politely.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
