package tcp

import (
	"errors"
	"testing"
	"time"
)

// Urgent data, RFC 9293 3.8.5 (MUST-30): urgent bytes stay in the stream;
// SEG.SEQ+SEG.UP is the octet after the last urgent byte (MUST-62).

// readN is one RECEIVE call with a buffer of n bytes.
func (f *fixture) readN(n int) string {
	f.t.Helper()
	b := make([]byte, n)
	got, err := f.c.Receive(f.now, b)
	if err != nil {
		f.t.Fatalf("t=%v: Receive: %v", f.now, err)
	}
	f.check()
	return string(b[:got])
}

func (f *fixture) urgentMark(wantN int, wantOK bool) {
	f.t.Helper()
	if n, ok := f.c.UrgentMark(); n != wantN || ok != wantOK {
		f.t.Fatalf("t=%v: UrgentMark = %d, %v; want %d, %v", f.now, n, ok, wantN, wantOK)
	}
}

// 3.10.7.4 step six: URG sets RCV.UP = SEG.SEQ+SEG.UP; the user is
// signalled (MUST-32) and can ask how much urgent data is left (MUST-33);
// a RECEIVE never returns urgent and non-urgent bytes together (3.10.3),
// and once the user reads past RCV.UP urgent mode ends.
func TestUrgentReceiveMark(t *testing.T) {
	f := established(t, testConfig())
	f.urgentMark(0, false)
	if f.c.TakeUrgentSignal() {
		t.Fatal("urgent signal before any URG")
	}
	f.step(0, "<SEQ=301><ACK=101><CTL=URG,ACK><UP=3><DATA=abcdef>", Established, "<SEQ=101><ACK=307><CTL=ACK>")
	if !f.c.TakeUrgentSignal() {
		t.Fatal("URG did not signal the user (MUST-32)")
	}
	if f.c.TakeUrgentSignal() {
		t.Fatal("one URG signalled twice")
	}
	f.urgentMark(3, true) // MUST-62: the pointer is the octet after "abc"
	if got := f.readN(100); got != "abc" {
		t.Fatalf("first RECEIVE %q, want the urgent bytes alone", got)
	}
	f.urgentMark(0, false)
	if got := f.readN(100); got != "def" {
		t.Fatalf("second RECEIVE %q", got)
	}
	// A retransmission of the same segment carries a stale pointer: no
	// new signal, no urgent mode.
	f.step(0, "<SEQ=301><ACK=101><CTL=URG,ACK><UP=3><DATA=abcdef>", Established, "<SEQ=101><ACK=307><CTL=ACK>")
	if f.c.TakeUrgentSignal() {
		t.Fatal("stale urgent pointer signalled")
	}
	f.urgentMark(0, false)
}

// MUST-31: urgent data of any length. The pointer may lie beyond the data
// that has arrived; segments that repeat it do not signal again, one that
// advances it does (MUST-32), and the mark counts down as the user reads.
func TestUrgentAnyLength(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=301><ACK=101><CTL=URG,ACK><UP=3000><LEN=1000>", Established, "<SEQ=101><ACK=1301><CTL=ACK>")
	if !f.c.TakeUrgentSignal() {
		t.Fatal("no signal")
	}
	f.urgentMark(3000, true)
	f.step(0, "<SEQ=1301><ACK=101><CTL=URG,ACK><UP=2000><LEN=1000>", Established, "<SEQ=101><ACK=2301><CTL=ACK>")
	if f.c.TakeUrgentSignal() {
		t.Fatal("a repeated pointer signalled again")
	}
	if got := f.readN(1500); len(got) != 1500 {
		t.Fatalf("read %d", len(got))
	}
	// No window update of its own: the peer may still send 6000 of the
	// 8000 bytes, more than half (afterRead); the next ACK carries 7500.
	f.expect(Established)
	f.urgentMark(1500, true)
	// The urgent data grows: the pointer advances past the old one.
	f.step(0, "<SEQ=2301><ACK=101><CTL=URG,ACK><UP=2000><LEN=1000>", Established, "<SEQ=101><ACK=3301><CTL=ACK>")
	if !f.c.TakeUrgentSignal() {
		t.Fatal("an advancing pointer did not signal (MUST-32)")
	}
	f.urgentMark(2500, true)
	if got := f.readN(8000); len(got) != 1500 {
		t.Fatalf("read %d bytes, want the 1500 that arrived (all urgent)", len(got))
	}
	f.expect(Established)    // the peer may still send 6500 of 8000: no update of its own
	f.urgentMark(1000, true) // 1000 urgent bytes announced, not arrived
	f.step(0, "<SEQ=3301><ACK=101><CTL=ACK><LEN=1500>", Established, "<SEQ=101><ACK=4801><CTL=ACK>")
	if got := f.readN(8000); len(got) != 1000 {
		t.Fatalf("read %d bytes, want up to the mark", len(got))
	}
	f.urgentMark(0, false)
	if got := f.readN(8000); len(got) != 500 {
		t.Fatalf("read %d bytes after the mark", len(got))
	}
}

