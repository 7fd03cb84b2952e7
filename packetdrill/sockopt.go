package packetdrill

import (
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// Adapters for knobs other branches are adding to stack.Conn: they are
// used through an interface, so the runner picks them up once merged, and
// fall back to what exists now (the per-connection options in force from
// the SYN, which cover a socket not yet connected).
type (
	bufferSetter interface {
		SetReadBuffer(int) error
		SetWriteBuffer(int) error
	}
	userTimeoutSetter interface{ SetUserTimeout(time.Duration) error }
)

func setReadBuffer(c *stack.Conn, n int) error {
	if b, ok := any(c).(bufferSetter); ok {
		return b.SetReadBuffer(n)
	}
	return skipf("SO_RCVBUF on a connected socket: synack has no Conn.SetReadBuffer yet")
}

func setWriteBuffer(c *stack.Conn, n int) error {
	if b, ok := any(c).(bufferSetter); ok {
		return b.SetWriteBuffer(n)
	}
	return skipf("SO_SNDBUF on a connected socket: synack has no Conn.SetWriteBuffer yet")
}

func setUserTimeout(c *stack.Conn, d time.Duration) error {
	if u, ok := any(c).(userTimeoutSetter); ok {
		return u.SetUserTimeout(d)
	}
	return skipf("TCP_USER_TIMEOUT: synack has no Conn.SetUserTimeout yet")
}

// optValue is the integer a setsockopt passes ([1], 1, {onoff=1, linger=0}).
func (r *runner) optValue(e Expr) (int64, bool) {
	if e.Kind == ExprList && len(e.Elems) == 1 {
		e = e.Elems[0]
	}
	return r.evalInt(e)
}

// onConn runs f on the socket's connection now, or on the connection it
// gets from connect() or accept() later.
func (s *sock) onConn(f func(*stack.Conn) error) error {
	if s.c != nil {
		return f(s.c)
	}
	s.deferred = append(s.deferred, f)
	return nil
}

func sysSetsockopt(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	s, found := r.sockArg(c)
	if !found {
		return immediate(fail(syscall.EBADF))
	}
	if len(c.Args) < 4 || c.Args[2].Kind != ExprWord {
		return nil, skipf("setsockopt() arguments not understood")
	}
	name := c.Args[2].Word
	arg := c.Args[3]
	if name == "SO_LINGER" {
		on, sec, okv := r.linger(arg)
		if !okv {
			return nil, skipf("SO_LINGER value not understood")
		}
		if on {
			if err := s.onConn(func(c *stack.Conn) error { return c.SetLinger(int(sec)) }); err != nil {
				return nil, err
			}
		}
		return immediate(ok(0))
	}
	if name == "TCP_CONGESTION" {
		if arg.Kind != ExprString {
			return nil, skipf("TCP_CONGESTION value not understood")
		}
		cc := arg.Word
		if cc == "reno" {
			cc = "newreno"
		}
		if _, err := tcp.NewCongestion(cc); err != nil {
			return immediate(fail(syscall.ENOENT))
		}
		if err := s.onConn(func(c *stack.Conn) error { return c.SetCongestionControl(cc) }); err != nil {
			return nil, err
		}
		return immediate(ok(0))
	}
	v, okv := r.optValue(arg)
	if !okv {
		return nil, skipf("setsockopt(%s) value not understood", name)
	}
	if err := r.setOpt(s, name, v); err != nil {
		return nil, err
	}
	s.flags[name] = v
	return immediate(ok(0))
}

func (r *runner) setOpt(s *sock, name string, v int64) error {
	preConnect := s.c == nil
	sec := time.Duration(v) * time.Second
	switch name {
	case "SO_REUSEADDR", "SO_REUSEPORT":
	case "SO_KEEPALIVE":
		return s.onConn(func(c *stack.Conn) error { return c.SetKeepAlive(v != 0) })
	case "TCP_NODELAY":
		return s.onConn(func(c *stack.Conn) error { return c.SetNoDelay(v != 0) })
	case "TCP_CORK":
		return s.onConn(func(c *stack.Conn) error { return c.SetCork(v != 0) })
	case "TCP_KEEPIDLE":
		return s.onConn(func(c *stack.Conn) error {
			return c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: c.KeepAliveConfig().Enable, Idle: sec})
		})
	case "TCP_KEEPINTVL":
		return s.onConn(func(c *stack.Conn) error {
			return c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: c.KeepAliveConfig().Enable, Interval: sec})
		})
	case "TCP_KEEPCNT":
		return s.onConn(func(c *stack.Conn) error {
			return c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: c.KeepAliveConfig().Enable, Count: int(v)})
		})
	case "TCP_LINGER2":
		return s.onConn(func(c *stack.Conn) error { return c.SetFinWait2Timeout(sec) })
	case "TCP_USER_TIMEOUT":
		return s.onConn(func(c *stack.Conn) error { return setUserTimeout(c, time.Duration(v)*time.Millisecond) })
	case "TCP_MAXSEG", "SO_RCVBUF", "SO_SNDBUF", "TCP_NOOPT", "TCP_KEEPINIT":
		if !preConnect {
			switch name {
			case "SO_RCVBUF":
				return setReadBuffer(s.c, int(v))
			case "SO_SNDBUF":
				return setWriteBuffer(s.c, int(v))
			}
			return skipf("%s after connect() or accept(): synack fixes it at the SYN", name)
		}
		switch name {
		case "TCP_MAXSEG":
			s.opts.MSS, s.maxseg, r.maxseg = int(v), int(v), int(v)
		case "SO_RCVBUF":
			s.opts.RecvBuf, s.rcvbuf = int(v), int(v)
		case "SO_SNDBUF":
			s.opts.SendBuf, s.sndbuf = int(v), int(v)
		case "TCP_NOOPT":
			s.opts.NoOptions = v != 0
		case "TCP_KEEPINIT":
			s.opts.SynTimeout = sec
		}
		if s.ln != nil {
			s.ln.SetConnOptions(s.opts)
		}
	default:
		return skipf("socket option %s is not supported", name)
	}
	return nil
}

