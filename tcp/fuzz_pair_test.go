package tcp

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// FuzzConnPair: two TCBs driven against each other by a byte string of
// actions (the doc comment and the shared checks are in fuzz_test.go).

type fzPkt struct {
	to   int
	h    wire.TCP
	data []byte
}

type fzEnd struct {
	scratchHdr
	p      *fzPair
	id     int
	name   string
	c      *TCB
	key    uint64 // this end writes fzStream(key, ...)
	sent   int    // bytes SEND took
	got    int    // bytes RECEIVE returned
	eof    bool
	closed bool // CLOSE succeeded
	abort  bool
	err    error // what RECEIVE or SEND reported (reset, timeout, refused)
	estab  bool  // reached ESTABLISHED
	gaveUp bool  // a timer other than TIME-WAIT's ended it (R2, FIN-WAIT-2...)
}

type fzPair struct {
	t    *testing.T
	now  time.Duration
	ends [2]*fzEnd
	q    []fzPkt
	// lied: a mutation that can make the stream itself wrong (a shifted
	// sequence number, a flipped payload byte, an ACK of unsent data, an
	// added flag, a bogus timestamp) was put on the wire; the content and
	// completeness checks are off.
	lied   bool
	storm  bool // settle saw an ACK war
	strict bool // settle without link delay: an ACK war fails
	trace  bool // FZTRACE=1: log every action, segment and transition
	buf    [2048]byte
}

func (p *fzPair) logf(format string, a ...any) {
	if p.trace {
		p.t.Logf("t=%v "+format, append([]any{p.now}, a...)...)
	}
}

func fzFormat(h *wire.TCP, n int) string {
	s := fmt.Sprintf("<SEQ=%d><ACK=%d><CTL=%v><WND=%d>", h.Seq, h.Ack, h.Flags, h.Window)
	if n > 0 {
		s += fmt.Sprintf("<LEN=%d>", n)
	}
	if o := h.Options; o.NumSACK > 0 {
		s += fmt.Sprintf("<SACK=%v>", o.SACK[:o.NumSACK])
	}
	if o := h.Options; o.HasTimestamps {
		s += fmt.Sprintf("<TS=%d,%d>", o.TSVal, o.TSEcr)
	}
	return s
}

func (e *fzEnd) SendSegment(h *wire.TCP, p1, p2 []byte) {
	hh, data := fzCheckSent(e.p.t, e.c, h, p1, p2)
	if e.p.trace {
		e.p.logf("%s sends #%d %s", e.name, len(e.p.q), fzFormat(&hh, len(data)))
	}
	e.p.q = append(e.p.q, fzPkt{to: 1 - e.id, h: hh, data: data})
}

func (e *fzEnd) peer() *fzEnd { return e.p.ends[1-e.id] }

func fzPairConfig(b byte) Config {
	cfg := Config{MSS: 200 + 100*int(b&7), SendBuf: 3000, RecvBuf: 2500, MSL: 5 * time.Second,
		WindowScale: b&8 != 0, Timestamps: b&16 != 0, SACK: b&32 != 0, NoDelay: b&64 != 0, AckDelay: -1}
	if b&128 != 0 {
		cfg.SendBuf, cfg.RecvBuf, cfg.AckDelay = 20000, 70000, 0
	}
	return cfg
}

func newFzPair(t *testing.T, r *fzIn) *fzPair {
	cfg := fzPairConfig(r.u8())
	p := &fzPair{t: t, trace: os.Getenv("FZTRACE") != ""}
	for i, name := range [2]string{"A", "B"} {
		e := &fzEnd{p: p, id: i, name: name, key: uint64(i + 1)}
		e.c = New(cfg, e, func(from, to State, cause Cause) {
			p.logf("%s %v -> %v (%s)", e.name, from, to, cause)
			if !LegalTransition(from, to) {
				t.Fatalf("t=%v %s: illegal transition %v -> %v (%s)", p.now, e.name, from, to, cause)
			}
			if to == Established {
				e.estab = true
			}
			if strings.HasPrefix(string(cause), "timeout ") && cause != CauseTimeWait {
				e.gaveUp = true
			}
		})
		p.ends[i] = e
	}
	// ISSs near the 2^32 wrap half the time.
	issA, issB := seq.Value(r.u32()), seq.Value(r.u32())
	p.ends[1].c.OpenPassive(issB)
	p.ends[0].c.OpenActive(p.now, issA)
	p.check()
	return p
}

