//! One sender connection: posts a range of pre-serialized `eth_sendRawTransaction` requests
//! as one JSON-RPC batch and marks the ones the node refused. Only `id` and `error` of each
//! answer are parsed, to keep the load generator's CPU off the node's cores.

use super::Shared;
use crate::rpc_client::RpcClient;
use serde::Deserialize;
use std::ops::Range;

/// Distinct refusal messages remembered per level.
const REFUSAL_KINDS_MAX: usize = 16;

#[derive(Deserialize)]
struct Answer {
    id: Option<u64>,
    #[serde(default)]
    error: Option<ErrorObject>,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(default)]
    message: String,
}

pub struct Sender {
    url: String,
    /// Position of the group's first transaction in the level's index: request ids are
    /// positions within the group.
    offset: usize,
    client: RpcClient,
    body: Vec<u8>,
}

impl Sender {
    /// A connection to `url` (a group's endpoint) for the group whose transactions start at
    /// `offset`.
    pub fn connect(url: &str, offset: usize) -> anyhow::Result<Sender> {
        Ok(Sender {
            url: url.to_string(),
            offset,
            client: RpcClient::connect(url)?,
            body: Vec::new(),
        })
    }

    /// Sends `range` of the shared transactions (already marked sent). A transport failure
    /// refuses the whole batch and reconnects once; failing that is an error.
    pub fn send(&mut self, shared: &Shared, range: Range<usize>) -> anyhow::Result<()> {
        self.body.clear();
        self.body.push(b'[');
        for (k, tx) in shared.txs[range.clone()].iter().enumerate() {
            if k > 0 {
                self.body.push(b',');
            }
            self.body.extend_from_slice(tx.request.as_bytes());
        }
        self.body.push(b']');
        let answers = self
            .client
            .post_bytes(&self.body)
            .and_then(|bytes| Ok(serde_json::from_slice::<Vec<Answer>>(&bytes)?));
        match answers {
            Ok(answers) => {
                for a in answers {
                    if let (Some(id), Some(e)) = (a.id, a.error) {
                        let i = self.offset + id as usize;
                        if range.contains(&i) {
                            shared.timing.mark_refused(i);
                            note_refusal(shared, e.message);
                        }
                    }
                }
                Ok(())
            }
            Err(e) => {
                for i in range {
                    shared.timing.mark_refused(i);
                }
                note_refusal(shared, format!("batch failed: {e:#}"));
                self.client = RpcClient::connect(&self.url)?;
                Ok(())
            }
        }
    }
}

fn note_refusal(shared: &Shared, msg: String) {
    let mut r = shared.refusals.lock();
    let full = r.len() >= REFUSAL_KINDS_MAX;
    match r.get_mut(&msg) {
        Some(n) => *n += 1,
        None if !full => {
            r.insert(msg, 1);
        }
        None => {}
    }
}