func (r *runner) linger(e Expr) (on bool, sec int64, okv bool) {
	if e.Kind != ExprStruct {
		return false, 0, false
	}
	for _, f := range e.Elems {
		if f.Kind != ExprAssign {
			return false, 0, false
		}
		v, _ := r.evalInt(f.Elems[0])
		switch f.Word {
		case "onoff", "l_onoff":
			on = v != 0
		case "linger", "l_linger":
			sec = v
		}
	}
	return on, sec, true
}

func sysGetsockopt(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	s, found := r.sockArg(c)
	if !found {
		return immediate(fail(syscall.EBADF))
	}
	if len(c.Args) < 4 || c.Args[2].Kind != ExprWord {
		return nil, skipf("getsockopt() arguments not understood")
	}
	name := c.Args[2].Word
	want := c.Args[3]
	var got int64
	portable := false // a value the implementation chooses
	switch name {
	case "SO_ERROR":
		if s.c != nil && !s.reportErr {
			if err := s.c.SocketError(); err != nil {
				got = int64(errnoOf(err))
				s.reportErr = true
			}
		}
	case "SO_RCVBUF", "SO_SNDBUF":
		portable = true
		switch {
		case s.c != nil && name == "SO_RCVBUF":
			got = int64(s.c.Status().RecvBuf)
		case s.c != nil:
			got = int64(s.c.Status().SendBuf)
		case name == "SO_RCVBUF" && s.rcvbuf > 0:
			got = int64(s.rcvbuf)
		case name == "SO_RCVBUF":
			got = int64(r.cfg.stack.TCP.RecvBuf)
		case s.sndbuf > 0:
			got = int64(s.sndbuf)
		default:
			got = int64(r.cfg.stack.TCP.SendBuf)
		}
	case "TCP_MAXSEG":
		switch {
		case s.c != nil && s.c.State() >= tcp.Established:
			got = int64(s.c.Status().SendMSS)
		case s.maxseg > 0:
			got = int64(s.maxseg)
		default:
			portable = true
			got = int64(r.mtu - 40)
		}
	case "TCP_NODELAY", "SO_KEEPALIVE", "SO_REUSEADDR", "TCP_CORK":
		got = s.flags[name]
	case "TCP_LINGER2":
		if s.c == nil {
			return nil, skipf("getsockopt(TCP_LINGER2) before connect")
		}
		got = int64(s.c.FinWait2Timeout() / time.Second)
	case "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT":
		if s.c == nil {
			return nil, skipf("getsockopt(%s) before connect", name)
		}
		kc := s.c.KeepAliveConfig()
		got = map[string]int64{"TCP_KEEPIDLE": int64(kc.Idle / time.Second),
			"TCP_KEEPINTVL": int64(kc.Interval / time.Second), "TCP_KEEPCNT": int64(kc.Count)}[name]
	case "TCP_INFO":
		if w := want; w.Kind == ExprEllipsis || (w.Kind == ExprList && len(w.Elems) == 1 && w.Elems[0].Kind == ExprEllipsis) {
			return immediate(ok(0))
		}
		if err := r.checkTCPInfo(s, want); err != nil {
			return nil, err
		}
		return immediate(ok(0))
	default:
		return nil, skipf("socket option %s is not supported", name)
	}
	if portable && !r.opt.Strict {
		if got <= 0 {
			return nil, failf("getsockopt(%s) gave %d, expected a positive size", name, got)
		}
		return immediate(ok(0))
	}
	if err := r.checkOut(want, got, fmt.Sprintf("getsockopt(%s)", name)); err != nil {
		return nil, err
	}
	return immediate(ok(0))
}

