package tcp

import (
	"errors"
	"testing"
)

// A passive half-open connection gives up after five SYN,ACK
// retransmissions (63 s). Normally it returns to LISTEN (MUST-11); but
// one the user already wrote to (or closed) must not: its data would be
// dropped silently, and a stale SYN arriving later would open a stream
// without it (found by FuzzConnPair). It ends in CLOSED, timed out.
func TestHalfOpenWithDataGivesUpToClosed(t *testing.T) {
	f := inState(t, testConfig(), SynReceived)
	f.write([]byte("queued"))
	f.expectRetransmissionsAt(SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>",
		1*sec, 3*sec, 7*sec, 15*sec, 31*sec)
	f.step(63*sec, "", Closed)
	if !errors.Is(f.c.Err(), ErrTimeout) || f.lastCause() != CauseRetransmit {
		t.Fatalf("Err %v cause %q", f.c.Err(), f.lastCause())
	}

	g := inState(t, testConfig(), SynReceived)
	g.close()
	g.expectRetransmissionsAt(SynReceived, "<SEQ=300><ACK=101><CTL=SYN,ACK>",
		1*sec, 3*sec, 7*sec, 15*sec, 31*sec)
	g.step(63*sec, "", Closed)
}