func (p *fzPair) check() {
	p.t.Helper()
	for _, e := range p.ends {
		fzCheckTCB(p.t, e.c, p.now)
	}
}

func (e *fzEnd) write(k int) {
	var b [4096]byte
	k = min(k, len(b))
	for i := range k {
		b[i] = fzStream(e.key, e.sent+i)
	}
	n, err := e.c.Send(e.p.now, b[:k])
	if n < 0 || n > k || (err != nil && n != 0) {
		e.p.t.Fatalf("%s Send(%d) = %d, %v", e.name, k, n, err)
	}
	if e.closed && n > 0 {
		e.p.t.Fatalf("%s Send took %d bytes after CLOSE", e.name, n)
	}
	e.sent += n
}

// read takes up to limit bytes, checking each and where EOF comes.
func (e *fzEnd) read(limit int) {
	p := e.p
	for limit > 0 {
		n, err := e.c.Receive(p.now, p.buf[:min(limit, len(p.buf))])
		if e.eof && (n != 0 || err != ErrEOF) {
			p.t.Fatalf("%s: RECEIVE after EOF returned %d, %v", e.name, n, err)
		}
		if !p.lied {
			for i := range n {
				if want := fzStream(e.peer().key, e.got+i); p.buf[i] != want {
					p.t.Fatalf("%s: byte %d is %#x, want %#x", e.name, e.got+i, p.buf[i], want)
				}
			}
			if e.got+n > e.peer().sent {
				p.t.Fatalf("%s read %d bytes, the peer wrote %d", e.name, e.got+n, e.peer().sent)
			}
		}
		e.got += n
		limit -= n
		switch {
		case err == ErrEOF:
			if !e.eof && !p.lied && (!e.peer().closed || e.got != e.peer().sent) {
				p.t.Fatalf("%s: EOF after %d bytes; the peer wrote %d and closed: %v", e.name, e.got, e.peer().sent, e.peer().closed)
			}
			e.eof = true
			return
		case err != nil:
			if e.err == nil {
				e.err = err
			}
			return
		case n == 0:
			return
		}
	}
}

func (e *fzEnd) close() {
	switch err := e.c.Close(e.p.now); {
	case err == nil, errors.Is(err, ErrClosing):
		e.closed = true
	case errors.Is(err, ErrNotExist):
	default:
		e.p.t.Fatalf("%s CLOSE in %v: %v", e.name, e.c.State(), err)
	}
}

// advance moves time by d, running each TCB's timers as they fall due.
func (p *fzPair) advance(d time.Duration) {
	target := p.now + d
	for i := 0; ; i++ {
		if i > 100000 {
			p.t.Fatalf("t=%v: timers keep firing", p.now)
		}
		next, ok := p.nextDeadline()
		if !ok || next > target {
			break
		}
		p.now = max(p.now, next)
		for _, e := range p.ends {
			fzCheckTick(p.t, e.c, p.now)
		}
		p.check()
	}
	p.now = target
}

func (p *fzPair) nextDeadline() (time.Duration, bool) {
	var at time.Duration
	ok := false
	for _, e := range p.ends {
		if d, armed := e.c.NextDeadline(); armed && (!ok || d < at) {
			at, ok = d, true
		}
	}
	return at, ok
}

// deliver hands q[i] to its TCB (Segment: input and flush).
func (p *fzPair) deliver(i int) {
	pk := p.q[i]
	p.q = append(p.q[:i], p.q[i+1:]...)
	if p.trace {
		p.logf("deliver to %s %s", p.ends[pk.to].name, fzFormat(&pk.h, len(pk.data)))
	}
	p.ends[pk.to].c.Segment(p.now, &pk.h, pk.data)
}

