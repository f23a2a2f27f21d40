//! The report's plots as SVG (plotters' SVG backend only: no fonts, no native libraries):
//! latency percentiles per server, memory per connection per server, relay and echo CPU per
//! message.

use std::path::Path;

use plotters::coord::combinators::IntoLogRange;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{BenchError, Result};
use crate::results::{Distribution, Metric, Results};
use crate::server::{Server, ECHO_SERVERS, ROOM_SERVERS};

const SIZE: (u32, u32) = (820, 460);
/// Percentiles plotted, as "nines" (−log10(1 − p)): 50, 75, 90, 95, 99, 99.5, 99.9.
const PERCENTILES: [f64; 7] = [50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9];

fn colour(server: Server) -> RGBColor {
    match server {
        Server::Ours | Server::OursEcho => RGBColor(214, 39, 40),
        Server::OursRedis => RGBColor(255, 127, 14),
        Server::OursRedisPair => RGBColor(148, 103, 189),
        Server::Tungstenite => RGBColor(31, 119, 180),
        Server::Fastwebsockets | Server::FastwebsocketsEcho => RGBColor(44, 160, 44),
        Server::RawTcp | Server::RawEcho => RGBColor(110, 110, 110),
        Server::RawFrames => RGBColor(30, 30, 30),
    }
}

fn nines(percentile: f64) -> f64 {
    -(1.0 - percentile / 100.0).log10()
}

fn failed(what: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError::Report(format!("plotting {what}: {e}"))
}

/// One line per server: latency (ms) at each percentile of `distribution`.
pub fn latency(path: &Path, title: &str, y_desc: &str, results: &Results, distribution: Distribution) -> Result<()> {
    let series: Vec<(Server, Vec<(f64, f64)>)> = ROOM_SERVERS
        .iter()
        .filter_map(|&server| {
            let histogram = results.histogram(distribution, server)?;
            let points =
                PERCENTILES.iter().map(|&p| (nines(p), histogram.value_at_percentile(p) as f64 / 1000.0)).collect();
            Some((server, points))
        })
        .collect();
    let top = series.iter().flat_map(|(_, points)| points.iter().map(|p| p.1)).fold(0.0, f64::max).max(0.01) * 1.1;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(title, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.2..3.1f64, 0.0..top)
        .map_err(|e| failed(title, e))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc(y_desc)
        .x_labels(8)
        .x_label_formatter(&|x| {
            let p = 100.0 * (1.0 - 10f64.powf(-x));
            match PERCENTILES.iter().find(|&&q| (nines(q) - x).abs() < 0.02) {
                Some(q) => format!("p{q}"),
                None => format!("p{p:.1}"),
            }
        })
        .draw()
        .map_err(|e| failed(title, e))?;
    for (server, points) in series {
        let colour = colour(server);
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
            .map_err(|e| failed(title, e))?
            .label(server.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart
            .draw_series(points.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
            .map_err(|e| failed(title, e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| failed(title, e))?;
    root.present().map_err(|e| failed(title, e))
}

/// Grouped bars, one group per server of `servers`, one bar per metric; a log scale when the
/// values span more than a factor of 20 (tungstenite's memory next to raw TCP's).
pub fn bars(
    path: &Path,
    title: &str,
    y_desc: &str,
    results: &Results,
    servers: &[Server],
    metrics: &[(Metric, &str)],
) -> Result<()> {
    let values: Vec<Vec<f64>> = servers
        .iter()
        .map(|&server| metrics.iter().map(|&(metric, _)| results.figure(metric, server).unwrap_or(0.0)).collect())
        .collect();
    let positive = values.iter().flatten().copied().filter(|v| *v > 0.0);
    let (low, high) = positive.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let high = if high > 0.0 { high * 1.15 } else { 1.0 };
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| failed(title, e))?;
    let x_range = -0.5..servers.len() as f64 - 0.5;
    let label = |x: &f64| server_label(servers, *x);
    let width = 0.8 / metrics.len() as f64;
    let mut builder = ChartBuilder::on(&root);
    builder.caption(title, ("sans-serif", 18)).margin(12).x_label_area_size(40).y_label_area_size(60);
    let legend = metrics.iter().map(|(_, name)| *name).collect::<Vec<_>>().join(" (light) / ");
    if low < f64::MAX && high / low > 20.0 {
        let floor = low / 2.0;
        let mut chart = builder.build_cartesian_2d(x_range, (floor..high).log_scale()).map_err(|e| failed(title, e))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * servers.len() + 1)
            .x_label_formatter(&label)
            .x_desc(format!("{legend} (dark); log scale"))
            .y_desc(y_desc)
            .draw()
            .map_err(|e| failed(title, e))?;
        chart.draw_series(bar_rectangles(servers, &values, width, floor)).map_err(|e| failed(title, e))?;
        chart.draw_series(bar_labels(&values, width)).map_err(|e| failed(title, e))?;
    } else {
        let mut chart = builder.build_cartesian_2d(x_range, 0.0..high).map_err(|e| failed(title, e))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * servers.len() + 1)
            .x_label_formatter(&label)
            .x_desc(format!("{legend} (dark)"))
            .y_desc(y_desc)
            .draw()
            .map_err(|e| failed(title, e))?;
        chart.draw_series(bar_rectangles(servers, &values, width, 0.0)).map_err(|e| failed(title, e))?;
        chart.draw_series(bar_labels(&values, width)).map_err(|e| failed(title, e))?;
    }
    root.present().map_err(|e| failed(title, e))
}

/// The server whose group of bars is centred on `x`, or nothing between groups.
fn server_label(servers: &[Server], x: f64) -> String {
    let i = x.round();
    match servers.get(i as usize) {
        Some(server) if (x - i).abs() < 0.01 && i >= 0.0 => server.name().to_owned(),
        _ => String::new(),
    }
}

/// One rectangle per value: group `i` (a server) at x = i, its bars side by side, the first
/// metric lighter than the second.
fn bar_rectangles(servers: &[Server], values: &[Vec<f64>], width: f64, floor: f64) -> Vec<Rectangle<(f64, f64)>> {
    let mut bars = Vec::new();
    for (i, row) in values.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let x0 = i as f64 - 0.4 + j as f64 * width;
            let shade = colour(servers[i]).mix(if j == 0 { 0.55 } else { 1.0 });
            bars.push(Rectangle::new([(x0, floor), (x0 + width * 0.92, v.max(floor))], shade.filled()));
        }
    }
    bars
}

