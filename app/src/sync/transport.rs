//! The websocket under the sync client: frames in and out, byte counts, clear connection errors.

use super::error::{Lost, TransportError};
use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use ibasho_shared::sync::{Due, Frame, Liveness, SEND_TIMEOUT, SLOWEST_LINK, send_deadline};
use std::collections::VecDeque;
use std::task::Poll;
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

/// A lost connection, as an error.
pub fn lost(how: Lost) -> anyhow::Error {
    TransportError::Lost(how).into()
}

/// An open websocket to the server.
#[derive(Debug)]
pub struct Connection {
    ws: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    /// What arrived while a frame was being sent, not read yet.
    inbox: VecDeque<Result<Message, tungstenite::Error>>,
    /// Whether the server ended the stream while a frame was being sent.
    ended: bool,
    /// When anything (a frame, a ping, a pong) last came from the server.
    liveness: Liveness,
    /// How long a frame may take to be sent, beyond its size at `slowest_link` bytes a second.
    send_timeout: Duration,
    slowest_link: f64,
    sent: u64,
    received: u64,
}

impl Connection {
    /// Connects to `path` on the server, with the device token when there is one.
    pub async fn open(url: &str, path: &str, token: Option<&str>) -> Result<Connection> {
        Self::open_trusting(url, path, token, None).await
    }

