//! The leases of a shard, laid out for memory: a registered instance costs one 48-byte slot plus
//! its JSON (one allocation, shared with the change log, replication and pushes), nothing else.
//!
//! Two things keep the slot small. The instance id is not a separate allocation: the stored JSON
//! already holds it after `"instanceId":`, so the slot keeps its position there ([`IdAt`]). Only
//! an id the JSON does not hold verbatim (one the writer escaped, or one the caller spelled
//! differently from its JSON, or one too far into it) is kept apart, in a side table keyed by
//! slot. And the generation and the two flags share one word ([`Meta`]).
//!
//! Where the resident bytes of an instance go at 1,000,000 instances (1,000 services, 2 shards,
//! 366 bytes of JSON each, the memory scenario of `scripts/bench.sh`): 474 B in all. Its JSON's
//! allocation ~398 (the bytes, the `Arc`'s two counts, malloc's 8-byte header and 16-byte
//! rounding); the slot 48 (~50 with the `Vec`'s growth room); its service's id table ~10 and
//! member list ~4; its timing-wheel entry 8 (~11 with growth room); ~3 of change-log entries (a
//! fixed number per shard). Before this layout it was 558 B: a 72-byte slot and a separately
//! allocated `Arc<str>` id (48 B of heap).

use std::sync::Arc;

use hashbrown::HashMap;

/// Where the instance id lies in the stored JSON: `start` and `len` packed in one word, or
/// [`IdAt::ELSEWHERE`] when the id is in the side table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct IdAt(u32);

impl IdAt {
    const ELSEWHERE: IdAt = IdAt(u32::MAX);
    const KEY: &'static [u8] = b"\"instanceId\":\"";

    /// The id's position in `json` when it appears there verbatim as the first `instanceId`
    /// value ([`protocol::model::write_instance`] writes that key once, before any nested
    /// object); ELSEWHERE otherwise. The bytes are compared, so whatever the JSON is, a range
    /// is only recorded where it reads exactly as the id.
    fn locate(json: &[u8], id: &str) -> IdAt {
        let Some(key) = json.windows(Self::KEY.len()).position(|w| w == Self::KEY) else {
            return IdAt::ELSEWHERE;
        };
        let start = key + Self::KEY.len();
        let end = start + id.len();
        // Exact bytes, closing quote included: an escaped id reads differently in the JSON.
        if json.get(start..end) != Some(id.as_bytes()) || json.get(end) != Some(&b'"') {
            return IdAt::ELSEWHERE;
        }
        // u16::MAX as a start is left out so no range can equal ELSEWHERE.
        match (u16::try_from(start), u16::try_from(id.len())) {
            (Ok(start), Ok(len)) if start < u16::MAX => {
                IdAt((u32::from(start) << 16) | u32::from(len))
            }
            _ => IdAt::ELSEWHERE,
        }
    }

    fn range(self) -> Option<std::ops::Range<usize>> {
        (self != IdAt::ELSEWHERE).then(|| {
            let start = (self.0 >> 16) as usize;
            start..start + (self.0 & 0xffff) as usize
        })
    }
}

/// A lease's generation (30 bits, wrapping) and its `legacy` and `hidden` flags.
#[derive(Clone, Copy, Debug, Default)]
struct Meta(u32);

impl Meta {
    const GENERATION: u32 = (1 << 30) - 1;
    const LEGACY: u32 = 1 << 30;
    const HIDDEN: u32 = 1 << 31;

    fn flag(self, bit: u32) -> bool {
        self.0 & bit != 0
    }

    fn set(&mut self, bit: u32, on: bool) {
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }
}

/// One lease slot. Free while `json` is None; the generation survives, so a wheel entry left by
/// an earlier lease of the slot is recognised as stale.
pub(super) struct LeaseSlot {
    /// The instance as discovery serves it, serialized once at registration.
    json: Option<Arc<[u8]>>,
    pub created_ms: u64,
    pub renewed_ms: u64,
    /// The service's slot.
    pub service: u32,
    /// Index in the service's `members`, for O(1) removal.
    pub position: u32,
    id: IdAt,
    meta: Meta,
}

// The point of this module: keep it at 48 bytes (a test checks it too).
const _: () = assert!(std::mem::size_of::<LeaseSlot>() == 48);

impl LeaseSlot {
    pub fn is_live(&self) -> bool {
        self.json.is_some()
    }

    /// The stored JSON of a live lease.
    pub fn json(&self) -> &Arc<[u8]> {
        self.json.as_ref().expect("a live lease has its JSON")
    }

    /// Matched against lease generations in wheel entries: 30 bits, wrapping.
    pub fn generation(&self) -> u32 {
        self.meta.0 & Meta::GENERATION
    }

