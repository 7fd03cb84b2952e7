package tcp

import (
	"bytes"
	"testing"
	"time"
)

// delackConfig is testConfig with the default delayed ACK (40ms) from the
// first segment on (no quick ACKs at the start).
func delackConfig() Config {
	cfg := testConfig()
	cfg.AckDelay = 0
	cfg.QuickAcks = -1
	return cfg
}

// RFC 9293 3.10.7.4 seventh step: text at RCV.NXT is taken, RCV.NXT
// advances over it, and the window shrinks by as much (the edge stays).
func TestSegTextInOrder(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=hello>", Established, "<SEQ=101><ACK=306><CTL=ACK><WND=7995>")
	f.step(0, "<SEQ=306><ACK=101><CTL=ACK><DATA= world>", Established, "<SEQ=101><ACK=312><CTL=ACK><WND=7989>")
	if got, err := f.read(); got != "hello world" || err != nil {
		t.Fatalf("read %q, %v", got, err)
	}
}

// RFC 9293 3.8.6.3 delayed ACK (SHLD-18): one segment's ACK waits, for
// less than 0.5 s (MUST-40); every second full-sized segment is ACKed at
// once (SHLD-19); an ACK owed rides on outgoing data.
func TestSegTextDelayedAck(t *testing.T) {
	f := established(t, delackConfig())
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><LEN=1000>", Established)
	d := f.deadline()
	if d <= 0 || d >= 500*time.Millisecond {
		t.Fatalf("delayed ACK due at %v, want within (0, 500ms)", d)
	}
	f.step(d-1, "", Established)
	f.step(d, "", Established, "<SEQ=101><ACK=1301><CTL=ACK>")
	f.noDeadline()

	f.step(time.Second, "<SEQ=1301><ACK=101><CTL=ACK><LEN=1000>", Established)
	f.step(time.Second+time.Millisecond, "<SEQ=2301><ACK=101><CTL=ACK><LEN=1000>", Established, "<SEQ=101><ACK=3301><CTL=ACK>")
	f.noDeadline() // the delayed-ACK timer is cancelled by the ACK

	// Small segments: still one ACK per delay, counted from the first.
	f.step(2*time.Second, "<SEQ=3301><ACK=101><CTL=ACK><DATA=a>", Established)
	f.step(2*time.Second+10*time.Millisecond, "<SEQ=3302><ACK=101><CTL=ACK><DATA=b>", Established)
	f.step(2*time.Second+d, "", Established, "<SEQ=101><ACK=3303><CTL=ACK>")

	// Piggybacking: data sent before the timer carries the ACK.
	f.step(3*time.Second, "<SEQ=3303><ACK=101><CTL=ACK><DATA=c>", Established)
	f.write([]byte("reply"))
	f.expect(Established, "<SEQ=101><ACK=3304><CTL=ACK><DATA=reply>")
	f.step(3*time.Second+d, "", Established) // nothing more owed
}

// SHLD-18 with quick ACKs: the first QuickAcks in-order segments of a
// connection are acknowledged at once (the peer's slow start), then the
// delayed ACK applies, still within 0.5 s (MUST-40).
func TestSegTextQuickAcksThenDelayed(t *testing.T) {
	cfg := delackConfig()
	cfg.QuickAcks = 2
	f := established(t, cfg)
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=a>", Established, "<SEQ=101><ACK=302><CTL=ACK>")
	f.step(0, "<SEQ=302><ACK=101><CTL=ACK><DATA=b>", Established, "<SEQ=101><ACK=303><CTL=ACK>")
	f.step(0, "<SEQ=303><ACK=101><CTL=ACK><DATA=c>", Established)
	if d := f.deadline(); d <= 0 || d >= 500*time.Millisecond {
		t.Fatalf("delayed ACK at %v", d)
	}
	f.step(f.deadline(), "", Established, "<SEQ=101><ACK=304><CTL=ACK>")
}

// RFC 9293 3.10.7.4 first step (SHLD-31) and seventh step: segments beyond
// RCV.NXT are held and used once the hole fills. RFC 5681 4.2: each one
// draws an immediate (duplicate) ACK even with delayed ACKs on, and so
// does the segment that fills a hole.
func TestSegTextOutOfOrderReassembly(t *testing.T) {
	f := established(t, delackConfig())
	f.step(0, "<SEQ=311><ACK=101><CTL=ACK><DATA=klmnopqrst>", Established, "<SEQ=101><ACK=301><CTL=ACK><WND=8000>")
	f.step(0, "<SEQ=331><ACK=101><CTL=ACK><DATA=ABCDE>", Established, "<SEQ=101><ACK=301><CTL=ACK>")
	f.step(0, "<SEQ=316><ACK=101><CTL=ACK><DATA=pqrst>", Established, "<SEQ=101><ACK=301><CTL=ACK>") // a duplicate of held data
	if f.c.Readable() {
		t.Fatal("out-of-order data readable before the hole is filled")
	}
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=abcdefghij>", Established, "<SEQ=101><ACK=321><CTL=ACK>")
	f.step(0, "<SEQ=321><ACK=101><CTL=ACK><DATA=0123456789>", Established, "<SEQ=101><ACK=336><CTL=ACK>")
	if got, _ := f.read(); got != "abcdefghijklmnopqrst0123456789ABCDE" {
		t.Fatalf("read %q", got)
	}
	if st := f.c.Status(); st.Stats.OutOfOrderSegs != 3 || st.RcvNxt != 336 {
		t.Fatalf("%+v", st)
	}
}