// MUST-66: URG is processed even when RCV.WND = 0 (the text is not).
func TestUrgentZeroWindow(t *testing.T) {
	f := established(t, testConfig())
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><LEN=8000>", Established, "<SEQ=101><ACK=8301><CTL=ACK><WND=0>")
	f.step(0, "<SEQ=8301><ACK=101><CTL=URG,ACK><UP=1><DATA=!>", Established, "<SEQ=101><ACK=8301><CTL=ACK><WND=0>")
	f.urgentMark(8001, true)
	if !f.c.TakeUrgentSignal() {
		t.Fatal("URG at a zero window not signalled")
	}
}

// Step six: in CLOSE-WAIT the FIN has come; URG is ignored.
func TestUrgentIgnoredAfterFin(t *testing.T) {
	f := inState(t, testConfig(), CloseWait)
	f.step(0, "<SEQ=302><ACK=101><CTL=URG,ACK><UP=5>", CloseWait)
	f.urgentMark(0, false)
	if f.c.TakeUrgentSignal() {
		t.Fatal("URG after FIN signalled")
	}
}

// SEND with the URGENT flag (3.10.2): SND.UP <- the octet after the urgent
// data (MUST-62); every segment before SND.UP carries URG and SEG.UP =
// SND.UP - SEG.SEQ, retransmissions too; data after it and segments once it
// is acknowledged carry none.
func TestUrgentSend(t *testing.T) {
	f := established(t, testConfig())
	if n, err := f.c.SendUrgent(f.now, []byte("abc")); n != 3 || err != nil {
		t.Fatalf("SendUrgent = %d, %v", n, err)
	}
	f.expect(Established, "<SEQ=101><ACK=301><CTL=URG,ACK><UP=3><DATA=abc>")
	f.write([]byte("def"))
	f.expect(Established, "<SEQ=104><ACK=301><CTL=ACK><DATA=def>")
	// RTO: the retransmission of the urgent bytes still points past them.
	f.step(time.Second, "", Established, "<SEQ=101><ACK=301><CTL=URG,ACK><UP=3><DATA=abcdef>")
	f.step(time.Second, "<SEQ=301><ACK=107><CTL=ACK>", Established)
	f.write([]byte("ghi"))
	f.expect(Established, "<SEQ=107><ACK=301><CTL=ACK><DATA=ghi>")
}

// MUST-31 on the send side: urgent data longer than a segment marks every
// segment; more than 65535 octets ahead the field says 65535 (the most it
// can), and later segments point at the real end.
func TestUrgentSendLong(t *testing.T) {
	cfg := testConfig()
	cfg.SendBuf = 80000
	f := establishedWith(t, cfg, "<SEQ=300><ACK=101><CTL=SYN,ACK><WND=3000><MSS=1000>")
	if n, err := f.c.SendUrgent(f.now, bytesOf(70000)); n != 70000 || err != nil {
		t.Fatalf("SendUrgent = %d, %v", n, err)
	}
	f.expect(Established,
		"<SEQ=101><ACK=301><CTL=URG,ACK><UP=65535><LEN=1000>",
		"<SEQ=1101><ACK=301><CTL=URG,ACK><UP=65535><LEN=1000>",
		"<SEQ=2101><ACK=301><CTL=URG,ACK><UP=65535><LEN=1000>")
	f.step(0, "<SEQ=301><ACK=3101><CTL=ACK><WND=4000>", Established,
		"<SEQ=3101><ACK=301><CTL=URG,ACK><UP=65535><LEN=1000>",
		"<SEQ=4101><ACK=301><CTL=URG,ACK><UP=65535><LEN=1000>",
		"<SEQ=5101><ACK=301><CTL=URG,ACK><UP=65000><LEN=1000>",
		"<SEQ=6101><ACK=301><CTL=URG,ACK><UP=64000><LEN=1000>")
}

// The urgent pointer reaches the peer even while its window holds the
// urgent data back: the ACKs we send carry it (the peer processes URG at
// a zero window, MUST-66).
func TestUrgentSendZeroWindow(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><WND=0>")
	if _, err := f.c.SendUrgent(f.now, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	f.expect(Established)
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=0><DATA=x>", Established, "<SEQ=101><ACK=302><CTL=URG,ACK><UP=3>")
}

// SEND, urgent or not, after CLOSE is an error (3.10.2).
func TestUrgentSendAfterClose(t *testing.T) {
	f := established(t, testConfig())
	f.close()
	f.expect(FinWait1, "<SEQ=101><ACK=301><CTL=FIN,ACK>")
	if _, err := f.c.SendUrgent(f.now, []byte("x")); !errors.Is(err, ErrClosing) {
		t.Fatalf("SendUrgent after CLOSE: %v", err)
	}
}