/// Each bar's value just above it, so the plot reads without the table.
fn bar_labels(values: &[Vec<f64>], width: f64) -> Vec<Text<'static, (f64, f64), String>> {
    let mut labels = Vec::new();
    for (i, row) in values.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let centre = i as f64 - 0.4 + (j as f64 + 0.46) * width;
            let text = if v >= 10.0 { format!("{v:.0}") } else { format!("{v:.1}") };
            let style = TextStyle::from(("sans-serif", 12)).pos(Pos::new(HPos::Center, VPos::Bottom));
            labels.push(Text::new(text, (centre, v), style));
        }
    }
    labels
}

/// Writes every plot into `dir`; returns (title, file name) of each.
pub fn write_all(dir: &Path, results: &Results) -> Result<Vec<(String, String)>> {
    std::fs::create_dir_all(dir).map_err(|e| BenchError::io(format!("creating {}", dir.display()), e))?;
    let mut written = Vec::new();
    let one_way = "one-way latency (ms)";
    for (file, title, y_desc, distribution) in [
        ("latency-paced-256.svg", "One-way latency, paced relay of 256 B signals", one_way, Distribution::PacedSmall),
        ("latency-paced-4k.svg", "One-way latency, paced relay of 4 KiB signals", one_way, Distribution::PacedLarge),
        ("latency-join-burst.svg", "join → joined latency, bursts", "join → joined (ms)", Distribution::JoinBurst),
    ] {
        latency(&dir.join(file), title, y_desc, results, distribution)?;
        written.push((title.to_owned(), file.to_owned()));
    }
    let memory = [(Metric::RssConnected, "per connected peer"), (Metric::RssJoined, "per joined peer")];
    let title = "Server memory (RSS) per connection";
    bars(&dir.join("memory.svg"), title, "KB per connection", results, &ROOM_SERVERS, &memory)?;
    written.push((title.to_owned(), "memory.svg".to_owned()));
    let cpu = [(Metric::ClosedSmallCpu, "256 B"), (Metric::ClosedLargeCpu, "4 KiB")];
    let title = "Server CPU per relayed message, closed loop";
    bars(&dir.join("cpu.svg"), title, "µs per message", results, &ROOM_SERVERS, &cpu)?;
    written.push((title.to_owned(), "cpu.svg".to_owned()));
    let echo = [(Metric::EchoSmallCpu, "64 B"), (Metric::EchoLargeCpu, "32 KiB")];
    let title = "Server CPU per echoed message";
    bars(&dir.join("cpu-echo.svg"), title, "µs per message", results, &ECHO_SERVERS, &echo)?;
    written.push((title.to_owned(), "cpu-echo.svg".to_owned()));
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::relay::histogram;

    #[test]
    fn every_plot_is_written_from_a_run() {
        let mut results = Results::default();
        for (i, server) in ROOM_SERVERS.into_iter().enumerate() {
            let mut latency = histogram();
            for us in 1..=1000u64 {
                latency.record(us * (i as u64 + 1)).unwrap();
            }
            for distribution in [Distribution::PacedSmall, Distribution::PacedLarge, Distribution::JoinBurst] {
                results.add_histogram(distribution, server, &latency);
            }
            results.add(Metric::RssConnected, server, [9.8, 136.0, 10.8, 1.3, 1.2][i]);
            results.add(Metric::RssJoined, server, [10.2, 137.0, 10.9, 1.4, 1.3][i]);
            results.add(Metric::ClosedSmallCpu, server, 7.0 + i as f64);
            results.add(Metric::ClosedLargeCpu, server, 15.0 + i as f64);
        }
        for (i, server) in ECHO_SERVERS.into_iter().enumerate() {
            results.add(Metric::EchoSmallCpu, server, 3.0 + i as f64);
            results.add(Metric::EchoLargeCpu, server, 17.0 - i as f64);
        }
        let dir = std::env::temp_dir().join(format!("bench-plots-{}", std::process::id()));
        let written = write_all(&dir, &results).unwrap();
        assert_eq!(written.len(), 6);
        for (_, file) in written {
            let svg = std::fs::read_to_string(dir.join(&file)).unwrap();
            assert!(svg.starts_with("<svg") && svg.contains("fastwebsockets"), "{file}");
        }
        let echo = std::fs::read_to_string(dir.join("cpu-echo.svg")).unwrap();
        for server in ECHO_SERVERS {
            assert!(echo.contains(server.name()), "{} in the echo plot", server.name());
        }
        assert!(echo.contains(">\n17\n<") && echo.contains(">\n3.0\n<"), "the bars carry their values");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
