package tcp

import "time"

// SetKeepAliveProbes sets the time between unanswered keep-alive probes
// and how many go unanswered before the connection is dropped (MUST-29:
// one is not enough, so a count below 1 keeps the current one). Zero
// values keep the current settings.
func (c *TCB) SetKeepAliveProbes(interval time.Duration, count int) {
	if interval > 0 {
		c.cfg.KeepAliveInterval = interval
	}
	if count > 0 {
		c.cfg.KeepAliveCount = count
	}
}

// SetKeepAliveIdle sets the idle time before the first keep-alive probe
// (MUST-27), re-arming the timer when keep-alive is on.
func (c *TCB) SetKeepAliveIdle(now time.Duration, idle time.Duration) {
	if idle <= 0 {
		return
	}
	c.cfg.KeepAliveIdle = idle
	if c.cfg.KeepAlive && c.state.synchronized() && c.kaProbes == 0 {
		c.keepaliveAt = now + idle
	}
}

// SetFinWait2Timeout bounds how long a fully closed connection waits in
// FIN-WAIT-2 for the peer's FIN (Linux's TCP_LINGER2). A connection
// already waiting there is re-armed from when its FIN was acknowledged.
func (c *TCB) SetFinWait2Timeout(d time.Duration) {
	if d <= 0 {
		return
	}
	c.cfg.FinWait2Timeout = d
	if c.state == FinWait2 && c.readClosed {
		c.timeWaitAt = c.finWait2From + d
	}
}

// FinWait2Timeout is the connection's FIN-WAIT-2 bound.
func (c *TCB) FinWait2Timeout() time.Duration { return c.cfg.FinWait2Timeout }

// KeepAliveParams returns the keep-alive idle time, probe interval and
// probe count.
func (c *TCB) KeepAliveParams() (idle, interval time.Duration, count int) {
	return c.cfg.KeepAliveIdle, c.cfg.KeepAliveInterval, c.cfg.KeepAliveCount
}

// AdvertisedMSS is the MSS this side announces (and the most it sends).
func (c *TCB) AdvertisedMSS() int { return c.cfg.MSS }
