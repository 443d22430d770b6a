//! Collecting a scrape: one [`Scrape`] operation per shard, each answered by the core that owns
//! the shard with its shard's figures and its own counters.
//!
//! A shard operation sees its shard only (`ShardOp::execute`), so the core's counters are reached
//! through [`THIS_CORE`]: every core registers itself on its thread before it serves, and a shard
//! operation always runs on the thread of the core owning the shard (in place, or from that
//! core's inbox).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use shards::ops::ShardOp;
use shards::Shard;

use super::CoreSample;
use crate::server::core::Core;

thread_local! {
    /// The core this thread runs, once it registered.
    static THIS_CORE: RefCell<Weak<Core>> = const { RefCell::new(Weak::new()) };
}

/// Make `core` the one whose counters [`Scrape`] reads on this thread. Called by the core before
/// it serves anything.
pub fn register_core(core: &Rc<Core>) {
    THIS_CORE.with(|this| *this.borrow_mut() = Rc::downgrade(core));
}

/// Sample the shard it runs on and the counters of the core owning it.
pub struct Scrape;

impl ShardOp for Scrape {
    type Reply = Sample;
    const CHANGES_VIEWS: bool = false;

    fn execute(self, shard: &mut Shard, _now_ms: u64) -> Sample {
        let core = THIS_CORE
            .with(|this| this.borrow().upgrade())
            .expect("a shard operation runs on the thread of a registered core");
        assert_eq!(
            core.id,
            shard.id(),
            "a shard operation runs on its shard's core"
        );
        Sample {
            core: core.metrics_sample(),
            shard: ShardSample::of(shard),
        }
    }
}

/// One core's answer to a scrape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    pub core: CoreSample,
    pub shard: ShardSample,
}

/// What one shard holds, and what it did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardSample {
    pub instances: u64,
    pub services: u64,
    /// Leases by class: `[normal, legacy]`.
    pub leases: [u64; 2],
    pub evictions: u64,
    /// Self-preservation by lease class: whether it holds back evictions now.
    pub self_preservation_active: [bool; 2],
    /// The renewals of the last window and the most seen, node-wide (every shard computes the
    /// same from the published counts; the largest figure is kept).
    pub renewals_in_window: [u64; 2],
    pub renewals_max: [u64; 2],
}

impl ShardSample {
    pub fn of(shard: &Shard) -> ShardSample {
        let mut sample = ShardSample {
            instances: shard.instance_count() as u64,
            services: shard.service_count() as u64,
            evictions: shard.evicted_total(),
            ..ShardSample::default()
        };
        for (class, legacy) in [false, true].into_iter().enumerate() {
            let status = shard.safe_status(legacy);
            sample.leases[class] = shard.lease_count(legacy) as u64;
            sample.self_preservation_active[class] = !status.safe;
            sample.renewals_in_window[class] = status.window_count;
            sample.renewals_max[class] = status.max_count;
        }
        sample
    }

    pub fn add(&mut self, other: &ShardSample) {
        self.instances += other.instances;
        self.services += other.services;
        self.evictions += other.evictions;
        for class in 0..2 {
            self.leases[class] += other.leases[class];
            self.self_preservation_active[class] |= other.self_preservation_active[class];
            self.renewals_in_window[class] =
                self.renewals_in_window[class].max(other.renewals_in_window[class]);
            self.renewals_max[class] = self.renewals_max[class].max(other.renewals_max[class]);
        }
    }
}

/// Every core's answers summed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSample {
    pub sum: Sample,
    /// Cores that answered (a core that has stopped, during shutdown, does not).
    pub cores_answered: usize,
}

impl NodeSample {
    pub fn add(&mut self, sample: &Sample) {
        self.sum.core.add(&sample.core);
        self.sum.shard.add(&sample.shard);
        self.cores_answered += 1;
    }
}
