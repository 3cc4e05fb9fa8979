//! The node's JSON-RPC as the exporter reads it: URLs of groups, and bcos_rpc's blocking
//! client with the timeout `--rpc-timeout-ms` names.

use anyhow::{anyhow, bail, Context};
use bcos_rpc::client::RpcClient;
use serde_json::Value;
use std::time::Duration;

/// `http://host:port` and the path of a URL: `(host:port, /path)`.
pub fn split_url(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        anyhow!("bad RPC URL {url:?}: only http://host:port[/g/<group>] is supported")
    })?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if host.is_empty() {
        bail!("bad RPC URL {url:?}: no host");
    }
    Ok((host.to_string(), path.to_string()))
}

/// The node serves group `g` at `/g/<g>` (spec/groups.md).
pub fn group_url(base: &str, group: u32) -> String {
    format!("{}/g/{group}", base.trim_end_matches('/'))
}

/// The group a URL's path names (`/g/<g>`), if any.
pub fn group_of_url(url: &str) -> anyhow::Result<Option<u32>> {
    let (_, path) = split_url(url)?;
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        return Ok(None);
    }
    let g = path
        .strip_prefix("/g/")
        .ok_or_else(|| anyhow!("bad RPC URL {url:?}: the path must be empty or /g/<group>"))?;
    Ok(Some(
        g.parse().with_context(|| format!("bad group in {url:?}"))?,
    ))
}

/// The URL without a `/g/<g>` path.
pub fn base_url(url: &str) -> anyhow::Result<String> {
    let (host, _) = split_url(url)?;
    Ok(format!("http://{host}"))
}

/// A node's JSON-RPC at one URL (bcos_rpc's blocking client), with errors that name the URL
/// and the method.
pub struct Rpc {
    url: String,
    client: RpcClient,
}

impl Rpc {
    pub fn connect(url: &str, timeout: Duration) -> anyhow::Result<Rpc> {
        split_url(url)?;
        let client = RpcClient::connect_timeout(url, timeout)
            .with_context(|| format!("cannot reach the node's JSON-RPC at {url}"))?;
        Ok(Rpc {
            url: url.to_string(),
            client,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// One call; a JSON-RPC error is an error naming the method.
    pub fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.try_call(method, params)?
            .map_err(|e| anyhow!("{}: {method}: {e}", self.url))
    }

    /// One call; a JSON-RPC error comes back as `Ok(Err(message))`.
    pub fn try_call(
        &mut self,
        method: &str,
        params: Value,
    ) -> anyhow::Result<Result<Value, String>> {
        let answer = self
            .client
            .call(method, params)
            .with_context(|| format!("{}: {method}", self.url))?;
        Ok(answer.map_err(|e| e.to_string()))
    }

    /// A batch of calls of one method; results in request order; any error fails it.
    pub fn batch(&mut self, method: &str, params: Vec<Value>) -> anyhow::Result<Vec<Value>> {
        if params.is_empty() {
            return Ok(Vec::new());
        }
        let calls: Vec<(&str, Value)> = params.into_iter().map(|p| (method, p)).collect();
        let answers = self
            .client
            .batch(&calls)
            .with_context(|| format!("{}: a batch of {} {method}", self.url, calls.len()))?;
        answers
            .into_iter()
            .map(|a| a.map_err(|e| anyhow!("{}: {method}: {e}", self.url)))
            .collect()
    }
}

impl Rpc {
    /// [`Rpc::batch`], halving a batch the node refuses (a batch of large blocks can pass
    /// the node's response bound, `rpc.max_response_body_bytes`) until one call alone fails.
    pub fn batch_split(&mut self, method: &str, params: Vec<Value>) -> anyhow::Result<Vec<Value>> {
        if params.len() <= 1 {
            return self.batch(method, params);
        }
        match self.batch(method, params.clone()) {
            Ok(out) => Ok(out),
            Err(_) => {
                let mut params = params;
                let back = params.split_off(params.len() / 2);
                let mut out = self.batch_split(method, params)?;
                out.extend(self.batch_split(method, back)?);
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_and_group() {
        assert!(split_url("https://x:1").is_err());
        assert!(split_url("127.0.0.1:8545").is_err());
        assert_eq!(group_of_url("http://127.0.0.1:8545").ok(), Some(None));
        assert_eq!(group_of_url("http://127.0.0.1:8545/").ok(), Some(None));
        assert_eq!(
            group_of_url("http://127.0.0.1:8545/g/3").ok(),
            Some(Some(3))
        );
        assert!(group_of_url("http://127.0.0.1:8545/x").is_err());
        assert_eq!(group_url("http://h:1/", 2), "http://h:1/g/2");
        assert_eq!(
            base_url("http://h:1/g/2").ok().as_deref(),
            Some("http://h:1")
        );
    }
}
