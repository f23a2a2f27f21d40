//! The browser WebSocket to the signaling server. Its callbacks only forward events to the app
//! loop, tagged with a generation number so events of a replaced socket are ignored; reconnecting
//! (with backoff) and resuming are decided in the app.

use shared::ClientMessage;
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::error::WebError;
use crate::event::{Event, Sender};

pub struct Signaling {
    socket: WebSocket,
    // Owned so they live exactly as long as the socket; handlers are removed on drop.
    _on_open: Closure<dyn FnMut(web_sys::Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
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
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| emit(Event::SignalingOpen(generation)))
        };
        let on_message = {
            let emit = send(tx);
            Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
                if let Some(text) = message.data().as_string() {
                    emit(Event::SignalingMessage(generation, text));
                }
            })
        };
        let on_close = {
            let emit = send(tx);
            Closure::<dyn FnMut(CloseEvent)>::new(move |close: CloseEvent| {
                emit(Event::SignalingClosed(generation, close.code()))
            })
        };
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Signaling { socket, _on_open: on_open, _on_message: on_message, _on_close: on_close })
    }

    pub fn send(&self, message: &ClientMessage) -> Result<(), WebError> {
        self.socket.send_with_str(&message.to_json()).map_err(WebError::from)
    }
}

impl Drop for Signaling {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close_with_code(1000);
    }
}