    /// [`Connection::open`], trusting the CA certificates of `ca_pem` too (see [`super::tls`]).
    /// A `wss://` (`https://`) server is reached over TLS, and nothing else is tried when its
    /// certificate does not verify.
    pub async fn open_trusting(
        url: &str,
        path: &str,
        token: Option<&str>,
        ca_pem: Option<&str>,
    ) -> Result<Connection> {
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
        let host = super::tls::host_of(
            target
                .strip_prefix("wss://")
                .or_else(|| target.strip_prefix("ws://"))
                .unwrap_or(&target),
        );
        let connector = if target.starts_with("wss://") {
            tokio_tungstenite::Connector::Rustls(super::tls::client_config(ca_pem)?)
        } else {
            tokio_tungstenite::Connector::Plain
        };
        let connecting =
            tokio_tungstenite::connect_async_tls_with_config(request, None, true, Some(connector));
        let (ws, _) = match tokio::time::timeout(Duration::from_secs(15), connecting).await {
            Err(_) => {
                return Err(TransportError::Unreachable {
                    target,
                    cause: "no answer within 15 s".into(),
                }
                .into());
            }
            Ok(Err(tungstenite::Error::Http(response))) => {
                let body = response
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).trim().to_string())
                    .unwrap_or_default();
                return Err(TransportError::Refused {
                    status: response.status().as_u16(),
                    words: body,
                }
                .into());
            }
            Ok(Err(e)) => {
                if let Some(certificate) = super::tls::certificate_error(&e, &host) {
                    return Err(TransportError::from(certificate).into());
                }
                return Err(TransportError::Unreachable {
                    target,
                    cause: e.to_string(),
                }
                .into());
            }
            Ok(Ok(ok)) => ok,
        };
        Ok(Connection {
            ws,
            inbox: VecDeque::new(),
            ended: false,
            liveness: Liveness::new(),
            send_timeout: SEND_TIMEOUT,
            slowest_link: SLOWEST_LINK,
            sent: 0,
            received: 0,
        })
    }

    /// Sends a frame. What the server sends meanwhile is taken in and kept for [`Connection::recv`]:
    /// a server busy sending to this device reads nothing from it, so a device that did not read
    /// while sending a large frame could leave both waiting on each other until the server gives
    /// up on it. A frame the server does not take within [`SEND_TIMEOUT`] plus its size at
    /// [`SLOWEST_LINK`] is an error: the server stopped reading.
    pub async fn send(&mut self, frame: &Frame) -> Result<()> {
        let bytes = frame.encode();
        let len = bytes.len();
        self.sent += len as u64;
        let deadline = send_deadline(self.send_timeout, self.slowest_link, len);
        let Connection {
            ws,
            inbox,
            ended,
            liveness,
            ..
        } = self;
        let sending = async {
            ws.feed(Message::Binary(bytes.into())).await?;
            std::future::poll_fn(|cx| {
                loop {
                    if let Poll::Ready(flushed) = ws.poll_flush_unpin(cx) {
                        return Poll::Ready(flushed);
                    }
                    if *ended {
                        return Poll::Pending;
                    }
                    match ws.poll_next_unpin(cx) {
                        Poll::Ready(Some(message)) => {
                            if message.is_ok() {
                                liveness.heard();
                            }
                            inbox.push_back(message);
                        }
                        Poll::Ready(None) => *ended = true,
                        Poll::Pending => return Poll::Pending,
                    }
                }
            })
            .await
        };
        match tokio::time::timeout(deadline, sending).await {
            Ok(sent) => sent.context("sending to the server"),
            Err(_) => Err(lost(Lost::NotTaken {
                bytes: len,
                secs: deadline.as_secs(),
            })),
        }
    }

    /// The next message: kept from while a frame was being sent (heard when it came), or from
    /// the socket.
    async fn next_message(&mut self) -> Option<Result<Message, tungstenite::Error>> {
        if let Some(message) = self.inbox.pop_front() {
            return Some(message);
        }
        if self.ended {
            return None;
        }
        let message = self.ws.next().await;
        if matches!(message, Some(Ok(_))) {
            self.liveness.heard();
        }
        message
    }

    /// Checks that the server is still there: once it has been silent for a third of `silence`
    /// it is pinged (its answer, like anything it sends, counts), and once silent for `silence` it
    /// is taken to be gone, an error. A server that vanished (a network that dropped the
    /// connection without closing it) would otherwise leave a device waiting for pushes forever.
    pub async fn keep_alive(&mut self, silence: Duration) -> Result<()> {
        match self.liveness.due(silence) {
            Due::Gone(silent) => Err(lost(Lost::Silent(silent.as_secs()))),
            Due::Ping => {
                let ping = self.ws.send(Message::Ping(Vec::new().into()));
                match tokio::time::timeout(self.send_timeout, ping).await {
                    Ok(sent) => sent.context("sending to the server"),
                    Err(_) => Err(lost(Lost::NotTaken {
                        bytes: 0,
                        secs: self.send_timeout.as_secs(),
                    })),
                }
            }
            Due::Nothing => Ok(()),
        }
    }

    /// The next frame, or `None` when the server closed the connection.
    pub async fn recv_any(&mut self) -> Result<Option<Frame>> {
        loop {
            match self.next_message().await {
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
            Err(_) => Err(lost(Lost::NoAnswer(timeout.as_secs()))),
            Ok(frame) => frame?.ok_or_else(|| lost(Lost::Closed(None))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use ibasho_shared::sync::DocMessage;
    use std::time::Instant;

    fn frame(bytes: usize) -> Frame {
        Frame::Sync {
            docs: vec![DocMessage {
                doc: "places/00".into(),
                message: vec![7; bytes],
            }],
        }
    }

    /// A listening socket on loopback whose connections buffer 64 kB each way.
    fn server_with_small_buffers() -> (tokio::net::TcpListener, std::net::SocketAddr) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(64 * 1024).unwrap();
        socket.set_send_buffer_size(64 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, addr)
    }

    /// A server that sends more than the socket buffers hold before it reads anything, to a device
    /// sending more than they hold too: the device takes in what arrives while it sends, so both
    /// get everything instead of waiting on each other.
    #[tokio::test]
    async fn a_large_frame_is_sent_while_the_server_sends_a_lot() {
        const SERVER_FRAMES: usize = 48;
        const MB: usize = 1 << 20;
        let (listener, addr) = server_with_small_buffers();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
            for _ in 0..SERVER_FRAMES {
                let bytes = frame(MB).encode();
                ws.send(Message::Binary(bytes.into())).await.unwrap();
            }
            match ws.next().await {
                Some(Ok(Message::Binary(bytes))) => bytes.len(),
                other => panic!("{other:?}"),
            }
        });
        let device = async {
            let mut conn = Connection::open(&format!("http://{addr}"), "/sync", None)
                .await
                .unwrap();
            conn.send(&frame(8 * MB)).await.unwrap();
            let mut received = 0;
            while received < SERVER_FRAMES {
                conn.recv(Duration::from_secs(10)).await.unwrap();
                received += 1;
            }
            received
        };
        let received = tokio::time::timeout(Duration::from_secs(60), device)
            .await
            .expect("the device and the server waited on each other");
        assert_eq!(received, SERVER_FRAMES);
        let uploaded = server.await.unwrap();
        assert!(uploaded > 8 * MB, "{uploaded}");
    }

    /// A server that stops reading: a frame it does not take within the deadline is an error, not
    /// a wait without end.
    #[tokio::test]
    async fn a_frame_the_server_does_not_take_in_time_is_an_error() {
        let (listener, addr) = server_with_small_buffers();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let ws = tokio_tungstenite::accept_async(stream).await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(ws);
        });
        let mut conn = Connection::open(&format!("http://{addr}"), "/sync", None)
            .await
            .unwrap();
        conn.send_timeout = Duration::from_secs(1);
        conn.slowest_link = 1e9;
        let started = Instant::now();
        let err = conn.send(&frame(16 << 20)).await.unwrap_err();
        assert!(err.to_string().contains("did not take a frame"), "{err:#}");
        assert!(started.elapsed() < Duration::from_secs(20));
        server.abort();
    }
}
