package tcp

import (
	"errors"
	"testing"
	"time"
)

// An orphan (the user closed fully, CloseRead and Close, with data still to
// deliver) gives up after OrphanRetries retransmissions, long before R2,
// as Linux's tcp_orphan_retries: nobody waits for it.
func TestOrphanRetransmissionsBounded(t *testing.T) {
	cfg := testConfig()
	cfg.OrphanRetries = 3
	f := established(t, cfg)
	f.write([]byte("reply"))
	f.expect(Established, "<DATA=reply>")
	f.c.CloseRead(f.now)
	f.close()
	f.expect(FinWait1, "<SEQ=106><ACK=301><CTL=FIN,ACK>")
	f.expectRetransmissionsAt(FinWait1, "<DATA=reply>", 1*sec, 3*sec, 7*sec)
	f.step(15*sec, "", Closed)
	if !errors.Is(f.c.Err(), ErrTimeout) || f.lastCause() != CauseOrphan {
		t.Fatalf("Err %v cause %q", f.c.Err(), f.lastCause())
	}
}

// MUST-37 keeps a connection with answered zero-window probes open, for its
// user; an orphan has none, so even answered probes end after OrphanRetries
// (the peer that sends a request and then holds its window shut).
func TestOrphanZeroWindowAnsweredBounded(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", Established)
	f.write([]byte("queued reply"))
	f.expect(Established)
	f.c.CloseRead(f.now)
	f.close()
	f.expect(FinWait1)
	probes := 0
	for i := 0; i < 100 && f.c.State() == FinWait1; i++ {
		f.advance(f.deadline())
		if n := len(f.out.segs); n > 0 {
			probes += n
			f.out.segs = nil
			f.step(f.now+10*time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", f.c.State()) // answered
		}
	}
	if f.c.State() != Closed || f.lastCause() != CauseOrphan || probes != 8 {
		t.Fatalf("state %v cause %q after %d answered probes at %v; want CLOSED by %q after 8",
			f.c.State(), f.lastCause(), probes, f.now, CauseOrphan)
	}
	if f.now > 10*time.Minute {
		t.Fatalf("orphan lived %v", f.now)
	}
}

// A connection the user only half-closed is no orphan: its answered probes
// keep it open (MUST-37), as before.
func TestHalfClosedZeroWindowNotOrphan(t *testing.T) {
	f := establishedWith(t, testConfig(), "<SEQ=300><ACK=101><CTL=SYN,ACK><MSS=1000><WND=4000>")
	f.step(0, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", Established)
	f.write([]byte("queued reply"))
	f.expect(Established)
	f.close()
	f.expect(FinWait1)
	for i := 0; i < 30; i++ {
		f.advance(f.deadline())
		f.out.segs = nil
		f.step(f.now+10*time.Millisecond, "<SEQ=301><ACK=101><CTL=ACK><WND=0>", FinWait1)
	}
}
