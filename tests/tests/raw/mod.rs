//! Raw frames over the real websocket, for the tests that speak the protocol themselves (each
//! test file uses some of these).
#![allow(dead_code)]

use automerge::sync::{Message as SyncMessage, State, SyncDoc};
use futures_util::{SinkExt, StreamExt};
use ibasho_shared::sync::{DocMessage, ErrorCode, Frame, PROTOCOL_VERSION};
use ibasho_tests::Server;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn join(server: &Server, invite: &str) -> String {
    join_as(server, invite).await.0
}

/// Joins with a new actor id; returns the token and the actor, the only one whose new changes
/// the server takes from this device.
pub async fn join_as(server: &Server, invite: &str) -> (String, automerge::ActorId) {
    let (token, actor, _) = join_device(server, invite).await;
    (token, actor)
}

/// [`join_as`], with the device id too.
pub async fn join_device(server: &Server, invite: &str) -> (String, automerge::ActorId, String) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/join", server.addr))
        .await
        .unwrap();
    let actor = automerge::ActorId::random();
    let frame = Frame::Join {
        version: PROTOCOL_VERSION,
        invite: invite.into(),
        person: "検査".into(),
        actor: actor.to_bytes().to_vec(),
    };
    ws.send(Message::Binary(frame.encode().into()))
        .await
        .unwrap();
    match next(&mut ws).await {
        Some(Frame::Joined { token, device, .. }) => (token, actor, device),
        other => panic!("join failed: {other:?}"),
    }
}

/// The request opening a device's connection with `token`.
pub fn sync_request(
    server: &Server,
    token: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = format!("ws://{}/sync", server.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    request
}

pub async fn connect(server: &Server, token: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(sync_request(server, token))
        .await
        .unwrap();
    assert!(matches!(next(&mut ws).await, Some(Frame::Welcome { .. })));
    ws
}

/// The next frame, or `None` once the server closed the connection.
pub async fn next(ws: &mut Ws) -> Option<Frame> {
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .expect("the server answers")
        {
            Some(Ok(Message::Binary(b))) => return Some(Frame::decode(&b).unwrap()),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

pub async fn send_raw(ws: &mut Ws, bytes: Vec<u8>) {
    let _ = ws.send(Message::Binary(bytes.into())).await;
}

pub fn error_code(frame: Option<Frame>) -> ErrorCode {
    match frame {
        Some(Frame::Error { code, .. }) => code,
        other => panic!("expected an error frame, got {other:?}"),
    }
}

/// Expects an error frame with `code` and then the connection closed.
pub async fn refused_and_closed(ws: &mut Ws, code: ErrorCode) {
    assert_eq!(error_code(next(ws).await), code);
    assert!(
        next(ws).await.is_none(),
        "the connection closes after {code:?}"
    );
}

/// Runs a document's sync exchange over the socket until the server refuses it; returns the refusal.
pub async fn push(
    ws: &mut Ws,
    doc_id: &str,
    doc: &mut automerge::AutoCommit,
) -> (ErrorCode, String) {
    let mut state = State::new();
    for _ in 0..6 {
        let Some(message) = doc.sync().generate_sync_message(&mut state) else {
            break;
        };
        send_raw(ws, sync_frame(doc_id, message.encode())).await;
        let mut refused = None;
        loop {
            match next(ws).await {
                Some(Frame::SyncReply { docs }) => {
                    for d in docs {
                        doc.sync()
                            .receive_sync_message(
                                &mut state,
                                SyncMessage::decode(&d.message).unwrap(),
                            )
                            .unwrap();
                    }
                    break;
                }
                Some(Frame::Error { code, message, .. }) => refused = Some((code, message)),
                other => panic!("unexpected {other:?}"),
            }
        }
        if let Some(r) = refused {
            return r;
        }
    }
    panic!("{doc_id}: the server accepted what it should have refused")
}

pub fn sync_frame(doc: &str, message: Vec<u8>) -> Vec<u8> {
    Frame::Sync {
        docs: vec![DocMessage {
            doc: doc.into(),
            message,
        }],
    }
    .encode()
}

/// Brings `doc` in step with the server's copy through the real exchange.
pub async fn fetch(ws: &mut Ws, doc_id: &str, doc: &mut automerge::AutoCommit) {
    let mut state = State::new();
    for _ in 0..10 {
        let Some(m) = doc.sync().generate_sync_message(&mut state) else {
            return;
        };
        send_raw(ws, sync_frame(doc_id, m.encode())).await;
        match next(ws).await {
            Some(Frame::SyncReply { docs }) => {
                for d in docs {
                    let reply = SyncMessage::decode(&d.message).unwrap();
                    doc.sync().receive_sync_message(&mut state, reply).unwrap();
                }
            }
            other => panic!("expected a SyncReply, got {other:?}"),
        }
    }
    panic!("{doc_id}: no end to the exchange");
}
