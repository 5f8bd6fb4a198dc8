//! Reading a node's streams with the consumer group, a pipeline of streams
//! at a time up to a round's budget; taking over what other consumers
//! left; acknowledging; the group's lag.

use std::time::Instant;

use anyhow::Result;
use redis::Value;

use super::reply::{claimed_entries, dedup, field, is_named, pairs, read_entries};
use super::Node;
use crate::acking::acknowledge;
use crate::entry::Entry;
use crate::Options;

/// The most streams read in one pipeline.
const MOST_PER_PIPELINE: usize = 1024;
/// The fewest: with a large `count`, a pipeline still reads this many.
const FEWEST_PER_PIPELINE: usize = 64;

impl Node {
    /// Entries for this consumer: its own pending ones first, then new ones,
    /// a pipeline of streams at a time until about `round_entries` came.
    /// The next round goes on from the stream after the last one read.
    ///
    /// A stream with pending entries of this consumer is read from its
    /// first one (`0`) until none is left; only then, in the next round,
    /// are its new entries (`>`) read, so that they never come before older
    /// ones. Each pipeline is sent before the previous one's replies are
    /// parsed, so that the server reads while this consumer parses.
    pub fn read(&mut self, options: &Options) -> Result<Vec<Entry>> {
        loop {
            let pending = self.streams.iter().filter(|s| s.own_pending).count();
            let entries = self.read_round(options)?;
            // A round that found only streams with no pending entries left
            // goes on at once to their new ones.
            let still = self.streams.iter().filter(|s| s.own_pending).count();
            if !entries.is_empty() || still == pending {
                return Ok(entries);
            }
        }
    }

    fn read_round(&mut self, options: &Options) -> Result<Vec<Entry>> {
        let len = self.streams.len();
        let start = self.next_stream.min(len);
        let due: Vec<usize> = (start..len)
            .chain(0..start)
            .filter(|&i| self.streams[i].own_pending || self.streams[i].dirty)
            .collect();
        let per_pipeline = (options.round_entries / options.count.max(1))
            .clamp(FEWEST_PER_PIPELINE, MOST_PER_PIPELINE);
        let mut entries = Vec::new();
        // The streams read.
        let mut streams_read = 0;
        'databases: for db in dedup(due.iter().map(|&i| self.streams[i].db)) {
            self.select(db)?;
            let of_db: Vec<usize> = due
                .iter()
                .copied()
                .filter(|&i| self.streams[i].db == db)
                .collect();
            let mut in_flight: Option<&[usize]> = None;
            for chunk in of_db.chunks(per_pipeline) {
                if entries.len() >= options.round_entries {
                    break;
                }
                self.send_reads(chunk, options)?;
                if let Some(sent) = in_flight.replace(chunk) {
                    self.receive_reads(sent, options, &mut entries)?;
                    streams_read += sent.len();
                }
            }
            if let Some(sent) = in_flight {
                self.receive_reads(sent, options, &mut entries)?;
                streams_read += sent.len();
            }
            if entries.len() >= options.round_entries {
                break 'databases;
            }
        }
        self.passed = streams_read == due.len();
        Ok(entries)
    }

    /// Sends `XREADGROUP … STREAMS <stream> <0 | >>` for each of `chunk`,
    /// without waiting for the replies.
    fn send_reads(&mut self, chunk: &[usize], options: &Options) -> Result<()> {
        let mut pipe = redis::pipe();
        for &i in chunk {
            let stream = &self.streams[i];
            pipe.cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&options.group)
                .arg(&options.consumer)
                .arg("COUNT")
                .arg(options.count)
                .arg("STREAMS")
                .arg(&stream.name)
                .arg(if stream.own_pending { "0" } else { ">" });
        }
        self.con.send_packed_command(&pipe.get_packed_pipeline())?;
        Ok(())
    }

    /// Receives the replies to [`send_reads`](Self::send_reads) of `chunk`
    /// into `entries`, and notes which streams have nothing left to read.
    fn receive_reads(
        &mut self,
        chunk: &[usize],
        options: &Options,
        entries: &mut Vec<Entry>,
    ) -> Result<()> {
        for &i in chunk {
            let reply = self.con.recv_response()?.extract_error()?;
            let read = self.entries(i, read_entries(reply));
            let stream = &mut self.streams[i];
            if stream.own_pending {
                stream.own_pending = !read.is_empty();
            } else if read.len() < options.count {
                stream.dirty = false;
                stream.drained_to = Some(stream.last_id.clone());
            }
            entries.extend(read);
            self.next_stream = i + 1;
        }
        Ok(())
    }

    /// The entries of the stream at `index`, parsed from its reply.
    fn entries(&self, index: usize, items: Vec<Value>) -> Vec<Entry> {
        let stream = &self.streams[index];
        items
            .into_iter()
            .filter_map(|item| Entry::parse(&self.address, stream.db, &stream.name, item))
            .collect()
    }

    /// Every `claim_idle`: entries pending for longer than that with other
    /// consumers (which died, or lost their node), taken over.
    pub fn claim(&mut self, options: &Options) -> Result<Vec<Entry>> {
        if self
            .claimed
            .is_some_and(|at| at.elapsed() < options.claim_idle)
        {
            return Ok(Vec::new());
        }
        self.claimed = Some(Instant::now());
        let idle = options.claim_idle.as_millis().to_string();
        let all: Vec<usize> = (0..self.streams.len()).collect();
        let replies = self.per_db(&all, |pipe, stream| {
            pipe.cmd("XAUTOCLAIM")
                .arg(&stream.name)
                .arg(&options.group)
                .arg(&options.consumer)
                .arg(&idle)
                .arg("0-0")
                .arg("COUNT")
                .arg(options.count);
        })?;
        Ok(all
            .into_iter()
            .zip(replies)
            .flat_map(|(i, reply)| self.entries(i, claimed_entries(reply)))
            .collect())
    }

    /// Acknowledges entries read from this node.
    pub fn ack(&mut self, group: &str, entries: &[&Entry]) -> Result<()> {
        acknowledge(&mut self.con, &mut self.selected_db, group, entries)
    }

    /// Entries of this node's streams not yet delivered to the group.
    pub fn lag(&mut self, group: &str) -> Result<u64> {
        let all: Vec<usize> = (0..self.streams.len()).collect();
        let replies = self.per_db(&all, |pipe, stream| {
            pipe.cmd("XINFO").arg("GROUPS").arg(&stream.name);
        })?;
        let mut lag = 0;
        for groups in &replies {
            let Value::Array(groups) = groups else {
                continue;
            };
            for fields in groups.iter().map(pairs) {
                if is_named(&fields, group) {
                    if let Some(Value::Int(n)) = field(&fields, b"lag") {
                        lag += (*n).max(0) as u64;
                    }
                }
            }
        }
        Ok(lag)
    }
}
