package tcp

import (
	"testing"
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// Two fuzz targets for the state machine (docs/DESIGN.md, "Tests, in layers"):
//
//   - FuzzConnPair drives two TCBs against each other from a byte string
//     of actions: writes, reads, closes, aborts, time steps, and segments
//     delivered, dropped, duplicated, reordered or mutated. Invariants hold
//     after every action, every transition is one RFC 9293's diagram has,
//     and once the network behaves, bytes out equal bytes in.
//   - FuzzSegmentInto feeds arbitrary segments (flags, sequence and
//     acknowledgment numbers near the interesting edges, windows, payloads,
//     every option) to a TCB in each of the eleven states: never a panic,
//     never a broken invariant, never a segment that cannot be encoded.
//
// Seed corpora live in testdata/fuzz/; "go test" replays them. To search:
//
//	go test -run='^$' -fuzz=FuzzConnPair -fuzztime=5m ./tcp
//	go test -run='^$' -fuzz=FuzzSegmentInto -fuzztime=5m ./tcp

// fzIn reads a fuzz input; past its end it reads zeros.
type fzIn struct {
	b []byte
	i int
}

func (r *fzIn) more() bool { return r.i < len(r.b) }

func (r *fzIn) u8() byte {
	if r.i >= len(r.b) {
		return 0
	}
	v := r.b[r.i]
	r.i++
	return v
}

func (r *fzIn) u16() uint16 { return uint16(r.u8())<<8 | uint16(r.u8()) }
func (r *fzIn) u32() uint32 { return uint32(r.u16())<<16 | uint32(r.u16()) }

// fzStream is byte off of the stream keyed key: a byte out of place,
// repeated or from the other direction shows.
func fzStream(key uint64, off int) byte {
	x := key + uint64(off)/8*0x9e3779b97f4a7c15
	x = (x ^ x>>31) * 0xbf58476d1ce4e5b9
	x ^= x >> 29
	return byte(x >> (8 * (uint64(off) % 8)))
}

// fzCheckSent checks a segment a TCB emits: it encodes and parses back
// (options fit in 40 bytes), carries no more than the send MSS, no data
// on a SYN or a reset, and an ACK on everything but a SYN of SYN-SENT and
// resets. It returns the parsed header and a copy of the payload.
func fzCheckSent(t *testing.T, c *TCB, h *wire.TCP, p1, p2 []byte) (wire.TCP, []byte) {
	t.Helper()
	n := len(p1) + len(p2)
	if hl := h.HeaderLen(); hl > wire.TCPMaxHeaderLen {
		t.Fatalf("%v: segment header of %d bytes (options %+v)", c.state, hl, h.Options)
	}
	b := h.Append(nil)
	b = append(append(b, p1...), p2...)
	var got wire.TCP
	payload, err := got.Parse(b)
	if err != nil {
		t.Fatalf("%v: segment %+v does not parse back: %v", c.state, *h, err)
	}
	switch {
	case n > 0 && n > c.snd.mss:
		t.Fatalf("%v: %d bytes in one segment, send MSS %d", c.state, n, c.snd.mss)
	case n > 0 && h.Flags&(wire.SYN|wire.RST) != 0:
		t.Fatalf("%v: %d bytes of data on a %v", c.state, n, h.Flags)
	case h.Flags&(wire.SYN|wire.RST) == 0 && h.Flags&wire.ACK == 0:
		t.Fatalf("%v: a %v segment without ACK", c.state, h.Flags)
	}
	// Data comes from the send buffer, and the FIN right after its end.
	if sq, end := seq.Value(h.Seq), c.sndHead.Add(seq.Size(c.sb.n)); n > 0 && h.Flags&(wire.SYN|wire.RST) == 0 {
		if sq.LessThan(c.sndHead) || sq.Add(seq.Size(n)).GreaterThan(end) {
			t.Fatalf("%v: data [%d, %d) outside the send buffer [%d, %d)", c.state, sq, sq.Add(seq.Size(n)), c.sndHead, end)
		}
		if h.Flags&wire.FIN != 0 && sq.Add(seq.Size(n)) != end {
			t.Fatalf("%v: FIN at %d, the data ends at %d", c.state, sq.Add(seq.Size(n)), end)
		}
	}
	return got, append([]byte(nil), payload...)
}

// fzCheckTick runs due timers and checks that Tick leaves none due (the
// stack's timer heap would otherwise spin at one instant).
func fzCheckTick(t *testing.T, c *TCB, now time.Duration) {
	t.Helper()
	if d, ok := c.NextDeadline(); !ok || d > now {
		return
	}
	c.Tick(now)
	if d, ok := c.NextDeadline(); ok && d <= now {
		t.Fatalf("%v: Tick(%v) left a timer due at %v", c.state, now, d)
	}
}

func fzCheckTCB(t *testing.T, c *TCB, now time.Duration) {
	t.Helper()
	if err := c.CheckInvariants(); err != nil {
		t.Fatalf("t=%v %v: %v", now, c.state, err)
	}
	if c.state > LastAck {
		t.Fatalf("state %d", c.state)
	}
	if d, ok := c.NextDeadline(); c.state == Closed && ok {
		t.Fatalf("t=%v: CLOSED with a timer armed at %v", now, d)
	}
}

type fzRec struct {
	scratchHdr
	t *testing.T
	c *TCB
	n int
}

func (r *fzRec) SendSegment(h *wire.TCP, p1, p2 []byte) {
	fzCheckSent(r.t, r.c, h, p1, p2)
	r.n++
}

// fzOne is a TCB and what the fuzz target knows of its peer.
type fzOne struct {
	t      *testing.T
	c      *TCB
	rec    *fzRec
	now    time.Duration
	peerTS uint32 // the peer's timestamp clock
	opts   bool   // the peer offered every option
	eof    bool
}

const fzISS, fzIRS = seq.Value(1000), seq.Value(5000)

// seg delivers a well-formed peer segment, with timestamps when they were
// negotiated.
func (o *fzOne) seg(flags wire.Flags, sq, ack seq.Value, wnd uint16, payload []byte) {
	h := wire.TCP{Seq: uint32(sq), Ack: uint32(ack), Flags: flags, Window: wnd}
	if flags&wire.SYN != 0 && o.opts {
		h.Options = wire.Options{HasMSS: true, MSS: 500, HasWScale: true, WScale: 2, SACKPermitted: true}
	}
	if o.opts {
		o.peerTS += 10
		h.Options.HasTimestamps, h.Options.TSVal, h.Options.TSEcr = true, o.peerTS, o.c.ts.lastVal
	}
	o.c.Segment(o.now, &h, payload)
}

// fzInState builds a TCB in state s: ISS 1000 on our side, 5000 on the
// peer's; with data, 3000 bytes are queued once synchronized.
func fzInState(t *testing.T, cfgByte byte, s State) *fzOne {
	cfg := Config{MSS: 536, SendBuf: 8000, RecvBuf: 6000, MSL: 10 * time.Second,
		WindowScale: cfgByte&1 != 0, Timestamps: cfgByte&2 != 0, SACK: cfgByte&4 != 0,
		NoDelay: cfgByte&8 != 0, AckDelay: -1, KeepAlive: cfgByte&128 != 0}
	if cfgByte&16 != 0 {
		cfg.SendBuf, cfg.RecvBuf = 1500, 1000
	}
	if cfgByte&64 != 0 {
		cfg.AckDelay = 0
	}
	o := &fzOne{t: t, opts: cfgByte&32 == 0, peerTS: 77}
	o.rec = &fzRec{t: t}
	o.c = New(cfg, o.rec, func(from, to State, cause Cause) {
		if !LegalTransition(from, to) {
			t.Fatalf("illegal transition %v -> %v (%s)", from, to, cause)
		}
	})
	o.rec.c = o.c
	c := o.c
	withData := cfgByte&128 != 0 || cfgByte&16 != 0
	switch s {
	case Closed:
		return o
	case Listen, SynReceived:
		c.OpenPassive(fzISS)
		if s == SynReceived {
			o.seg(wire.SYN, fzIRS, 0, 4000, nil)
		}
		return o.expect(s)
	}
	c.OpenActive(o.now, fzISS)
	if s == SynSent {
		return o.expect(s)
	}
	o.seg(wire.SYN|wire.ACK, fzIRS, fzISS+1, 4000, nil)
	if withData {
		c.Send(o.now, fzBytes(3000))
	}
	switch s {
	case FinWait1, FinWait2, Closing, TimeWait:
		c.Close(o.now)
		if s == FinWait2 || s == TimeWait {
			o.ackAll()
		}
		if s == Closing || s == TimeWait {
			o.seg(wire.FIN|wire.ACK, fzIRS+1, c.snd.una, 4000, nil)
		}
	case CloseWait, LastAck:
		o.seg(wire.FIN|wire.ACK, fzIRS+1, c.snd.una, 4000, nil)
		if s == LastAck {
			c.Close(o.now)
		}
	}
	return o.expect(s)
}

// ackAll acknowledges everything sent until the send side is done.
func (o *fzOne) ackAll() {
	for i := 0; i < 50 && !(o.c.sb.n == 0 && (!o.c.finQueued || o.c.finAcked)); i++ {
		o.seg(wire.ACK, o.c.rcv.nxt, o.c.snd.max, 60000, nil)
	}
}

func (o *fzOne) expect(s State) *fzOne {
	o.t.Helper()
	if o.c.State() != s {
		o.t.Fatalf("fzInState: reached %v, want %v", o.c.State(), s)
	}
	fzCheckTCB(o.t, o.c, o.now)
	return o
}

// fzSegment reads one arbitrary segment: numbers relative to the edges
// that matter (RCV.NXT, the window's right edge, SND.UNA, SND.MAX) or
// absolute, any flags, any window, up to 255 bytes, any options.
func (o *fzOne) fzSegment(r *fzIn) (wire.TCP, []byte) {
	c := o.c
	h := wire.TCP{Flags: wire.Flags(r.u8())}
	off := seq.Size(int32(int16(r.u16())))
	switch m := r.u8(); m % 4 {
	case 0:
		h.Seq = uint32(c.rcv.nxt.Add(off))
	case 1:
		h.Seq = uint32(c.rcv.adv.Add(off))
	case 2:
		h.Seq = uint32(fzIRS.Add(off))
	default:
		h.Seq = r.u32()
	}
	off = seq.Size(int32(int16(r.u16())))
	switch m := r.u8(); m % 4 {
	case 0:
		h.Ack = uint32(c.snd.una.Add(off))
	case 1:
		h.Ack = uint32(c.snd.max.Add(off))
	case 2:
		h.Ack = uint32(fzISS.Add(off))
	default:
		h.Ack = r.u32()
	}
	h.Window = r.u16()
	payload := fzBytes(int(r.u8()))
	opt := r.u8()
	h.Options.HasMSS, h.Options.HasWScale, h.Options.SACKPermitted = opt&1 != 0, opt&2 != 0, opt&4 != 0
	if h.Options.HasMSS {
		h.Options.MSS = r.u16()
	}
	if h.Options.HasWScale {
		h.Options.WScale = r.u8()
	}
	if opt&8 != 0 {
		h.Options.HasTimestamps, h.Options.TSEcr = true, r.u32()
		if opt&16 != 0 {
			o.peerTS += uint32(r.u8())
			h.Options.TSVal = o.peerTS
		} else {
			h.Options.TSVal = r.u32()
		}
	}
	for k := range int(opt>>5) % 4 {
		l := c.snd.una.Add(seq.Size(int32(int16(r.u16()))))
		h.Options.SACK[k] = wire.SACKBlock{Left: uint32(l), Right: uint32(l.Add(seq.Size(r.u16())))}
		h.Options.NumSACK++
	}
	if h.Flags&wire.URG != 0 {
		h.Urgent = r.u16()
	}
	return h, payload
}

// user runs a user call between segments.
func (o *fzOne) user(r *fzIn) {
	c := o.c
	switch r.u8() % 6 {
	case 0:
		c.Send(o.now, fzBytes(int(r.u8())*8))
	case 1, 2:
		var b [512]byte
		n, err := c.Receive(o.now, b[:])
		if o.eof && (n != 0 || err != ErrEOF) {
			o.t.Fatalf("%v: RECEIVE after EOF returned %d, %v", c.state, n, err)
		}
		o.eof = o.eof || err == ErrEOF
	case 3:
		c.Close(o.now)
	case 4:
		if r.u8() == 0xab {
			c.Abort(o.now)
		}
	case 5:
		c.CloseRead(o.now)
	}
}

func FuzzSegmentInto(f *testing.F) {
	for _, s := range fzSegmentSeeds() {
		f.Add(s.state, s.cfg, s.data)
	}
	f.Fuzz(runSegInto)
}

func runSegInto(t *testing.T, state, cfg byte, data []byte) {
	if len(data) > 4096 {
		return
	}
	o := fzInState(t, cfg, State(state%11))
	r := &fzIn{b: data}
	for r.more() {
		unflushed := false
		switch op := r.u8(); op % 8 {
		case 0, 1, 2, 3:
			h, p := o.fzSegment(r)
			o.c.Segment(o.now, &h, p)
		case 4:
			h, p := o.fzSegment(r)
			o.c.Input(o.now, &h, p) // the flush comes with a later call
			unflushed = true
		case 5:
			d := time.Duration(r.u8())
			o.now += [4]time.Duration{time.Millisecond, 50 * time.Millisecond, time.Second, time.Minute}[d>>6] * (d & 63)
			for i := 0; i < 1000; i++ {
				at, ok := o.c.NextDeadline()
				if !ok || at > o.now {
					break
				}
				fzCheckTick(t, o.c, o.now)
				fzCheckTCB(t, o.c, o.now)
			}
		case 6:
			o.user(r)
		case 7:
			o.c.Flush(o.now)
		}
		if !unflushed { // invariants hold after each step, a batch being one
			fzCheckTCB(t, o.c, o.now)
		}
	}
	o.c.Flush(o.now)
	fzCheckTCB(t, o.c, o.now)
}

type fzSegSeed struct {
	state, cfg byte
	data       []byte
}

// fzSegmentSeeds reach each state with a few segments that matter there:
// an in-window ACK of everything, a RST at RCV.NXT, a SYN, data with a
// FIN, an old duplicate, and a SACK block over SND.UNA followed by an RTO
// (the RFC 2018 8 left-edge rule; it once left data with no timer).
func fzSegmentSeeds() []fzSegSeed {
	ackAll := []byte{0, byte(wire.ACK), 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0, 0}
	rst := []byte{0, byte(wire.RST), 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0}
	syn := []byte{0, byte(wire.SYN), 0, 0, 3, 0, 0, 0, 0x10, 0, 0, 1, 2, 0x18}
	dataFin := []byte{1, byte(wire.ACK | wire.FIN | wire.PSH), 0, 0, 0, 0, 0, 0, 0x10, 0, 100, 0}
	old := []byte{2, byte(wire.ACK), 0xff, 0x00, 0, 0, 0, 0, 0x10, 0, 50, 0}
	var seeds []fzSegSeed
	for st := range byte(11) {
		for _, body := range [][]byte{ackAll, rst, syn, dataFin, old} {
			seeds = append(seeds, fzSegSeed{st, 0x07, body})
		}
		seeds = append(seeds, fzSegSeed{st, 0x90, append(append([]byte{}, dataFin...), 5, 0x82, 6, 0, 20)})
	}
	// ESTABLISHED with data in flight, SACK and timestamps: a SACK block
	// [SND.UNA, SND.UNA+3000) with a valid timestamp, then a minute.
	sackUna := []byte{0, byte(wire.ACK), 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 8 | 16 | 32, 0, 0, 0, 0, 10, 0, 0, 0x0b, 0xb8, 5, 0xc5}
	seeds = append(seeds, fzSegSeed{byte(Established), 0x96, sackUna})
	return seeds
}

func fzBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}
