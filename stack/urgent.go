package stack

// Urgent data (RFC 9293 3.8.5). synack keeps urgent bytes in the stream,
// as a socket with SO_OOBINLINE does: the urgent pointer only says where
// they end. New applications should not use it (SHLD-13); it is here for
// the protocols that do (telnet, rlogin, FTP's ABOR).

// WriteUrgent is Write with the URGENT flag (3.10.2): it returns when all
// of b is in the send buffer, and the urgent pointer marks the end of b,
// so the peer learns of it (URG) before the bytes reach it.
func (c *Conn) WriteUrgent(b []byte) (int, error) { return c.write(b, true) }

// UrgentMark reports whether the peer has sent urgent data not yet read
// (MUST-33) and how many bytes Read must return before its end (the
// bytes may still be on their way). A Read never returns bytes from both
// sides of the mark, so after reading n bytes the urgent data is
// consumed, as SIOCATMARK tells a socket user.
func (c *Conn) UrgentMark() (n int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.UrgentMark()
}

// Urgent returns a channel that receives a value whenever the peer's
// urgent pointer advances (MUST-32: asynchronous notice, as SIGURG is for
// a socket). One value stands for any number of advances since the last
// receive; UrgentMark says where the urgent data now ends.
func (c *Conn) Urgent() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.urg == nil {
		c.urg = make(chan struct{}, 1)
		if _, ok := c.tcb.UrgentMark(); ok {
			c.urg <- struct{}{} // urgent data came before anyone asked
		}
	}
	return c.urg
}

// notifyUrgent passes the TCB's urgent signal on (with c.mu held).
func (c *Conn) notifyUrgent() {
	if c.tcb.TakeUrgentSignal() && c.urg != nil {
		notify(c.urg)
	}
}
