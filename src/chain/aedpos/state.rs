//! The storage encoding of a [`ConsensusState`] (kept beside every block above the LIB):
//! a version byte, then fixed integers, flags and length-prefixed strings and protobuf-encoded
//! rounds. Decoding checks every length and never panics. Owns no rule.

use super::{ConsensusError, ConsensusState, StateInner};
use crate::pb::aedpos::Round;
use protobuf::Message;

const VERSION: u8 = 1;
/// No field of a state may be longer (a round of hundreds of miners fits easily).
const MAX_FIELD: usize = 1 << 20;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ConsensusError> {
        if self.0.len() < n {
            return Err(ConsensusError::CorruptState("truncated".into()));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, ConsensusError> {
        Ok(self.take(1)?[0])
    }
    fn i64(&mut self) -> Result<i64, ConsensusError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(a))
    }
    fn u32(&mut self) -> Result<u32, ConsensusError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Result<&'a [u8], ConsensusError> {
        let n = self.u32()? as usize;
        if n > MAX_FIELD {
            return Err(ConsensusError::CorruptState("field too long".into()));
        }
        self.take(n)
    }
    fn string(&mut self) -> Result<String, ConsensusError> {
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| ConsensusError::CorruptState("a key is not UTF-8".into()))
    }
    fn round(&mut self) -> Result<Round, ConsensusError> {
        Round::parse_from_bytes(self.bytes()?)
            .map_err(|e| ConsensusError::CorruptState(format!("round: {e}")))
    }
}

fn round_bytes(r: &Round) -> Vec<u8> {
    r.write_to_bytes().unwrap_or_default()
}

impl ConsensusState {
    /// The state as stored beside its block.
    pub fn encode(&self) -> Vec<u8> {
        let s = &self.inner;
        let mut out = vec![VERSION];
        for v in [
            s.term_number,
            s.irreversible_height,
            s.irreversible_round,
            s.counter_count,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let flags = u8::from(s.cur_full)
            | (u8::from(s.prev.is_some()) << 1)
            | (u8::from(s.lib_computed) << 2)
            | (u8::from(s.counter_known) << 3);
        out.push(flags);
        put_bytes(&mut out, s.counter_pubkey.as_bytes());
        put_bytes(&mut out, &round_bytes(&s.cur));
        if let Some(p) = &s.prev {
            put_bytes(&mut out, &round_bytes(p));
        }
        out.extend_from_slice(&(s.mined_before_prev.len() as u32).to_le_bytes());
        for k in &s.mined_before_prev {
            put_bytes(&mut out, k.as_bytes());
        }
        out
    }

    /// A state written by [`ConsensusState::encode`].
    pub fn decode(bytes: &[u8]) -> Result<ConsensusState, ConsensusError> {
        let mut r = Reader(bytes);
        let version = r.u8()?;
        if version != VERSION {
            return Err(ConsensusError::CorruptState(format!(
                "unknown version {version}"
            )));
        }
        let term_number = r.i64()?;
        let irreversible_height = r.i64()?;
        let irreversible_round = r.i64()?;
        let counter_count = r.i64()?;
        let flags = r.u8()?;
        let counter_pubkey = r.string()?;
        let cur = r.round()?;
        let prev = if flags & 2 != 0 {
            Some(r.round()?)
        } else {
            None
        };
        let n = r.u32()? as usize;
        let mut mined_before_prev = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            mined_before_prev.push(r.string()?);
        }
        if !r.0.is_empty() {
            return Err(ConsensusError::CorruptState("trailing bytes".into()));
        }
        Ok(ConsensusState::from_inner(StateInner {
            cur,
            cur_full: flags & 1 != 0,
            prev,
            mined_before_prev,
            term_number,
            irreversible_height,
            irreversible_round,
            lib_computed: flags & 4 != 0,
            counter_pubkey,
            counter_count,
            counter_known: flags & 8 != 0,
        }))
    }
}
