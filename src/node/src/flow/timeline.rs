//! Reading flow logs back: a transaction's or a block's timeline, and per-stage latency
//! percentiles over a whole log (`bcos flow`).
//!
//! A flow event is any log line whose target is [`super::TARGET`]; its `key=value` fields
//! are read whatever the log's timestamp format, with or without ANSI colours. Lines that
//! are not flow events are skipped, so the node's whole log can be given.

use super::{BlockStage, TxStage, TARGET};
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::io::BufRead;

/// Transactions the summary follows at once (those whose receipt is not yet visible in the
/// log); past it, new ones are counted as untracked rather than held.
pub const SUMMARY_OPEN_TXS_MAX: usize = 1_000_000;
/// Blocks the summary follows at once (those not yet stored in the log).
pub const SUMMARY_OPEN_BLOCKS_MAX: usize = 100_000;

/// One flow event as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub group: u32,
    pub stage: String,
    pub t_us: u128,
    pub tx: Option<String>,
    pub block: Option<u64>,
    pub hash: Option<String>,
}

/// Removes ANSI escape sequences (colours), which the node writes when its output is a
/// terminal.
fn strip_ansi(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.contains('\u{1b}') {
        return line.into();
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC '[' parameters, ended by a letter.
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// The flow event on `line`, if it is one.
pub fn parse_line(line: &str) -> Option<Event> {
    let line = strip_ansi(line);
    let marker = format!(" {TARGET}:");
    let at = line.find(&marker)?;
    let rest = &line[at + marker.len()..];
    let mut group = None;
    let mut stage = None;
    let mut t_us = None;
    let mut tx = None;
    let mut block = None;
    let mut hash = None;
    for token in rest.split_whitespace() {
        let Some((k, v)) = token.split_once('=') else {
            continue;
        };
        let v = v.trim_matches('"');
        match k {
            "group" => group = v.parse().ok(),
            "stage" => stage = Some(v.to_owned()),
            "t_us" => t_us = v.parse().ok(),
            "tx" => tx = Some(v.to_ascii_lowercase()),
            "block" => block = v.parse().ok(),
            "hash" => hash = Some(v.to_ascii_lowercase()),
            _ => {}
        }
    }
    Some(Event {
        group: group?,
        stage: stage?,
        t_us: t_us?,
        tx,
        block,
        hash,
    })
}

/// Every flow event of `reader`, in log order, that `keep` accepts.
pub fn events(
    reader: impl BufRead,
    mut keep: impl FnMut(&Event) -> bool,
) -> std::io::Result<Vec<Event>> {
    let mut out = Vec::new();
    for line in reader.lines() {
        if let Some(e) = parse_line(&line?) {
            if keep(&e) {
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// Renders events as a timeline: each with its offset from the first.
pub fn render_timeline(title: &str, events: &mut [Event]) -> String {
    events.sort_by_key(|e| e.t_us);
    let Some(first) = events.first().map(|e| e.t_us) else {
        return format!("{title}: no flow events (is the flow log on for this group?)\n");
    };
    let mut out = format!("{title}\n");
    for e in events.iter() {
        let offset_ms = (e.t_us - first) as f64 / 1000.0;
        let what = match (&e.tx, e.block) {
            (Some(_), Some(b)) => format!("tx     {:<16} block {b}", e.stage),
            (Some(_), None) => format!("tx     {}", e.stage),
            (None, Some(b)) => format!("block  {:<16} block {b}", e.stage),
            (None, None) => e.stage.clone(),
        };
        out.push_str(&format!("  +{offset_ms:>10.3} ms  {what}\n"));
    }
    out
}

/// Latency of each later stage from an item's first stage, over a whole log.
#[derive(Debug)]
pub struct Summary {
    pub tx_stages: Vec<(&'static str, Histogram<u64>)>,
    pub block_stages: Vec<(&'static str, Histogram<u64>)>,
    pub txs_seen: u64,
    pub blocks_seen: u64,
    /// Items not followed because [`SUMMARY_OPEN_TXS_MAX`] or [`SUMMARY_OPEN_BLOCKS_MAX`]
    /// were open at the time.
    pub untracked: u64,
}

/// The largest latency the summary tells apart (an hour, in microseconds); larger ones
/// count as this.
const LATENCY_US_MAX: u64 = 3_600_000_000;

fn latency_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, LATENCY_US_MAX, 3) {
        Ok(h) => h,
        Err(e) => unreachable!("constant histogram bounds: {e}"),
    }
}

/// Follows items through their stages: records each stage's time since the item's first
/// event, and forgets the item at its last stage.
struct Tracker<K> {
    open: HashMap<K, u128>,
    max: usize,
}

impl<K: std::hash::Hash + Eq> Tracker<K> {
    /// The item's first time, starting it at `t` if new; `None` if it cannot be followed.
    fn start_of(&mut self, key: K, t: u128, untracked: &mut u64) -> Option<u128> {
        if let Some(t0) = self.open.get(&key) {
            return Some(*t0);
        }
        if self.open.len() >= self.max {
            *untracked += 1;
            return None;
        }
        self.open.insert(key, t);
        Some(t)
    }
}

/// Reads a whole log (of group `group`) into a [`Summary`].
pub fn summarize(reader: impl BufRead, group: u32) -> std::io::Result<Summary> {
    let mut tx_h: Vec<_> = TxStage::ALL
        .iter()
        .map(|s| (s.name(), latency_histogram()))
        .collect();
    let mut block_h: Vec<_> = BlockStage::ALL
        .iter()
        .map(|s| (s.name(), latency_histogram()))
        .collect();
    let mut txs = Tracker {
        open: HashMap::new(),
        max: SUMMARY_OPEN_TXS_MAX,
    };
    let mut blocks = Tracker {
        open: HashMap::new(),
        max: SUMMARY_OPEN_BLOCKS_MAX,
    };
    let (mut txs_seen, mut blocks_seen, mut untracked) = (0u64, 0u64, 0u64);
    for line in reader.lines() {
        let Some(e) = parse_line(&line?) else {
            continue;
        };
        if e.group != group {
            continue;
        }
        let record = |hs: &mut Vec<(&'static str, Histogram<u64>)>, t0: u128| {
            if let Some((_, h)) = hs.iter_mut().find(|(n, _)| *n == e.stage) {
                let us = u64::try_from(e.t_us.saturating_sub(t0)).unwrap_or(u64::MAX);
                h.saturating_record(us.clamp(1, LATENCY_US_MAX));
            }
        };
        match (&e.tx, e.block) {
            (Some(tx), _) => {
                let fresh = !txs.open.contains_key(tx);
                let Some(t0) = txs.start_of(tx.clone(), e.t_us, &mut untracked) else {
                    continue;
                };
                txs_seen += u64::from(fresh);
                record(&mut tx_h, t0);
                if e.stage == TxStage::ReceiptVisible.name() {
                    txs.open.remove(tx);
                }
            }
            (None, Some(number)) => {
                let fresh = !blocks.open.contains_key(&number);
                let Some(t0) = blocks.start_of(number, e.t_us, &mut untracked) else {
                    continue;
                };
                blocks_seen += u64::from(fresh);
                record(&mut block_h, t0);
                if e.stage == BlockStage::Stored.name() {
                    blocks.open.remove(&number);
                }
            }
            (None, None) => {}
        }
    }
    Ok(Summary {
        tx_stages: tx_h,
        block_stages: block_h,
        txs_seen,
        blocks_seen,
        untracked,
    })
}

impl Summary {
    /// A table: per stage, how many items reached it and the percentiles (ms) of the time
    /// since the item's first event.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut table = |title: &str, seen: u64, rows: &[(&'static str, Histogram<u64>)]| {
            out.push_str(&format!(
                "{title} ({seen} seen): time since the first event, ms\n  {:<16} {:>9} {:>10} {:>10} {:>10} {:>10}\n",
                "stage", "count", "p50", "p90", "p99", "max"
            ));
            for (name, h) in rows {
                if h.is_empty() {
                    continue;
                }
                let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                out.push_str(&format!(
                    "  {name:<16} {:>9} {:>10.3} {:>10.3} {:>10.3} {:>10.3}\n",
                    h.len(),
                    ms(0.5),
                    ms(0.9),
                    ms(0.99),
                    h.max() as f64 / 1000.0
                ));
            }
        };
        table("transactions", self.txs_seen, &self.tx_stages);
        table("blocks", self.blocks_seen, &self.block_stages);
        if self.untracked > 0 {
            out.push_str(&format!(
                "{} items not followed (more than {SUMMARY_OPEN_TXS_MAX} transactions or {SUMMARY_OPEN_BLOCKS_MAX} blocks open at once)\n",
                self.untracked
            ));
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TX: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";

    fn line(fields: &str) -> String {
        format!("2026-11-30T07:00:00.000001Z  INFO bcos_flow: flow {fields}")
    }

    #[test]
    fn reads_plain_and_coloured_lines_and_skips_others() {
        let plain = line(&format!("group=2 stage=admitted tx={TX} t_us=17"));
        let e = parse_line(&plain).unwrap();
        assert_eq!(
            e,
            Event {
                group: 2,
                stage: "admitted".into(),
                t_us: 17,
                tx: Some(TX.into()),
                block: None,
                hash: None,
            }
        );
        let coloured = "\u{1b}[2m2026-11-30T07:00:00Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m \u{1b}[2mbcos_flow\u{1b}[0m\u{1b}[2m:\u{1b}[0m flow \u{1b}[3mgroup\u{1b}[0m\u{1b}[2m=\u{1b}[0m0 \u{1b}[3mstage\u{1b}[0m\u{1b}[2m=\u{1b}[0mstored \u{1b}[3mblock\u{1b}[0m\u{1b}[2m=\u{1b}[0m9 \u{1b}[3mt_us\u{1b}[0m\u{1b}[2m=\u{1b}[0m5";
        let e = parse_line(coloured).unwrap();
        assert_eq!((e.stage.as_str(), e.block, e.t_us), ("stored", Some(9), 5));
        assert_eq!(
            parse_line("2026 INFO bcos_node::block_exec: block committed number=1"),
            None
        );
        // A flow line missing a required field is not an event.
        assert_eq!(parse_line(&line("group=0 stage=sealed")), None);
    }

    #[test]
    fn summary_measures_each_stage_from_the_first_and_per_group() {
        let log = [
            line(&format!("group=0 stage=received tx={TX} t_us=1000")),
            line(&format!("group=0 stage=admitted tx={TX} t_us=3000")),
            line("group=1 stage=received tx=0xab t_us=0"),
            line("group=0 stage=sealed block=4 t_us=10000"),
            line("group=0 stage=stored block=4 t_us=14000"),
            line(&format!(
                "group=0 stage=receipt_visible tx={TX} block=4 t_us=21000"
            )),
        ]
        .join("\n");
        let s = summarize(log.as_bytes(), 0).unwrap();
        assert_eq!((s.txs_seen, s.blocks_seen, s.untracked), (1, 1, 0));
        // (count, whether the recorded value is `us` within the histogram's precision)
        let get = |rows: &[(&str, Histogram<u64>)], n: &str, us: u64| {
            let h = &rows.iter().find(|(name, _)| *name == n).unwrap().1;
            (h.len(), h.equivalent(h.max(), us))
        };
        assert_eq!(get(&s.tx_stages, "admitted", 2000), (1, true));
        assert_eq!(get(&s.tx_stages, "receipt_visible", 20_000), (1, true));
        assert_eq!(get(&s.block_stages, "stored", 4000), (1, true));
        assert_eq!(get(&s.tx_stages, "committed", 0).0, 0);
        assert!(s.render().contains("receipt_visible"));
    }

    #[test]
    fn timeline_orders_by_time_and_reports_an_empty_log() {
        let mut evs = events(
            [
                line(&format!("group=0 stage=committed tx={TX} block=3 t_us=900")),
                line(&format!("group=0 stage=received tx={TX} t_us=100")),
            ]
            .join("\n")
            .as_bytes(),
            |_| true,
        )
        .unwrap();
        let text = render_timeline("tx", &mut evs);
        let received = text.find("received").unwrap();
        let committed = text.find("committed").unwrap();
        assert!(received < committed, "{text}");
        assert!(text.contains("+     0.800 ms"), "{text}");
        assert!(render_timeline("tx", &mut []).contains("no flow events"));
    }
}
