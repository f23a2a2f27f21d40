//! The pre-call check (`/?check`, or "Test my connection"): camera and microphone with a live
//! level meter, the signaling server, then STUN and each TURN transport on its own. It runs in
//! a task of its own: it shares nothing with a call, and the page is only the check from then on.

use futures_util::future::join_all;
use shared::IceServer;

use super::connect::now;
use super::App;
use crate::browser::{self, log, sleep};
use crate::check::{probes, Outcome, Probe, Row};
use crate::check_view::CheckView;
use crate::media;
use crate::probe::{gather, ice_config, LevelMeter};

/// How long the signaling round trip may take: a healthy server answers in milliseconds.
const SIGNALING_LIMIT_MS: u32 = 10_000;
/// How long one ICE URL may take to give its candidate: the call's per-attempt deadline, so a
/// transport that passes here is one a call can use.
const GATHER_LIMIT_MS: u32 = crate::deadline::ATTEMPT_MS as u32;
/// The level meter's refresh: smooth enough to follow speech.
const METER_EVERY_MS: u32 = 100;

impl App {
    /// "Test my connection": the check, at its own address.
    pub(super) fn open_check(&mut self) {
        if let Err(e) = browser::push_url(&self.params.check_query()) {
            log(&format!("cannot update the address bar: {e}"));
        }
        self.params.check = true;
        self.run_check();
    }

    pub(super) fn run_check(&mut self) {
        self.ui.hide_call_and_lobby();
        let view = match CheckView::new().and_then(|view| view.show().map(|()| view)) {
            Ok(view) => view,
            Err(e) => return log(&format!("the check page is missing: {e}")),
        };
        wasm_bindgen_futures::spawn_local(check(view, self.signaling_url.clone()));
    }
}

async fn check(view: CheckView, signaling_url: String) {
    let mut failures = media_rows(&view).await;
    let started = now();
    let servers = match ice_config(&signaling_url, SIGNALING_LIMIT_MS).await {
        Ok(servers) => {
            view.set(Row::Signaling, Outcome::Pass, Some(now() - started), None);
            Some(servers)
        }
        Err(why) => {
            failures += 1;
            view.set(Row::Signaling, Outcome::Fail, Some(now() - started), Some(&why));
            None
        }
    };
    let probes = servers.as_deref().map(probes).unwrap_or_default();
    for row in [Row::Stun, Row::TurnUdp, Row::TurnTcp, Row::TurnTls] {
        if !probes.iter().any(|p| p.row == row) {
            // Without the server's answer nothing can be tried: that is the signaling row's failure.
            let outcome = if servers.is_some() { Outcome::Skipped } else { Outcome::Fail };
            failures += usize::from(outcome == Outcome::Fail);
            view.set(row, outcome, None, servers.is_none().then_some("the call server did not answer"));
        }
    }
    // All at once: each waits on the network, not on the CPU.
    let results = join_all(probes.iter().map(run_probe)).await;
    for (probe, (result, ms)) in probes.iter().zip(results) {
        match result {
            Ok(()) => view.set(probe.row, Outcome::Pass, Some(ms), None),
            Err(why) => {
                failures += 1;
                view.set(probe.row, Outcome::Fail, Some(ms), Some(&why));
            }
        }
    }
    view.finished(failures);
}

async fn run_probe(probe: &Probe) -> (Result<(), String>, f64) {
    let started = now();
    let wanted = probe.row.wanted_candidate().unwrap_or("relay");
    let relay_only = wanted == "relay";
    let server: &IceServer = &probe.server;
    let result = gather(server, relay_only, wanted, GATHER_LIMIT_MS).await;
    (result, now() - started)
}

/// Camera and microphone rows, and the preview and level meter; returns the failures.
async fn media_rows(view: &CheckView) -> usize {
    let started = now();
    let local = match media::acquire().await {
        Ok(local) => local,
        Err(e) => {
            let why = e.to_string();
            view.set(Row::Camera, Outcome::Fail, None, Some(&why));
            view.set(Row::Microphone, Outcome::Fail, None, Some(&why));
            return 2;
        }
    };
    let ms = Some(now() - started);
    let mut failures = 0;
    if local.video.is_some() {
        view.show_camera(&local.stream);
        view.set(Row::Camera, Outcome::Pass, ms, None);
    } else {
        failures += 1;
        view.set(Row::Camera, Outcome::Fail, ms, local.note.as_deref());
    }
    if local.audio.is_none() {
        view.set(Row::Microphone, Outcome::Fail, ms, local.note.as_deref());
        return failures + 1;
    }
    match LevelMeter::new(&local.stream) {
        Ok(meter) => {
            view.set(Row::Microphone, Outcome::Pass, ms, None);
            spawn_meter(meter, local);
        }
        Err(e) => {
            failures += 1;
            view.set(Row::Microphone, Outcome::Fail, ms, Some(&format!("no level meter: {e}")));
        }
    }
    failures
}

/// The live meter: a page-lifetime task (the check is the whole page once opened), which also
/// keeps the camera and microphone open for as long as the page shows them.
fn spawn_meter(meter: LevelMeter, local: media::LocalMedia) {
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(view) = CheckView::new() else { return };
        let _keep = local;
        loop {
            view.set_level(meter.level());
            sleep(METER_EVERY_MS).await;
        }
    });
}
