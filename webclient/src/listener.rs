//! The one way this client attaches a browser callback: a [`Listener`] owns its closure, adds it
//! with `addEventListener` when made and removes it when dropped. So a handler lives exactly as
//! long as its owner (a call, a socket, the UI, a screen share), none is leaked with `forget`, and
//! none can fire into a dropped closure. `addEventListener` reaches every target used here: DOM
//! elements, the window, WebSocket, RTCPeerConnection, RTCDataChannel and MediaStreamTrack.

use wasm_bindgen::prelude::*;
use web_sys::EventTarget;

/// An event listener, removed from its target when dropped.
pub struct Listener {
    target: EventTarget,
    kind: &'static str,
    callback: Closure<dyn FnMut(web_sys::Event)>,
}

impl Listener {
    /// Calls `handle` with each `kind` event of `target`, as the event interface `E` that the
    /// browser dispatches for that name (`MessageEvent` for `message`, `CloseEvent` for a
    /// WebSocket's `close`, …). Like a typed `Closure`, the cast is not checked: the event name
    /// decides the type.
    pub fn new<E: JsCast>(target: &EventTarget, kind: &'static str, mut handle: impl FnMut(E) + 'static) -> Listener {
        let callback = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            handle(event.unchecked_into::<E>());
        });
        // Throws only when the callback is not callable, which a `Closure` always is.
        let _ = target.add_event_listener_with_callback(kind, callback.as_ref().unchecked_ref());
        Listener { target: target.clone(), kind, callback }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(self.kind, self.callback.as_ref().unchecked_ref());
    }
}
