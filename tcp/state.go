package tcp

import "github.com/synack-tcp/synack/wire"

// State is a connection state (RFC 9293 3.3.2).
type State uint8

// The eleven states.
const (
	Closed State = iota
	Listen
	SynSent
	SynReceived
	Established
	FinWait1
	FinWait2
	Closing
	TimeWait
	CloseWait
	LastAck
)

var stateNames = [...]string{
	Closed:      "CLOSED",
	Listen:      "LISTEN",
	SynSent:     "SYN-SENT",
	SynReceived: "SYN-RECEIVED",
	Established: "ESTABLISHED",
	FinWait1:    "FIN-WAIT-1",
	FinWait2:    "FIN-WAIT-2",
	Closing:     "CLOSING",
	TimeWait:    "TIME-WAIT",
	CloseWait:   "CLOSE-WAIT",
	LastAck:     "LAST-ACK",
}

// String returns the state in RFC spelling.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "UNKNOWN"
}

// synchronized reports whether the state is past the handshake: the RFC's
// "synchronized states" (3.5.2), in which a reset must carry an exact
// sequence number.
func (s State) synchronized() bool { return s >= Established }

// Cause says in words why a transition happened: "user CLOSE",
// "rcv SYN,ACK", "timeout 2MSL".
type Cause string

// Causes of transitions that do not come from a segment.
const (
	CauseOpenActive  Cause = "user OPEN (active)"
	CauseOpenPassive Cause = "user OPEN (passive)"
	CauseClose       Cause = "user CLOSE"
	CauseAbort       Cause = "user ABORT"
	CauseTimeWait    Cause = "timeout 2MSL"
	CauseRetransmit  Cause = "timeout retransmit (R2)"
	CauseUserTimeout Cause = "timeout user"
	CauseKeepalive   Cause = "timeout keepalive"
	CausePersist     Cause = "timeout zero window"
	CauseFinWait2    Cause = "timeout FIN-WAIT-2"
	CauseOrphan      Cause = "timeout orphan retries"
)

// rcvCause holds "rcv FLAGS" for every flag combination, built once so a
// transition caused by a segment allocates nothing.
var rcvCause [256]Cause

func init() {
	for i := range rcvCause {
		f := wire.Flags(i) &^ wire.PSH // PSH never explains a transition
		rcvCause[i] = Cause("rcv " + f.String())
	}
}

func causeOf(f wire.Flags) Cause { return rcvCause[f] }

// legal is every transition RFC 9293's Figure 5 and 3.10 allow, plus a
// passive SYN-RECEIVED's return to LISTEN (3.10.7.4, an RST or a SYN) and
// synack's FIN-WAIT-2 timeout (FIN-WAIT-2 -> CLOSED).
var legal = [...]uint16{
	Closed:      1<<Listen | 1<<SynSent,
	Listen:      1<<SynReceived | 1<<SynSent | 1<<Closed,
	SynSent:     1<<SynReceived | 1<<Established | 1<<Closed,
	SynReceived: 1<<Established | 1<<FinWait1 | 1<<CloseWait | 1<<Listen | 1<<Closed,
	Established: 1<<FinWait1 | 1<<CloseWait | 1<<Closed,
	FinWait1:    1<<FinWait2 | 1<<Closing | 1<<TimeWait | 1<<Closed,
	FinWait2:    1<<TimeWait | 1<<Closed,
	Closing:     1<<TimeWait | 1<<Closed,
	TimeWait:    1 << Closed,
	CloseWait:   1<<LastAck | 1<<Closed,
	LastAck:     1 << Closed,
}

// LegalTransition reports whether from -> to is a transition of RFC
// 9293's state diagram (Figure 5 and the rules of 3.10), as synack
// implements it. Every transition a TCB reports is one; the fuzz targets
// and the simulation harness check it.
func LegalTransition(from, to State) bool {
	return int(from) < len(legal) && to < 16 && legal[from]&(1<<to) != 0
}
