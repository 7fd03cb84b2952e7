package stack

import (
	"sync"

	"github.com/synack-tcp/synack/wire"
)

// GRO (generic receive offload, in software): within one delivered batch,
// consecutive in-order data segments of one connection are joined into one
// before TCP input, as a NIC's or the kernel's GRO joins them, so a link
// that delivers many packets at once without offloads (link/pipe, a TUN
// device without its virtio-net header) costs one TCP input per run of
// bytes rather than per packet. TCP input takes any number of bytes within
// the window, so the joined segment is handled as its pieces would be:
// the same bytes at the same sequence numbers, the same ACK, window and
// options (a timestamp differing by one tick ends the run, as in Linux), PSH
// if the last piece had it. Nothing but the plainest segments joins: ACK
// with data, and PSH on the last; a SYN, FIN, RST, URG, SACK or unknown
// option, a CE mark differing, a shorter piece (the last of a run), or 64
// KiB ends a run.
//
// The pieces lie apart in the link's buffers, so a run is copied into a
// scratch buffer (one per DeliverPackets call in progress, pooled); the
// first piece waits unjoined, uncopied, until a second one comes. That
// copy costs about what the TCP inputs saved cost: over link/pipe at MTU
// 1500 (BenchmarkGRO) and over a TUN device without offloads, throughput
// measured the same or up to 10% lower with GRO, so it is off unless
// Stack.Config.GRO turns it on. Joining without the copy would need TCP
// input to take a run of pieces; a TUN device with offloads gets its
// runs joined by the kernel instead.

// groMax bounds a joined segment's payload (an IPv4 packet's).
const groMax = 65535 - 40

var groScratch = sync.Pool{New: func() any { b := make([]byte, 0, groMax); return &b }}

// groSeg is the segment held back for joining.
type groSeg struct {
	held    bool
	closed  bool // a shorter piece or PSH came: nothing more joins
	id      tuple
	h       wire.TCP
	payload []byte // the first piece's, or *buf's when joined
	ce      bool
	pieces  int
	buf     *[]byte // scratch, once a second piece joined
}

// hold keeps a parsed segment for joining with the ones after it.
func (r *rx) hold(id tuple, h *wire.TCP, payload []byte, ce bool) {
	g := &r.gro
	g.held, g.id, g.h, g.payload, g.ce, g.pieces = true, id, *h, payload, ce, 1
	g.closed = h.Flags&wire.PSH != 0 // PSH ends a run
}

// groMerge joins the segment to the held one if it continues it; it
// reports whether it did.
func (s *Stack) groMerge(r *rx, id tuple, h *wire.TCP, payload []byte, ce bool) bool {
	g := &r.gro
	if !g.held || g.closed || !groPlain(h, payload) || !groPlain(&g.h, g.payload) ||
		id != g.id || ce != g.ce || h.Seq != g.h.Seq+uint32(len(g.payload)) ||
		h.Ack != g.h.Ack || h.Window != g.h.Window || h.Options != g.h.Options ||
		len(g.payload)+len(payload) > groMax {
		return false
	}
	first := len(g.payload) / g.pieces // every piece so far had this size
	if len(payload) > first {
		return false // a larger piece after a smaller one: not one flight of full segments
	}
	if g.buf == nil {
		g.buf = groScratch.Get().(*[]byte)
		*g.buf = append((*g.buf)[:0], g.payload...)
	}
	*g.buf = append(*g.buf, payload...)
	g.payload = *g.buf
	g.pieces++
	if h.Flags&wire.PSH != 0 || len(payload) < first {
		g.h.Flags |= h.Flags & wire.PSH
		g.closed = true
	}
	return true
}

// groPlain: a segment that may be joined (ACK with data, PSH allowed, no
// option but timestamps).
func groPlain(h *wire.TCP, payload []byte) bool {
	return len(payload) > 0 && h.Flags&^wire.PSH == wire.ACK &&
		h.Options.NumSACK == 0 && h.Options.Unknown == 0 && !h.Options.HasMSS && !h.Options.HasWScale && !h.Options.SACKPermitted
}

// groFlush delivers the held segment, if any.
func (s *Stack) groFlush(r *rx) {
	g := &r.gro
	if !g.held {
		return
	}
	g.held = false
	if g.pieces > 1 {
		s.stats.GROMerged.Add(uint64(g.pieces - 1))
	}
	s.deliver(r, g.id, &g.h, g.payload, g.ce)
	if g.buf != nil {
		groScratch.Put(g.buf)
		g.buf = nil
	}
	g.payload = nil
}