// checkTCPInfo compares getsockopt(TCP_INFO)'s {tcpi_x=N, ...} with the
// fields synack's Status has.
func (r *runner) checkTCPInfo(s *sock, want Expr) error {
	if want.Kind != ExprStruct {
		return skipf("getsockopt(TCP_INFO) value not understood")
	}
	r.last = s
	for _, f := range want.Elems {
		if f.Kind != ExprAssign {
			if f.Kind == ExprEllipsis {
				continue
			}
			return skipf("getsockopt(TCP_INFO) field not understood")
		}
		w, okv := r.evalInt(f.Elems[0])
		if !okv {
			return skipf("getsockopt(TCP_INFO): %s value not understood", f.Word)
		}
		got, err := r.tcpInfo(f.Word)
		if err != nil {
			return err
		}
		if got != w {
			return failf("getsockopt(TCP_INFO): %s is %d, expected %d", f.Word, got, w)
		}
	}
	return nil
}

// oNonblock is O_NONBLOCK in the script's dialect.
func (r *runner) oNonblock() int64 {
	if r.dialect == DialectFreeBSD {
		return 0x4
	}
	return 0x800
}

// evalInt evaluates an integer expression: numbers, constants, A|B.
func (r *runner) evalInt(e Expr) (int64, bool) {
	switch e.Kind {
	case ExprInt:
		return e.Int, true
	case ExprWord:
		if e.Word == "O_NONBLOCK" {
			return r.oNonblock(), true
		}
		if v, ok := constants[e.Word]; ok {
			return v, true
		}
		if v, ok := errnos[e.Word]; ok {
			return int64(v), true
		}
	case ExprOr:
		var v int64
		for _, x := range e.Elems {
			n, ok := r.evalInt(x)
			if !ok {
				return 0, false
			}
			v |= n
		}
		return v, true
	case ExprList:
		if len(e.Elems) == 1 {
			return r.evalInt(e.Elems[0])
		}
	}
	return 0, false
}

var constants = map[string]int64{
	"O_RDWR": 2, "O_RDONLY": 0, "O_WRONLY": 1,
	"POLLIN": pollIn, "POLLOUT": pollOut, "POLLERR": pollErr, "POLLHUP": pollHup,
	"SHUT_RD": 0, "SHUT_WR": 1, "SHUT_RDWR": 2,
	"TCPI_ESTABLISHED": 1,
}

var errnos = map[string]syscall.Errno{
	"EINPROGRESS": syscall.EINPROGRESS, "EAGAIN": syscall.EAGAIN, "EWOULDBLOCK": syscall.EWOULDBLOCK,
	"ECONNRESET": syscall.ECONNRESET, "ECONNREFUSED": syscall.ECONNREFUSED, "ETIMEDOUT": syscall.ETIMEDOUT,
	"EPIPE": syscall.EPIPE, "ENOTCONN": syscall.ENOTCONN, "EINVAL": syscall.EINVAL, "EBADF": syscall.EBADF,
	"EALREADY": syscall.EALREADY, "EISCONN": syscall.EISCONN, "EADDRINUSE": syscall.EADDRINUSE,
	"EOPNOTSUPP": syscall.EOPNOTSUPP, "ENOPROTOOPT": syscall.ENOPROTOOPT,
	"EPROTONOSUPPORT": syscall.EPROTONOSUPPORT, "ESOCKTNOSUPPORT": syscall.ESOCKTNOSUPPORT,
	"ENOENT": syscall.ENOENT, "EFAULT": syscall.EFAULT, "EIO": syscall.EIO, "ECONNABORTED": syscall.ECONNABORTED,
}

func errnoName(e syscall.Errno) string {
	if e == 0 {
		return ""
	}
	for n, v := range errnos {
		if v == e && n != "EWOULDBLOCK" {
			return n
		}
	}
	return fmt.Sprintf("errno %d", int(e))
}