    pub fn legacy(&self) -> bool {
        self.meta.flag(Meta::LEGACY)
    }

    pub fn set_legacy(&mut self, legacy: bool) {
        self.meta.set(Meta::LEGACY, legacy);
    }

    /// Hidden by a pull-out (of itself, its server, zone or group): kept and renewed, but not
    /// served or announced.
    pub fn hidden(&self) -> bool {
        self.meta.flag(Meta::HIDDEN)
    }

    pub fn set_hidden(&mut self, hidden: bool) {
        self.meta.set(Meta::HIDDEN, hidden);
    }

    /// Orphan the wheel entries scheduled so far for this slot; returns the new generation.
    pub fn bump_generation(&mut self) -> u32 {
        let next = (self.generation() + 1) & Meta::GENERATION;
        self.meta.0 = (self.meta.0 & !Meta::GENERATION) | next;
        next
    }
}

/// A new lease's data.
pub(super) struct NewLease<'a> {
    pub json: Arc<[u8]>,
    pub instance_id: &'a str,
    pub service: u32,
    pub legacy: bool,
    pub hidden: bool,
    pub now_ms: u64,
}

/// The lease slots, the free ones, and the ids the JSON does not hold verbatim.
#[derive(Default)]
pub(super) struct Leases {
    slots: Vec<LeaseSlot>,
    free: Vec<u32>,
    /// Ids of live leases whose [`IdAt`] is ELSEWHERE, by slot.
    elsewhere: HashMap<u32, Box<str>>,
}

impl Leases {
    pub fn get(&self, index: u32) -> &LeaseSlot {
        &self.slots[index as usize]
    }

    pub fn get_mut(&mut self, index: u32) -> &mut LeaseSlot {
        &mut self.slots[index as usize]
    }

    /// The slot of a live lease.
    pub fn live(&self, index: u32) -> &LeaseSlot {
        let lease = self.get(index);
        assert!(lease.is_live(), "index points at a live lease");
        lease
    }

    /// The instance id of a live lease, as last registered.
    pub fn id_bytes(&self, index: u32) -> &[u8] {
        let lease = self.get(index);
        match (lease.id.range(), &lease.json) {
            (Some(range), Some(json)) => &json[range],
            _ => self
                .elsewhere
                .get(&index)
                .map_or(&[][..], |id| id.as_bytes()),
        }
    }

    /// [`Leases::id_bytes`] as text.
    pub fn id(&self, index: u32) -> &str {
        // A range is only ever recorded where the JSON's bytes equal a `&str`.
        std::str::from_utf8(self.id_bytes(index)).expect("an id range holds a whole id")
    }

    /// Store a new lease; its slot index (a free one if any).
    pub fn insert(&mut self, new: NewLease<'_>) -> u32 {
        let id = IdAt::locate(&new.json, new.instance_id);
        let mut meta = Meta::default();
        meta.set(Meta::LEGACY, new.legacy);
        meta.set(Meta::HIDDEN, new.hidden);
        let index = match self.free.pop() {
            Some(index) => {
                let slot = &mut self.slots[index as usize];
                // Keep the generation: the wheel may still hold entries of the slot's last lease.
                meta.0 |= slot.meta.0 & Meta::GENERATION;
                *slot = LeaseSlot {
                    json: Some(new.json),
                    created_ms: new.now_ms,
                    renewed_ms: new.now_ms,
                    service: new.service,
                    position: 0,
                    id,
                    meta,
                };
                index
            }
            None => {
                let index =
                    u32::try_from(self.slots.len()).expect("fewer than 2^32 instances per shard");
                self.slots.push(LeaseSlot {
                    json: Some(new.json),
                    created_ms: new.now_ms,
                    renewed_ms: new.now_ms,
                    service: new.service,
                    position: 0,
                    id,
                    meta,
                });
                index
            }
        };
        if id == IdAt::ELSEWHERE {
            self.elsewhere.insert(index, new.instance_id.into());
        }
        index
    }

    /// New JSON and id spelling for a live lease; returns the JSON it replaces.
    pub fn replace(&mut self, index: u32, json: Arc<[u8]>, instance_id: &str) -> Arc<[u8]> {
        let id = IdAt::locate(&json, instance_id);
        let lease = &mut self.slots[index as usize];
        lease.id = id;
        let old = lease.json.replace(json).expect("replacing a live lease");
        if id == IdAt::ELSEWHERE {
            self.elsewhere.insert(index, instance_id.into());
        } else {
            self.elsewhere.remove(&index);
        }
        old
    }