// deliverAll hands every queued segment over as one batch: each TCB
// takes its share with Input, then flushes once, as the stack does.
func (p *fzPair) deliverAll() {
	batch := p.q
	p.q = nil
	for _, pk := range batch {
		if p.trace {
			p.logf("deliver (batch) to %s %s", p.ends[pk.to].name, fzFormat(&pk.h, len(pk.data)))
		}
		// No invariant check until the flush: between the segments of a
		// batch RCV.NXT may stand past the advertised edge (a FIN taken
		// on a zero window), which the flush's window update repairs.
		p.ends[pk.to].c.Input(p.now, &pk.h, pk.data)
	}
	for _, e := range p.ends {
		e.c.Flush(p.now)
	}
}

// mutate changes q[i]. Some changes keep the stream right (a window, a
// shorter payload, a dropped FIN, an older ACK, PSH or URG, SACK blocks);
// the others set lied.
func (p *fzPair) mutate(i int, r *fzIn) {
	pk := &p.q[i]
	h := &pk.h
	switch r.u8() % 10 {
	case 0:
		h.Window = r.u16()
	case 1:
		if n := int(r.u8()); n < len(pk.data) {
			pk.data = pk.data[:n]
			h.Flags &^= wire.FIN // the FIN followed the whole payload
		}
	case 2:
		h.Flags &^= wire.FIN
	case 3:
		h.Ack -= uint32(r.u16())
	case 4:
		h.Ack += uint32(r.u16())
		p.lied = true
	case 5:
		h.Seq += uint32(int16(r.u16()))
		p.lied = true
	case 6:
		f := wire.Flags(1) << (r.u8() % 8)
		h.Flags ^= f
		if f&(wire.PSH|wire.URG|wire.ECE|wire.CWR) == 0 && h.Flags&f != 0 {
			p.lied = true // a SYN, RST, FIN or ACK that was not there
		}
		if f == wire.ACK && h.Flags&f == 0 {
			p.lied = true
		}
	case 7:
		if len(pk.data) > 0 {
			pk.data = append([]byte(nil), pk.data...)
			pk.data[int(r.u8())%len(pk.data)] ^= 1 << (r.u8() % 8)
			p.lied = true
		}
	case 8:
		room := uint8(wire.MaxSACKBlocks)
		if h.Options.HasTimestamps {
			room = 3 // 40 option bytes: timestamps and three blocks
		}
		if k := h.Options.NumSACK; k < room {
			l := h.Ack + uint32(r.u16())
			h.Options.SACK[k] = wire.SACKBlock{Left: l, Right: l + uint32(r.u16())}
			h.Options.NumSACK++
		}
	case 9:
		h.Options.HasTimestamps, h.Options.TSVal, h.Options.TSEcr = true, r.u32(), r.u32()
		p.lied = true
	}
}

// step runs one action of the fuzz input.
func (p *fzPair) step(r *fzIn) {
	op := r.u8()
	e := p.ends[op&1]
	p.logf("action %d on %s (queue %d)", op>>1%10, e.name, len(p.q))
	pick := func() int { return int(r.u8()) % len(p.q) }
	switch op >> 1 % 10 {
	case 0:
		if e.closed {
			if n, err := e.c.Send(p.now, []byte("x")); n != 0 || err == nil {
				p.t.Fatalf("%s: Send after CLOSE = %d, %v", e.name, n, err)
			}
			return
		}
		e.write(int(r.u8()) * 16)
	case 1:
		e.read(int(r.u8()) * 16)
	case 2:
		e.close()
	case 3:
		d := time.Duration(r.u8())
		p.advance([4]time.Duration{time.Millisecond, 20 * time.Millisecond, 300 * time.Millisecond, 10 * time.Second}[d>>6] * (d & 63))
	case 4, 5:
		if len(p.q) > 0 {
			p.deliver(0)
		}
	case 6:
		if len(p.q) > 0 {
			p.deliver(pick())
		}
	case 7:
		if len(p.q) > 0 {
			switch i := pick(); r.u8() % 3 {
			case 0:
				p.q = append(p.q[:i], p.q[i+1:]...) // drop
			case 1:
				p.q = append(p.q, p.q[i]) // duplicate
			default:
				p.mutate(i, r)
			}
		}
	case 8:
		p.deliverAll()
	case 9:
		if r.u8() == 0xab && !e.abort { // rare: ABORT
			e.c.Abort(p.now)
			e.abort = true
		}
	}
}

