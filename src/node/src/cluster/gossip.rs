//! Transaction forwarding (spec/pbft.md §5: "forward transactions to all validators so that
//! the leader holds them"). A node forwards each transaction it accepted over RPC once, in
//! batches; peers run forwarded transactions through the same checks and admission as RPC
//! ones (and never forward them again).

use super::wire::Wire;
use crate::runtime::Transport;
use bcos_types::Bytes;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Cheap to clone; dropping every clone ends the forwarding task.
#[derive(Clone)]
pub struct TxForwarder {
    tx: mpsc::Sender<Bytes>,
}

impl TxForwarder {
    /// Starts the batching task; `batch_max` transactions or `batch_bytes_max` bytes per
    /// frame, at most `queue_max` waiting. `net` is the group's transport: only the group's
    /// members hear of its transactions.
    pub fn start(
        net: Arc<dyn Transport>,
        queue_max: usize,
        batch_max: usize,
        batch_bytes_max: usize,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<Bytes>(queue_max.max(1));
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut bytes = first.len();
                let mut batch = vec![first];
                while batch.len() < batch_max && bytes < batch_bytes_max {
                    match rx.try_recv() {
                        Ok(raw) => {
                            bytes += raw.len();
                            batch.push(raw);
                        }
                        Err(_) => break,
                    }
                }
                net.broadcast(Wire::Txs(batch).encode());
            }
        });
        TxForwarder { tx }
    }

    /// Queues one accepted transaction; a full queue drops it (this node still holds it and
    /// proposes it when it leads).
    pub fn forward(&self, raw: Bytes) {
        if self.tx.try_send(raw).is_err() {
            tracing::debug!("forward queue full; transaction kept locally only");
        }
    }
}
