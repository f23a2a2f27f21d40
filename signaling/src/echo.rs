//! The echo service: every text and binary message goes back as it came. It exists to prove the
//! WebSocket layer against Autobahn|Testsuite and to test that layer end to end.

use std::ops::ControlFlow;

use tracing::debug;

use crate::service::Service;
use crate::ws::{CloseCode, Handler, Message, WebSocket, Writer};

#[derive(Debug, Default, Clone, Copy)]
pub struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, message: Message<'_>, reply: &mut Writer) -> ControlFlow<(CloseCode, &'static str)> {
        match message {
            Message::Text(text) => reply.text(text),
            Message::Binary(data) => reply.binary(data),
        }
        ControlFlow::Continue(())
    }
}

impl Service for Echo {
    async fn session(&self, ws: &mut WebSocket) {
        let peer = ws.peer_addr();
        let ended = ws.run(&mut Echo, None).await;
        debug!(?peer, reason = ended.label(), "echo session ended");
    }
}
