package multiraft

import (
	"sync/atomic"
	"time"
)

// Metrics hears about a host's work. The host calls it from its pass
// goroutine and from the transport's goroutines, so an implementation must
// be safe for concurrent use and quick.
type Metrics interface {
	// Groups reports the number of groups after AddGroup or RemoveGroup.
	Groups(n int)
	// Pass reports a pass: the groups it visited, the Readies it handled,
	// and how long it took.
	Pass(visited, readies int, d time.Duration)
	// Saved reports a LogStore.Save of a pass: its updates, whether it had
	// to be durable, and how long it took (the fsync time).
	Saved(updates int, synced bool, d time.Duration)
	// EnvelopeSent reports an envelope handed to the transport: its lane,
	// its items (messages, tuples, liveness) and its estimated size.
	EnvelopeSent(to HostID, lane Lane, items, bytes int)
	// QueueDepth reports the depth of a lane's queue to a peer host before
	// it is drained.
	QueueDepth(to HostID, lane Lane, depth int)
	// Dropped reports a message dropped on its way to a peer host.
	Dropped(to HostID, lane Lane, reason string)
	// Liveness reports a peer host's liveness transition.
	Liveness(peer HostID, state LivenessState, epoch uint64)
}

type hostStats struct {
	groups          atomic.Int64
	passes          atomic.Uint64
	visits          atomic.Uint64
	readies         atomic.Uint64
	saves           atomic.Uint64
	syncs           atomic.Uint64
	envelopes       atomic.Uint64
	sent            atomic.Uint64
	tuples          atomic.Uint64
	received        atomic.Uint64
	dropped         atomic.Uint64
	livenessChanges atomic.Uint64
	wakes           atomic.Uint64
	inPlace         atomic.Uint64

	quiesces           atomic.Uint64
	quiesceFlaps       atomic.Uint64
	electionsAfterWake atomic.Uint64
	quietWakes         [numWakeCauses]atomic.Uint64
}

// Stats are a host's counters since it was created.
type Stats struct {
	Groups          int    // groups on the host now
	Passes          uint64 // passes that did work
	Visits          uint64 // group visits over all passes
	Readies         uint64 // Readies handled
	Saves           uint64 // LogStore.Save calls
	Syncs           uint64 // of those, the durable ones
	Envelopes       uint64 // envelopes handed to the transport
	Sent            uint64 // items (messages, tuples, liveness) in them
	Tuples          uint64 // heartbeats sent as coalesced tuples
	Received        uint64 // messages and tuples received
	Dropped         uint64 // messages dropped (bad, unroutable, queue full, refused by raft)
	LivenessChanges uint64 // peer liveness transitions
	Wakes           uint64 // liveness events handed to groups
	InPlace         uint64 // plain heartbeats and responses stepped at delivery, without a visit (R2d)

	// Quiescence (HostConfig.Quiescence).
	Awake              int                   // groups on the tick list now
	Quiet              int                   // quiet groups now
	Quiesces           uint64                // times a group went quiet (leader or follower)
	QuietWakes         [numWakeCauses]uint64 // wakes of quiet groups, by WakeCause
	QuiesceFlaps       uint64                // wakes within QuiesceAfterTicks of going quiet
	ElectionsAfterWake uint64                // elections started within two election timeouts of a wake
}

// Stats returns the host's counters.
func (h *Host) Stats() Stats {
	s := &h.stats
	st := Stats{
		Groups: int(s.groups.Load()), Passes: s.passes.Load(), Visits: s.visits.Load(),
		Readies: s.readies.Load(), Saves: s.saves.Load(), Syncs: s.syncs.Load(),
		Envelopes: s.envelopes.Load(), Sent: s.sent.Load(), Tuples: s.tuples.Load(),
		Received: s.received.Load(), Dropped: s.dropped.Load(), LivenessChanges: s.livenessChanges.Load(),
		Wakes: s.wakes.Load(), InPlace: s.inPlace.Load(),
		Quiesces: s.quiesces.Load(), QuiesceFlaps: s.quiesceFlaps.Load(),
		ElectionsAfterWake: s.electionsAfterWake.Load(),
	}
	for i := range st.QuietWakes {
		st.QuietWakes[i] = s.quietWakes[i].Load()
	}
	h.mu.RLock()
	st.Awake = len(h.awake)
	st.Quiet = len(h.list) - len(h.awake)
	h.mu.RUnlock()
	return st
}
