package progress

// inflight is one MsgApp that has been sent but not yet acknowledged: the
// index of its last entry and the payload bytes it carried.
type inflight struct {
	index uint64
	bytes uint64
}

// Inflights is the window of MsgApps sent to one follower and not yet
// acknowledged, used for flow control in StateReplicate. It is bounded by a
// count of messages and, optionally, by the sum of their payload bytes.
//
// It is a ring buffer whose backing array is allocated on the first Add and
// doubled as needed up to the count limit, so a follower that is never sent
// anything costs nothing.
//
// The methods that only read the window (Count, Full, Clone) and FreeLE
// accept a nil *Inflights, which stands for an empty window: a tracker
// gives a progress its window at the first send and drops it once it has
// stayed empty (see Progress.Inflights). Add and Extend need a window.
type Inflights struct {
	start int // position of the oldest entry in buffer
	count int // number of entries in the window
	bytes uint64

	size     int    // the most entries the window admits
	maxBytes uint64 // the most bytes the window admits; 0 means no limit

	buffer []inflight
}

// NewInflights returns an empty window that admits up to size messages and,
// if maxBytes is not zero, up to maxBytes bytes of payload.
func NewInflights(size int, maxBytes uint64) *Inflights {
	return &Inflights{size: size, maxBytes: maxBytes}
}

// Clone returns an independent copy of the window, or nil for nil.
func (in *Inflights) Clone() *Inflights {
	if in == nil {
		return nil
	}
	c := *in
	if in.buffer != nil {
		c.buffer = append([]inflight(nil), in.buffer...)
	}
	return &c
}

// Add records a MsgApp whose last entry is index and whose entries carry
// bytes of payload. Indexes must be added in increasing order.
//
// Callers check Full first. Add does not refuse a message when the window is
// full: it records it, and the window stays full until enough is freed, so
// a mistaken extra send never loses track of what is in flight.
func (in *Inflights) Add(index, bytes uint64) {
	if in == nil {
		panic("raft: Inflights.Add on a nil window: the progress must get a window before it sends in StateReplicate")
	}
	if in.count == len(in.buffer) {
		in.grow()
	}
	pos := in.start + in.count
	if pos >= len(in.buffer) {
		pos -= len(in.buffer)
	}
	in.buffer[pos] = inflight{index: index, bytes: bytes}
	in.count++
	in.bytes += bytes
}

// Extend records that the newest message in flight grew: its last entry is
// now index and it carries bytes more of payload. The leader uses it when it
// adds entries to an append that it has not handed out yet, so that the
// window keeps counting messages, not the appends that built them. With
// nothing in flight, Extend is Add.
func (in *Inflights) Extend(index, bytes uint64) {
	if in.count == 0 {
		in.Add(index, bytes)
		return
	}
	pos := in.start + in.count - 1
	if pos >= len(in.buffer) {
		pos -= len(in.buffer)
	}
	in.buffer[pos].index = index
	in.buffer[pos].bytes += bytes
	in.bytes += bytes
}

// grow enlarges the backing array: doubling it, up to the count limit, and
// by one entry at a time past it (only reached when Add is called on a full
// window). Entries are moved so that the oldest one is at position 0.
func (in *Inflights) grow() {
	n := 2 * len(in.buffer)
	if n == 0 {
		n = 1
	}
	if n > in.size {
		n = max(in.size, in.count+1)
	}
	buf := make([]inflight, n)
	k := copy(buf, in.buffer[in.start:])
	copy(buf[k:], in.buffer[:in.start])
	in.buffer = buf
	in.start = 0
}

// FreeLE frees every recorded message whose index is at most to: the
// follower has acknowledged them.
func (in *Inflights) FreeLE(to uint64) {
	if in == nil {
		return
	}
	for in.count > 0 && in.buffer[in.start].index <= to {
		in.bytes -= in.buffer[in.start].bytes
		in.start++
		if in.start == len(in.buffer) {
			in.start = 0
		}
		in.count--
	}
	if in.count == 0 {
		// Restart at the front so that a window that keeps emptying never
		// wraps around.
		in.start = 0
	}
}

// Full reports whether the window admits no more messages: it holds size
// messages, or a byte limit is set and the payload in flight has reached it.
// The byte limit never makes an empty window full, so a single message
// larger than the limit can always be sent.
func (in *Inflights) Full() bool {
	if in == nil {
		return false // an empty window with a positive count limit
	}
	return in.count >= in.size || (in.maxBytes != 0 && in.bytes >= in.maxBytes)
}

// Count returns the number of messages in the window.
func (in *Inflights) Count() int {
	if in == nil {
		return 0
	}
	return in.count
}

// reset empties the window, keeping its backing array.
func (in *Inflights) reset() {
	in.start, in.count, in.bytes = 0, 0, 0
}
