// Package tcp is synack's sans-IO Transmission Control Block: one TCP
// connection as RFC 9293 describes it, with the extensions a modern TCP
// needs, and nothing else. It does no I/O of its own.
//
// Nothing here reads a clock, starts a goroutine or takes a lock. Every
// call that can change a TCB takes now (a time.Duration since the stack's
// epoch); segments go out through the Sender the TCB was built with, during
// the call; NextDeadline says when the caller must call Tick next. A TCB is
// not safe for concurrent use: package stack holds the connection's lock
// around every call. The steady-state segment path allocates nothing.
//
// The user calls of RFC 9293 3.10 are methods: OpenActive and OpenPassive
// (OPEN, 3.10.1), Send (3.10.2), Receive (3.10.3), Close and CloseRead
// (3.10.4), Abort (3.10.5), Status (3.10.6). SEGMENT ARRIVES (3.10.7) is
// Segment, or Input for each segment of a batch followed by one Flush. The
// timeouts of 3.10.8 run from Tick. Every state change is reported to the
// callback given to New with its cause (Cause: "rcv SYN,ACK", "user CLOSE",
// "timeout 2MSL"); LegalTransition is the diagram they all follow.
//
// Where each part lives, and what it implements:
//
//	file           what                                         RFC
//	state.go       the eleven states, causes, legal transitions 9293 3.3.2, Figure 5
//	tcb.go         Config and defaults, the TCB and its         9293 3.3.1, 3.10.1-3.10.6
//	               sequence variables, user calls, Status
//	arrive.go      SEGMENT ARRIVES: one dispatcher, one short   9293 3.10.7.1-3.10.7.4;
//	               function per state, the sequence check,      5961 (RST, SYN, ACK checks,
//	               RST/SYN/ACK/URG/text/FIN steps in order      challenge ACK throttling)
//	output.go      what to send: SYN, data under the windows,   9293 3.8.6 (SWS, MUST-38),
//	               Nagle and cork, ACKs, resets, zero-window    3.7.4 (Nagle), 3.8.6.1;
//	               probes, the window field                     7323 2 (window scale)
//	timers.go      NextDeadline, Tick: retransmission, persist, 9293 3.10.8; 3.8.3 (R1/R2,
//	               keep-alive, TIME-WAIT, FIN-WAIT-2 timeout;   MUST-20..23); 3.8.4 (keep-alive,
//	               R1/R2 and the user timeout                   MUST-24..29); 3.8.6.1 (persist)
//	timewait.go    TIME-WAIT as a compact record: re-ACK of the 9293 3.6.1, 3.10.7.4 (MUST-13,
//	               FIN, 2*MSL, resets ignored, reopening SYN    MAY-2, SHLD-4); 1337; 6191
//	ratelimit.go   one limit on every answer to an unacceptable 5961 7 (CVE-2016-5696)
//	               segment, per connection and stack-wide
//	cookie.go      SYN cookie SYN,ACKs and the TCB a valid      4987 3.6
//	               cookie rebuilds
//	icmp.go        ICMP errors to the TCB: soft, hard, path MTU 1122 4.2.3.9, 5461, 5927,
//	               (MUST-54, SHLD-25, SHLD-26)                  1191, 8201
//	plpmtud.go     packetization-layer path MTU discovery       4821, 8899
//	rtt.go         SRTT, RTTVAR, RTO, Karn, backoff             6298; 9293 3.8.1
//	timestamps.go  the timestamps option, RTTM and PAWS         7323 3-5
//	recovery.go    duplicate ACKs, fast retransmit and fast     5681 3.2, 6582 (NewReno),
//	               recovery, the entry to SACK recovery         6675 5
//	sack.go        SACK and D-SACK blocks sent; the bounded     2018, 2883, 6675
//	               scoreboard; SACK-based loss recovery
//	rack.go        RACK time-based loss detection and tail      8985
//	               loss probes
//	cc.go          the congestion control interface; NewReno;   5681, 6582, 6928 (IW10),
//	               slow start after idle, cwnd validation       7661
//	cubic.go       CUBIC (the default) with HyStart++           9438, 9406
//	ecn.go         ECN negotiation, ECE/CWR, reaction to CE     3168 6.1
//	autotune.go    send and receive buffer autotuning           (as Linux; 7323 2.3 for the shift)
//	ring.go        the send and receive byte rings
//	reasm.go       the out-of-order map (bounded ranges)        9293 3.10.7.4 step 7 (SHLD-31)
//	invariants.go  CheckInvariants, for tests, fuzzers and the simulation harness
//
// Comments cite the rule they implement by section and requirement id
// (RFC 9293 3.10.7.4, MUST-13, RFC 5961 3.2); the tests are organised the
// same way, one file per subsection of 3.10 (rfc_3_10_7_4_ack_test.go),
// written in the RFC's own notation (<SEQ=100><ACK=301><CTL=SYN,ACK>).
// docs/DESIGN.md, at the repository's root, describes how the layers fit.
package tcp