// settle lets a clean network finish the connection: both close, every
// segment is delivered, time runs to each next deadline. Each round of
// deliveries takes a millisecond of link delay, so that two TCBs trading
// ACKs (see fzRegressions) wait for their timers as they would on a real
// link; strict mode (the regression tests) delivers without delay and
// fails on such an ACK war instead.
func (p *fzPair) settle() {
	for _, e := range p.ends {
		e.close()
	}
	start := p.now
	sameInstant := 0
	for i := 0; ; i++ {
		for _, e := range p.ends {
			e.read(1 << 30)
		}
		p.check()
		if i > 500_000 || p.now-start > 6*time.Hour {
			if p.lied {
				p.storm = true // a lie can leave both sides answering each other until R2
				return
			}
			p.t.Fatalf("t=%v: no end: A %v, B %v", p.now, p.ends[0].c.State(), p.ends[1].c.State())
		}
		if len(p.q) > 0 {
			p.deliverAll()
			if !p.strict {
				p.advance(time.Millisecond)
				continue
			}
			if sameInstant++; sameInstant > 1000 {
				p.storm = true
				p.trace = true
				p.deliverAll()
				p.t.Fatalf("t=%v: an ACK war: segments keep coming without time passing: A %v, B %v", p.now, p.ends[0].c.State(), p.ends[1].c.State())
			}
			continue
		}
		sameInstant = 0
		done := true
		for _, e := range p.ends {
			if s := e.c.State(); s != Closed && s != Listen {
				done = false
			}
		}
		if done {
			return
		}
		next, ok := p.nextDeadline()
		if !ok {
			if !p.excused() {
				p.t.Fatalf("t=%v: stalled with nothing in flight or armed: A %v, B %v", p.now, p.ends[0].c.State(), p.ends[1].c.State())
			}
			return // a half-open connection waits for ever (RFC 9293 3.6)
		}
		p.advance(next - p.now)
	}
}

// excused reports a reason for the connection not to complete: a lie on
// the wire, an ABORT, a timeout, or a listener closed before the SYN came.
func (p *fzPair) excused() bool {
	if p.lied {
		return true
	}
	for _, e := range p.ends {
		if e.abort || e.gaveUp || (e.closed && !e.estab) {
			return true
		}
	}
	return false
}

// finalCheck: unless excused, both saw EOF after every byte the other
// wrote, and nobody reported an error.
func (p *fzPair) finalCheck() {
	a, b := p.ends[0], p.ends[1]
	if p.excused() {
		return
	}
	for _, e := range p.ends {
		if e.err != nil || e.c.Err() != nil {
			p.t.Fatalf("%s: error %v / %v with no timeout, abort or lie", e.name, e.err, e.c.Err())
		}
	}
	if !a.estab || !b.estab {
		return
	}
	if a.got != b.sent || b.got != a.sent || !a.eof || !b.eof {
		p.t.Fatalf("A read %d of %d (EOF %v), B read %d of %d (EOF %v)", a.got, b.sent, a.eof, b.got, a.sent, b.eof)
	}
}

func FuzzConnPair(f *testing.F) {
	for _, s := range fzPairSeeds() {
		f.Add(s)
	}
	f.Fuzz(runConnPair)
}

func runConnPair(t *testing.T, data []byte) { runConnPairMode(t, data, false) }

func runConnPairMode(t *testing.T, data []byte, strict bool) {
	if len(data) > 8192 {
		return
	}
	r := &fzIn{b: data}
	p := newFzPair(t, r)
	p.strict = strict
	for r.more() {
		p.step(r)
		p.check()
	}
	p.settle()
	p.finalCheck()
}

