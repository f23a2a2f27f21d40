//! The browser WebSocket to the signaling server. Its callbacks only forward events to the app
//! loop, tagged with a generation number so events of a replaced socket are ignored; reconnecting
//! (with backoff) and resuming are decided in the app.

use shared::ClientMessage;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::error::WebError;
use crate::event::{Event, Sender};
use crate::listener::Listener;

pub struct Signaling {
    socket: WebSocket,
    /// Owned so they live exactly as long as the socket; removed on drop.
    _listeners: [Listener; 3],
}

impl Signaling {
    pub fn open(url: &str, generation: u32, tx: &Sender) -> Result<Signaling, WebError> {
        let socket = WebSocket::new(url)?;
        let send = |tx: &Sender| {
            let tx = tx.clone();
            move |event: Event| {
                let _ = tx.unbounded_send(event);
            }
        };
        let on_open = {
            let emit = send(tx);
            Listener::new(&socket, "open", move |_: web_sys::Event| emit(Event::SignalingOpen(generation)))
        };
        let on_message = {
            let emit = send(tx);
            Listener::new(&socket, "message", move |message: MessageEvent| {
                if let Some(text) = message.data().as_string() {
                    emit(Event::SignalingMessage(generation, text));
                }
            })
        };
        let on_close = {
            let emit = send(tx);
            Listener::new(&socket, "close", move |close: CloseEvent| {
                emit(Event::SignalingClosed(generation, close.code()))
            })
        };
        Ok(Signaling { socket, _listeners: [on_open, on_message, on_close] })
    }

    pub fn send(&self, message: &ClientMessage) -> Result<(), WebError> {
        self.socket.send_with_str(&message.to_json()).map_err(WebError::from)
    }
}

impl Drop for Signaling {
    fn drop(&mut self) {
        // The listeners are removed right after, before the browser can dispatch the close.
        let _ = self.socket.close_with_code(1000);
    }
}