// SHLD-31 with overlapping and straddling retransmissions: whatever the
// order, the bytes come out once and in order.
func TestSegTextOverlaps(t *testing.T) {
	data := bytesOf(3000)
	seg := func(off, n int) string {
		return "<SEQ=" + itoa(uint32(301+off)) + "><ACK=101><CTL=ACK><DATA=" + string(data[off:off+n]) + ">"
	}
	f := established(t, testConfig())
	for _, s := range [][2]int{{1000, 500}, {2500, 500}, {1200, 1000}, {0, 200}, {100, 1000}, {2100, 500}, {0, 3000}} {
		f.step(0, seg(s[0], s[1]), Established, "<CTL=ACK>")
	}
	got, _ := f.read()
	if !bytes.Equal([]byte(got), data) {
		t.Fatalf("reassembled %d bytes, mismatch", len(got))
	}
}

// Reassembly tracks a bounded number of holes: a segment that would need
// more is dropped (the sender retransmits it), takes no buffer chunk, and
// nothing breaks.
func TestSegTextReassemblyBounded(t *testing.T) {
	cfg := testConfig()
	cfg.RecvBuf = 1 << 20
	f := established(t, cfg)
	for i := 0; i < maxHoles; i++ {
		f.step(0, "<SEQ="+itoa(uint32(303+2*i))+"><ACK=101><CTL=ACK><DATA=x>", Established, "<ACK=301><CTL=ACK>")
	}
	mem := f.c.Status().RecvMem
	// One more hole, far enough out to need a chunk of its own.
	f.step(0, "<SEQ="+itoa(301+60000)+"><ACK=101><CTL=ACK><DATA=x>", Established, "<ACK=301><CTL=ACK>")
	st := f.c.Status()
	if st.Stats.ReassemblyOverflowSegs != 1 || st.Stats.OutOfOrderSegs != maxHoles {
		t.Fatalf("overflow %d, out of order %d", st.Stats.ReassemblyOverflowSegs, st.Stats.OutOfOrderSegs)
	}
	if st.RecvMem != mem {
		t.Fatalf("the dropped segment took %d bytes of chunks", st.RecvMem-mem)
	}
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><LEN=100>", Established, "<ACK=401><CTL=ACK>")
}

// RFC 9293 3.10.7.4 seventh step: text beyond the receive buffer is
// trimmed, and a FIN behind trimmed text is not taken.
func TestSegTextTrimmedAtWindow(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=301><ACK=101><CTL=FIN,ACK><LEN=9000>", Established, "<SEQ=101><ACK=8301><CTL=ACK><WND=0>")
	if st := f.c.Status(); st.RecvHeld != 8000 {
		t.Fatalf("%+v", st)
	}
}

// RFC 9293 3.10.7.4 seventh step, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT:
// "This should not occur since a FIN has been received": ignore the text.
func TestSegTextAfterFinIgnored(t *testing.T) {
	for _, s := range []State{CloseWait, Closing, LastAck, TimeWait} {
		f := inState(t, testConfig(), s)
		una := f.c.Status().SndUna
		f.step(f.now, "<SEQ=302><ACK="+itoa(uint32(una))+"><CTL=ACK><DATA=zzz>", s)
		if st := f.c.Status(); st.RcvNxt != 302 || st.RecvHeld != 0 {
			t.Fatalf("%v took text after the FIN: %+v", s, st)
		}
	}
}

// SHLD-31: held out-of-order text survives the user draining everything
// readable before the hole fills (the bytes sit in the receive buffer at
// their offset from RCV.NXT).
func TestSegTextOutOfOrderAcrossReads(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=311><ACK=101><CTL=ACK><DATA=klmnopqrst>", Established, "<ACK=301><CTL=ACK>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><DATA=abcde>", Established, "<ACK=306><CTL=ACK>")
	if got, _ := f.read(); got != "abcde" {
		t.Fatalf("read %q", got)
	}
	f.step(0, "<SEQ=306><ACK=101><CTL=ACK><DATA=fghij>", Established, "<ACK=321><CTL=ACK>")
	if got, _ := f.read(); got != "fghijklmnopqrst" {
		t.Fatalf("read %q after the hole filled", got)
	}
}

// RFC 9293 3.10.7.4 first and seventh steps: a segment that starts in the
// window is acceptable; text past the advertised right edge may be kept
// when the buffer has room (receiver SWS avoidance keeps the edge short of
// the buffer). The TCB stays consistent (the fixture checks after every
// step that the advertised edge is not left of RCV.NXT), the owed ACK
// still waits for the delayed-ACK timer, and it advertises no window until
// the reduction is worth it (MUST-39).
func TestSegTextPastAdvertisedEdge(t *testing.T) {
	f := established(t, delackConfig()) // edge 301+8000 = 8301
	for i := 0; i < 7; i++ {
		f.stepAny(0, "<SEQ="+itoa(uint32(301+1000*i))+"><ACK=101><CTL=ACK><LEN=1000>", Established)
	}
	f.stepAny(time.Second, "", Established)                                   // ACKs, the last one delayed
	f.step(time.Second, "<SEQ=7301><ACK=101><CTL=ACK><LEN=500>", Established) // RCV.NXT 7801, window 500
	if n, _ := f.receiveN(700); n != 700 {
		t.Fatal(n)
	}
	f.expect(Established) // 700 < 1000: the edge stays at 8301
	f.step(time.Second, "<SEQ=7801><ACK=101><CTL=ACK><LEN=1000>", Established)
	if st := f.c.Status(); st.RcvNxt != 8801 {
		t.Fatalf("RCV.NXT %d: text in the buffer's room was refused", st.RcvNxt)
	}
	f.step(time.Second+f.c.cfg.AckDelay, "", Established, "<SEQ=101><ACK=8801><CTL=ACK><WND=0>")
}
