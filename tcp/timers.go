package tcp

import "time"

// NextDeadline is the earliest instant at which Tick has work; ok is false
// when no timer is armed.
func (c *TCB) NextDeadline() (at time.Duration, ok bool) {
	var pto, reo time.Duration
	if c.rack != nil {
		pto, reo = c.rack.ptoAt, c.rack.reoAt
	}
	for _, d := range [...]time.Duration{c.rtoAt, c.persistAt, c.delackAt, c.timeWaitAt, c.keepaliveAt, pto, reo} {
		if d != 0 && (!ok || d < at) {
			at, ok = d, true
		}
	}
	if d, armed := c.userTimeoutAt(); armed && (!ok || d < at) {
		at, ok = d, true
	}
	if d, armed := c.synTimeoutAt(); armed && (!ok || d < at) {
		at, ok = d, true
	}
	return at, ok
}

// synTimeoutAt is when Config.SynTimeout ends an active open that has not
// reached ESTABLISHED: a deadline of its own, as FreeBSD's connection
// establishment timer (TCP_KEEPINIT), where R2Syn is checked at the
// retransmission timeouts.
func (c *TCB) synTimeoutAt() (time.Duration, bool) {
	if c.cfg.SynTimeout <= 0 || c.passive || c.state != SynSent && c.state != SynReceived {
		return 0, false
	}
	return c.synSent + c.cfg.SynTimeout, true
}

// userTimeoutAt is when the user timeout (MUST-21) ends the connection:
// UserTimeout after the flight's oldest data went out or was last
// acknowledged in part, after the first SYN, or after the last acceptable
// ACK while the peer's window holds data back. It is a deadline of its
// own, not a check at the next retransmission, so the connection gives up
// at the time the user set, as Linux's TCP_USER_TIMEOUT does.
func (c *TCB) userTimeoutAt() (time.Duration, bool) {
	ut := c.cfg.UserTimeout
	switch {
	case ut <= 0 || c.state == Closed || c.state == Listen || c.state == TimeWait:
		return 0, false
	case c.state == SynSent || c.state == SynReceived:
		return c.synSent + ut, c.snd.una != c.snd.max
	case c.snd.una != c.snd.max:
		return c.unaSince + ut, true
	case c.persisting:
		return max(c.persistT0, c.ackedAt) + ut, true
	}
	return 0, false
}

// SetUserTimeout sets the connection's user timeout (MUST-21: the
// application chooses R2 per connection, as TCP_USER_TIMEOUT does); zero
// returns to R2.
func (c *TCB) SetUserTimeout(d time.Duration) { c.cfg.UserTimeout = max(d, 0) }

// orphaned reports whether the user has fully closed the connection while
// it still has data or its FIN to deliver (OrphanRetries bounds it).
func (c *TCB) orphaned() bool {
	switch c.state {
	case FinWait1, Closing, LastAck:
		return c.readClosed
	}
	return false
}

// Tick runs the timers that are due at now (RFC 9293 3.10.8) and sends
// what they call for.
func (c *TCB) Tick(now time.Duration) {
	if c.timeWaitAt != 0 && now >= c.timeWaitAt {
		cause := CauseTimeWait // TIME-WAIT timeout: delete the TCB
		if c.state == FinWait2 {
			cause = CauseFinWait2
		}
		c.setState(Closed, cause)
		return
	}
	if at, ok := c.userTimeoutAt(); ok && now >= at {
		switch {
		case c.state == SynReceived && c.passive:
			c.backToListen(ErrTimeout, CauseUserTimeout)
		case c.snd.una == c.snd.max: // only the peer's shut window holds data back
			c.fail(ErrTimeout, CausePersist)
		default:
			c.fail(ErrTimeout, CauseUserTimeout)
		}
		return
	}
	if at, ok := c.synTimeoutAt(); ok && now >= at {
		c.fail(ErrTimeout, CauseRetransmit)
		return
	}
	c.rackTick(now) // RFC 8985: the probe timeout and the reordering timer
	if c.rtoAt != 0 && now >= c.rtoAt {
		c.onRTO(now)
		if c.state == Closed {
			return
		}
	}
	if c.persistAt != 0 && now >= c.persistAt {
		c.onPersist(now)
	}
	if c.delackAt != 0 && now >= c.delackAt {
		c.delackAt = 0
		c.ackNow = true
	}
	if c.keepaliveAt != 0 && now >= c.keepaliveAt {
		c.onKeepalive(now)
		if c.state == Closed {
			return
		}
	}
	c.Flush(now)
}