// fzPairSeeds are inputs that reach the interesting places quickly; the
// corpus under testdata/fuzz/FuzzConnPair holds more.
func fzPairSeeds() [][]byte {
	const (
		wA, wB = 0 << 1, 0<<1 | 1 // write (then a length byte)
		rA, rB = 1 << 1, 1<<1 | 1
		cA, cB = 2 << 1, 2<<1 | 1
		tick   = 3 << 1 // then a time byte
		head   = 4 << 1
		any    = 6 << 1 // then an index byte
		fault  = 7 << 1 // then index, kind (0 drop, 1 dup, 2 mutate) [, mutation...]
		all    = 8 << 1
	)
	return [][]byte{
		{0x00, 0, 0, 0, 1, 0, 0, 0, 2, head, head, head, wA, 100, wB, 50, all, all, rA, 255, rB, 255, cA, all, all, cB, all, all},
		{0x3f, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0xf0, 0, all, all, all, wA, 255, wB, 255, fault, 0, 0, all, tick, 0x85, all, rA, 200, rB, 200, all},
		{0xff, 1, 2, 3, 4, 5, 6, 7, 8, all, all, wA, 255, wA, 255, fault, 1, 1, fault, 2, 2, 4, 0, 10, any, 3, all, tick, 0x81, cA, all, tick, 0xc1},
		{0x18, 9, 9, 9, 9, 8, 8, 8, 8, all, all, wB, 255, all, fault, 0, 2, 1, 7, all, tick, 0x90, wA, 40, cB, all, tick, 0x50},
	}
}

// fzRegressions are fuzz inputs that found something. Fixed ones also sit
// in the corpus; one whose bug stands is skipped here with "BUG: ..."
// (SYNACK_BUGS=1 runs it anyway). These run strict: no link delay in the
// final settling, and an ACK war fails.
var fzRegressions = []struct {
	name string
	data []byte
	skip string
	why  string
}{
	{
		name: "ack-war-after-added-fin",
		data: []byte("100000000000x\xffy\xff7008Bx7\x02\xc8$"),
		why: "Both ISS 808464432. A's 196-byte segment at 808466737 gets a FIN added on the wire; B takes it " +
			"and, in CLOSING, has RCV.NXT 808466934, one past anything A sent. A (FIN-WAIT-1, FIN not yet " +
			"sent, SND.MAX 808466933) answers B's ACK=808466934 with an ACK (3.10.7.4: SEG.ACK > SND.NXT); " +
			"B finds A's SEQ=808466933 left of RCV.NXT and answers with an ACK (first check, unacceptable " +
			"segment); and so on, one ACK per round trip each way, until both give up by R2.",
	},
	{
		name: "ack-war-at-window-edge",
		data: []byte("700000000000x\xffy\xff0720700"),
		why: "No lie, only two drops: A and B (both ISS 808464432) each filled the other's 2500-byte window " +
			"and lost their second segment. Each now sends pure ACKs with SEQ=SND.NXT=808466933, which is " +
			"RCV.NXT+RCV.WND on the other side: 3.10.7.4's first check (RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND) " +
			"rejects it and answers with an ACK of the same kind, so the two ping-pong one ACK per round trip " +
			"(for ever without link delay) until an RTO resends the hole. Linux (tcp_sequence) and the BSDs " +
			"accept a zero-length segment at the right edge; RFC 5961 7 ACK throttling would also end it.",
	},
	{
		name: "ack-war-paws",
		data: []byte("r\x00X0000y;072210000X00000y;072210"),
		why: "Timestamps on. The SYN,ACK reaches A with its TSval changed on the wire to 808464432, far " +
			"ahead of B's clock, and an ACK reaches B with its TSval changed to 805306368, far ahead of A's: " +
			"each end's TS.Recent is now ahead of the other's TSvals, so PAWS (RFC 7323 5.3) drops every " +
			"segment and answers it with an ACK, which the other drops and answers: two ACKs per round trip " +
			"until R2, 600,000 segments. The ACK for an empty segment PAWS drops is throttled now, as Linux does.",
	},
}

func TestFuzzRegressions(t *testing.T) {
	for _, rg := range fzRegressions {
		t.Run(rg.name, func(t *testing.T) {
			if rg.skip != "" {
				if os.Getenv("SYNACK_BUGS") == "" {
					t.Skip(rg.skip)
				}
			}
			runConnPairMode(t, rg.data, true)
		})
	}
}
