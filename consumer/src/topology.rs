//! Which nodes to read: the primaries of a cluster, found from any node
//! with `CLUSTER SLOTS`, or the one server of a standalone deployment.

use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use redis::{Connection, Value};

use crate::entry::bytes;
use crate::Auth;

/// How long connecting to a node may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a reply may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to `address` (`host:port`), authenticated with `auth`.
pub fn connect(address: &str, auth: Option<&Auth>) -> Result<Connection> {
    let client = redis::Client::open(format!("redis://{address}"))
        .with_context(|| format!("bad node address {address}"))?;
    let mut con = client
        .get_connection_with_timeout(CONNECT_TIMEOUT)
        .with_context(|| format!("cannot connect to {address}"))?;
    con.set_read_timeout(Some(READ_TIMEOUT))?;
    if let Some(auth) = auth {
        let _: () = redis::cmd("AUTH")
            .arg(&auth.user)
            .arg(&auth.password)
            .query(&mut con)
            .with_context(|| format!("AUTH as {} on {address}", auth.user))?;
    }
    Ok(con)
}

/// The nodes to read, as `host:port`, asking the first of `known` that
/// answers: every primary that serves slots, or `known`'s node itself when
/// it is not in a cluster.
pub fn discover(known: &[String], auth: Option<&Auth>) -> Result<Vec<String>> {
    let mut errors = Vec::new();
    for address in known {
        match primaries_seen_by(address, auth) {
            Ok(primaries) => return Ok(primaries),
            Err(e) => errors.push(format!("{address}: {e:#}")),
        }
    }
    bail!("no node answered: {}", errors.join("; "))
}

fn primaries_seen_by(address: &str, auth: Option<&Auth>) -> Result<Vec<String>> {
    let mut con = connect(address, auth)?;
    let slots: Value = match redis::cmd("CLUSTER").arg("SLOTS").query(&mut con) {
        Ok(slots) => slots,
        Err(e) if e.to_string().contains("cluster support disabled") => {
            return Ok(vec![address.to_owned()]);
        }
        Err(e) => return Err(e.into()),
    };
    let Value::Array(ranges) = slots else {
        bail!("CLUSTER SLOTS replied {slots:?}");
    };
    let mut primaries: Vec<String> = Vec::new();
    for range in &ranges {
        let Value::Array(range) = range else { continue };
        let Some(Value::Array(primary)) = range.get(2) else {
            continue;
        };
        let (Some(host), Some(Value::Int(port))) =
            (primary.first().and_then(bytes), primary.get(1))
        else {
            continue;
        };
        let host = String::from_utf8_lossy(&host).into_owned();
        // An empty host (`cluster-announce-*` unset) means the node's own.
        let host = if host.is_empty() || host == "?" {
            address
                .rsplit_once(':')
                .map_or("127.0.0.1", |(h, _)| h)
                .to_owned()
        } else {
            host
        };
        let node = format!("{host}:{port}");
        if !primaries.contains(&node) {
            primaries.push(node);
        }
    }
    if primaries.is_empty() {
        bail!("{address} knows no primary serving slots");
    }
    primaries.sort();
    Ok(primaries)
}