// onKeepalive sends a keep-alive probe, <SEQ=SND.UNA-1><ACK=RCV.NXT> with
// no data (RFC 9293 3.8.4, SHLD-12), only when nothing is outstanding and
// nothing has arrived for the idle time (MUST-26), and drops the connection
// after KeepAliveCount unanswered probes (MUST-29: one is not enough).
func (c *TCB) onKeepalive(now time.Duration) {
	c.keepaliveAt = 0
	if !c.cfg.KeepAlive || (c.state != Established && c.state != CloseWait) {
		return
	}
	if c.snd.una != c.snd.max || c.sb.n > 0 {
		c.keepaliveAt = now + c.cfg.KeepAliveIdle // the retransmission timer watches this
		return
	}
	if c.kaProbes >= c.cfg.KeepAliveCount {
		c.fail(ErrTimeout, CauseKeepalive)
		return
	}
	c.kaProbes++
	c.stats.KeepAliveProbes++
	c.sendProbe(now)
	c.keepaliveAt = now + c.cfg.KeepAliveInterval
}

// heardFrom notes an acceptable segment: the keep-alive clock restarts.
func (c *TCB) heardFrom(now time.Duration) {
	c.kaProbes = 0
	if c.cfg.KeepAlive {
		c.keepaliveAt = now + c.cfg.KeepAliveIdle
	}
}

// SetKeepAlive turns keep-alive on or off (MUST-24); a positive idle also
// sets the idle time and the probe interval, as package net's
// SetKeepAlivePeriod does.
func (c *TCB) SetKeepAlive(now time.Duration, on bool, idle time.Duration) {
	c.cfg.KeepAlive = on
	if idle > 0 {
		c.cfg.KeepAliveIdle, c.cfg.KeepAliveInterval = idle, idle
	}
	c.keepaliveAt = 0
	if on && c.state.synchronized() {
		c.keepaliveAt = now + c.cfg.KeepAliveIdle
	}
}

// KeepAliveOn reports whether keep-alive is on.
func (c *TCB) KeepAliveOn() bool { return c.cfg.KeepAlive }

// SetNoDelay turns Nagle's algorithm off (true) or on (MUST-17).
func (c *TCB) SetNoDelay(now time.Duration, on bool) {
	c.cfg.NoDelay = on
	if on {
		c.Flush(now)
	}
}

// SetCork holds back partial segments while on; turning it off sends them.
func (c *TCB) SetCork(now time.Duration, on bool) {
	c.corked = on
	if !on {
		c.Flush(now)
	}
}

// giveUpAfter is how long retransmissions go unanswered before the
// connection gives up: the user timeout if set (MUST-21), else R2Syn for a
// SYN (MUST-23) or R2 (MUST-20).
func (c *TCB) giveUpAfter(syn bool) time.Duration {
	switch {
	case c.cfg.UserTimeout > 0:
		return c.cfg.UserTimeout
	case syn:
		return c.cfg.R2Syn
	}
	return c.cfg.R2
}

// synAckRetries is how many times a passive SYN-RECEIVED connection
// retransmits its SYN,ACK.
const synAckRetries = 5

