//! Flame graph rendering: folded stacks (tracing-flame's output, one `a;b;c <count>` line per
//! stack) to an SVG in the report directory, with inferno.

use std::path::Path;

use anyhow::Context;

/// The flame graph's file name inside the report directory.
pub const FLAMEGRAPH_SVG: &str = "flamegraph.svg";

/// Renders folded stacks to SVG bytes.
pub fn render_folded(folded: &str) -> anyhow::Result<Vec<u8>> {
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = "bcos node flame graph (loadgen certify)".to_string();
    // Colours from a hash of the frame name, so regenerating a report gives the same picture.
    opts.deterministic = true;
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut opts, folded.lines(), &mut svg)
        .context("rendering the flame graph from folded stacks")?;
    Ok(svg)
}

/// Reads a folded-stacks file and writes the flame graph SVG to `svg_out`.
pub fn render_folded_file(folded: &Path, svg_out: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(folded)
        .with_context(|| format!("reading folded stacks {}", folded.display()))?;
    let svg = render_folded(&text).with_context(|| format!("in {}", folded.display()))?;
    std::fs::write(svg_out, svg).with_context(|| format!("writing {}", svg_out.display()))
}