    /// Free a live lease's slot (a new generation orphans its wheel entries); returns what it
    /// held: its JSON and its id if that was kept apart.
    pub fn remove(&mut self, index: u32) -> (Arc<[u8]>, Option<Box<str>>) {
        let lease = &mut self.slots[index as usize];
        let json = lease.json.take().expect("removing a live lease");
        lease.bump_generation();
        let elsewhere = if lease.id == IdAt::ELSEWHERE {
            self.elsewhere.remove(&index)
        } else {
            None
        };
        self.free.push(index);
        (json, elsewhere)
    }

    #[cfg(test)]
    pub fn kept_apart(&self) -> usize {
        self.elsewhere.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new<'a>(json: &str, id: &'a str) -> NewLease<'a> {
        NewLease {
            json: json.as_bytes().into(),
            instance_id: id,
            service: 0,
            legacy: false,
            hidden: false,
            now_ms: 0,
        }
    }

    #[test]
    fn a_slot_is_48_bytes() {
        assert_eq!(std::mem::size_of::<LeaseSlot>(), 48);
    }

    #[test]
    fn ids_the_json_holds_verbatim_are_read_from_it() {
        let mut leases = Leases::default();
        let json = r#"{"groupId":null,"instanceId":"10.0.0.1:8080","metadata":{"instanceId":"x"}}"#;
        let i = leases.insert(new(json, "10.0.0.1:8080"));
        assert_eq!(leases.id(i), "10.0.0.1:8080");
        assert_eq!(leases.kept_apart(), 0);
        let empty = leases.insert(new(r#"{"instanceId":""}"#, ""));
        assert_eq!(leases.id(empty), "");
        assert_eq!(leases.kept_apart(), 0);
    }

    #[test]
    fn ids_the_json_does_not_hold_verbatim_are_kept_apart() {
        let mut leases = Leases::default();
        // Escaped by the writer, spelled differently, a prefix of the value, absent.
        let cases = [
            (r#"{"instanceId":"a\"b"}"#, "a\"b"),
            (r#"{"instanceId":"i1"}"#, "I1"),
            (r#"{"instanceId":"i10"}"#, "i1"),
            ("{}", "i1"),
        ];
        let mut indexes = Vec::new();
        for (json, id) in cases {
            let i = leases.insert(new(json, id));
            assert_eq!(leases.id(i), id);
            indexes.push(i);
        }
        assert_eq!(leases.kept_apart(), 4);
        // Too far into the JSON for a 16-bit position.
        let far = format!(r#"{{"a":"{}","instanceId":"i1"}}"#, "x".repeat(70_000));
        let i = leases.insert(new(&far, "i1"));
        assert_eq!(leases.id(i), "i1");
        assert_eq!(leases.kept_apart(), 5);
        for i in indexes {
            let (_, apart) = leases.remove(i);
            assert!(apart.is_some());
        }
        assert_eq!(leases.kept_apart(), 1);
    }

    #[test]
    fn replacing_moves_the_id_between_the_json_and_the_side_table() {
        let mut leases = Leases::default();
        let i = leases.insert(new(r#"{"instanceId":"i1"}"#, "i1"));
        leases.replace(i, br#"{"instanceId":"i1"}"#[..].into(), "I1");
        assert_eq!((leases.id(i), leases.kept_apart()), ("I1", 1));
        leases.replace(i, br#"{"instanceId":"I1","x":1}"#[..].into(), "I1");
        assert_eq!((leases.id(i), leases.kept_apart()), ("I1", 0));
    }

    #[test]
    fn a_reused_slot_keeps_counting_generations_and_resets_flags() {
        let mut leases = Leases::default();
        let mut first = new(r#"{"instanceId":"a"}"#, "a");
        first.legacy = true;
        first.hidden = true;
        let i = leases.insert(first);
        let lease = leases.get(i);
        assert!(lease.legacy() && lease.hidden() && lease.generation() == 0);
        leases.remove(i);
        assert_eq!(leases.get(i).generation(), 1);
        assert!(!leases.get(i).is_live());
        let again = leases.insert(new(r#"{"instanceId":"b"}"#, "b"));
        assert_eq!(again, i, "the free slot is reused");
        let lease = leases.get(again);
        assert!(!lease.legacy() && !lease.hidden());
        assert_eq!((lease.generation(), leases.id(again)), (1, "b"));
    }

    #[test]
    fn generations_wrap_within_their_bits_without_touching_the_flags() {
        let mut leases = Leases::default();
        let i = leases.insert(new(r#"{"instanceId":"a"}"#, "a"));
        let lease = leases.get_mut(i);
        lease.set_legacy(true);
        lease.set_hidden(true);
        lease.meta.0 |= Meta::GENERATION;
        assert_eq!(lease.bump_generation(), 0);
        assert!(lease.legacy() && lease.hidden());
        lease.set_hidden(false);
        assert!(lease.legacy() && !lease.hidden() && lease.generation() == 0);
    }
}