// onRTO is the retransmission timeout (RFC 6298 5.4-5.7) with the R2 limit
// (MUST-20, MUST-22, MUST-23; UserTimeout replaces R2: MUST-21).
func (c *TCB) onRTO(now time.Duration) {
	c.rtoAt = 0
	if c.snd.una == c.snd.max {
		return
	}
	c.stats.RTOExpirations++
	syn := c.state == SynSent || c.state == SynReceived
	limit, start := c.giveUpAfter(syn), c.firstRtx
	if syn {
		start = c.synSent
	}
	if c.retrans == 0 && !syn {
		c.firstRtx, start = now, now
	}
	if c.orphaned() && c.retrans >= c.cfg.OrphanRetries {
		c.fail(ErrTimeout, CauseOrphan) // nobody will read: bounded like Linux's orphans
		return
	}
	// A passive half-open gives up after synAckRetries retransmissions of
	// its SYN,ACK (1+2+4+8+16+32 s, about 63 s, as Linux's
	// tcp_synack_retries), not R2Syn: a spoofed SYN must not hold a
	// listener's SYN queue slot for minutes. (One the user has SENT or
	// CLOSEd on is the user's, and retries as an active open does.)
	halfOpen := c.state == SynReceived && c.passive && c.cfg.UserTimeout == 0 && !c.userCalled()
	if now-start >= limit || (halfOpen && c.retrans >= synAckRetries) {
		cause := CauseRetransmit
		if c.cfg.UserTimeout > 0 {
			cause = CauseUserTimeout
		}
		if c.state == SynReceived && c.passive {
			c.backToListen(ErrTimeout, cause)
			return
		}
		c.fail(ErrTimeout, cause)
		return
	}
	c.retrans++
	if c.state == SynSent && c.cfg.SynOptRetries > 0 && c.retrans > int(c.cfg.SynOptRetries) {
		// Config.SynOptRetries: for a path that drops SYNs with options it
		// does not know, the SYN goes on with the MSS option alone
		// (SHLD-5), and with the TCB's configuration cleared, a SYN,ACK
		// offering the three anyway negotiates none of them.
		c.cfg.WindowScale, c.cfg.Timestamps, c.cfg.SACK = false, false, false
	}
	c.plpOnRTO(now) // RFC 4821 7.7: black-hole detection
	c.lastRTOTS, c.rtoSeen = c.tsNow(now), true
	c.rtt.backoff()
	c.rtt.cancel()
	c.cc.OnTimeout(now, c.ccState())
	c.inRecov, c.dupAcks = false, 0
	c.recover = c.snd.max
	c.snd.nxt = c.snd.una // go back: resend from the oldest unacknowledged byte
	c.rackOnRTO()
}

// onPersist sends a zero-window probe, or, when the window is open but too
// small for silly-window avoidance, what fits (the override timeout of
// 3.8.6.2.1), then re-arms with exponential backoff.
//
// MUST-37 keeps the connection open as long as the probes are answered.
// When they are not (the peer is gone, or every answer is discarded, as
// PAWS does after a corrupted timestamp that the checksum missed), the
// probes are retransmissions like any other and give up after R2 (or the
// user timeout) without an acceptable ACK, as Linux gives up after
// tcp_retries2 unanswered probes.
func (c *TCB) onPersist(now time.Duration) {
	c.persistAt = 0
	off := int(c.snd.nxt.Sub(c.sndHead))
	avail := c.sb.n - off
	if avail <= 0 || c.snd.nxt != c.snd.una { // as in armPersist
		return
	}
	if w := c.usableWindow(); w > 0 {
		c.sendSegment(now, c.snd.nxt, min(avail, w, c.snd.mss), false)
		return
	}
	if c.cfg.PersistTimeout > 0 && c.persisting && now-c.persistT0 >= c.cfg.PersistTimeout {
		c.fail(ErrTimeout, CausePersist)
		return
	}
	if c.persisting && now-max(c.persistT0, c.ackedAt) >= c.giveUpAfter(false) {
		c.fail(ErrTimeout, CausePersist)
		return
	}
	if c.orphaned() && c.persistExp >= uint(c.cfg.OrphanRetries) {
		// MUST-37 keeps a connection open while its probes are answered,
		// for a user who may still be waiting; an orphan has none, and a
		// peer holding its window shut must not hold it for ever.
		c.fail(ErrTimeout, CauseOrphan)
		return
	}
	c.sendProbe(now)
	c.stats.ZeroWindowProbes++
	c.persistExp++
	c.persistAt = now + c.persistBackoff()
}
