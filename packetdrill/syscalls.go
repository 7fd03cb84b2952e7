package packetdrill

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// sock is one of the script's file descriptors.
type sock struct {
	fd        int64
	nonblock  bool
	bound     bool
	ln        *stack.Listener
	c         *stack.Conn
	opts      stack.ConnOptions // set before connect/listen
	maxseg    int               // TCP_MAXSEG set by the script (checked exactly)
	deferred  []func(*stack.Conn) error
	reportErr bool // SO_ERROR already reported the connection's error
	rcvbuf    int
	sndbuf    int
	flags     map[string]int64 // plain socket options read back as set
}

// callResult is what a call returned.
type callResult struct {
	ret   int64
	errno syscall.Errno
}

// pendingCall is a blocking call in progress: it started at its line's
// time and returns when try reports done.
type pendingCall struct {
	ev     *Event
	end    time.Duration // when the script expects it to return
	hasEnd bool
	try    func() (callResult, bool, error)
}

func ok(ret int64) callResult                     { return callResult{ret: ret} }
func fail(e syscall.Errno) callResult             { return callResult{ret: -1, errno: e} }
func done(r callResult) (callResult, bool, error) { return r, true, nil }

// syscall runs one system call line.
func (r *runner) syscall(ev *Event, at, prev time.Duration) error {
	c := ev.Call
	h, known := syscalls[c.Name]
	if !known {
		return skipf("system call %s() is not supported", c.Name)
	}
	try, err := h(r, c)
	if err != nil {
		return err
	}
	p := &pendingCall{ev: ev, end: at, try: try}
	if c.EndTime != nil {
		p.hasEnd = true
		if c.EndTime.Kind == TimeRelative {
			p.end = prev + c.EndTime.At
		} else {
			p.end = c.EndTime.At
		}
	}
	r.pending = p
	if err := r.pollPending(); err != nil {
		return err
	}
	if r.pending != nil && !p.hasEnd {
		// A call the script does not expect to block must return within
		// the tolerance.
		return r.finishPending()
	}
	return nil
}

// pollPending completes the blocked call if it can return now.
func (r *runner) pollPending() error {
	p := r.pending
	if p == nil {
		return nil
	}
	res, fin, err := p.try()
	if err != nil {
		r.pending = nil
		return withLine(err, p.ev.Line)
	}
	if !fin {
		return nil
	}
	r.pending = nil
	now := r.clk.Now()
	r.trace("%s returned %d %v", p.ev.Call.Name, res.ret, errnoName(res.errno))
	if d := now - p.end; d > r.tol || d < -r.tol {
		return &failure{line: p.ev.Line, msg: fmt.Sprintf("%s() returned at %.6f s, expected at %.6f s (tolerance %v)",
			p.ev.Call.Name, now.Seconds(), p.end.Seconds(), r.tol)}
	}
	return withLine(r.checkRet(p.ev.Call, res), p.ev.Line)
}

func withLine(err error, line int) error {
	var f *failure
	if errors.As(err, &f) && f.line == 0 {
		f.line = line
	}
	return err
}

// finishPending runs the clock until the blocked call returns, or fails
// once it is later than the script allows.
func (r *runner) finishPending() error {
	p := r.pending
	limit := p.end + r.tol
	for r.pending == p {
		moved, err := r.step(limit)
		if err != nil {
			return err
		}
		if !moved {
			break
		}
	}
	if r.pending != p {
		return nil
	}
	r.clk.RunUntil(limit)
	if err := r.pollPending(); err != nil || r.pending != p {
		return err
	}
	r.pending = nil
	return &failure{line: p.ev.Line, msg: fmt.Sprintf("%s() still blocked at %.6f s; the script expects it to return at %.6f s",
		p.ev.Call.Name, limit.Seconds(), p.end.Seconds())}
}

// checkRet compares a call's result with the script's.
func (r *runner) checkRet(c *Syscall, got callResult) error {
	if c.Ret.Kind == ExprEllipsis {
		return nil
	}
	want, okv := r.evalInt(c.Ret)
	if !okv {
		return skipf("cannot read the expected result of %s()", c.Name)
	}
	if got.ret != want {
		return failf("%s() returned %d %s, expected %d %s", c.Name, got.ret, errnoName(got.errno), want, c.Errno)
	}
	if want == -1 && c.Errno != "" {
		e, known := errnos[c.Errno]
		if !known {
			return skipf("unknown errno %s", c.Errno)
		}
		if e != got.errno {
			return failf("%s() failed with %s, expected %s", c.Name, errnoName(got.errno), c.Errno)
		}
	}
	return nil
}

// sockArg is the socket named by a call's first argument.
func (r *runner) sockArg(c *Syscall) (*sock, bool) {
	if len(c.Args) == 0 {
		return nil, false
	}
	fd, okv := r.evalInt(c.Args[0])
	if !okv {
		return nil, false
	}
	s := r.socks[fd]
	if s != nil {
		r.last = s
	}
	return s, s != nil
}

type handler func(r *runner, c *Syscall) (func() (callResult, bool, error), error)

var syscalls map[string]handler

func init() {
	syscalls = map[string]handler{
		"socket": sysSocket, "bind": sysBind, "listen": sysListen, "accept": sysAccept,
		"connect": sysConnect, "close": sysClose, "shutdown": sysShutdown, "fcntl": sysFcntl,
		"read": sysRead, "recv": sysRead, "readv": sysRead, "recvfrom": sysRead,
		"write": sysWrite, "send": sysWrite, "writev": sysWrite, "sendto": sysWrite,
		"setsockopt": sysSetsockopt, "getsockopt": sysGetsockopt, "ioctl": sysIoctl, "poll": sysPoll,
	}
}

func immediate(res callResult) (func() (callResult, bool, error), error) {
	return func() (callResult, bool, error) { return done(res) }, nil
}

func sysSocket(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	if len(c.Args) < 3 {
		return nil, skipf("socket() needs three arguments")
	}
	if w := c.Args[1]; w.Kind == ExprWord && w.Word != "SOCK_STREAM" {
		return immediate(fail(syscall.ESOCKTNOSUPPORT))
	}
	if w := c.Args[2]; w.Kind == ExprWord && w.Word != "IPPROTO_TCP" {
		return immediate(fail(syscall.EPROTONOSUPPORT))
	}
	fd, okv := r.evalInt(c.Ret)
	if !okv || fd < 0 {
		fd = r.freeFD()
	}
	if r.socks[fd] != nil {
		fd = r.freeFD()
	}
	r.socks[fd] = &sock{fd: fd, flags: map[string]int64{}}
	r.last = r.socks[fd]
	return immediate(ok(fd))
}

func (r *runner) freeFD() int64 {
	fd := int64(3)
	for r.socks[fd] != nil {
		fd++
	}
	return fd
}

func sysBind(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	s, found := r.sockArg(c)
	if !found {
		return immediate(fail(syscall.EBADF))
	}
	if s.bound || s.c != nil {
		return immediate(fail(syscall.EINVAL))
	}
	s.bound = true
	return immediate(ok(0))
}

func sysListen(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	s, found := r.sockArg(c)
	if !found {
		return immediate(fail(syscall.EBADF))
	}
	if s.c != nil {
		return immediate(fail(syscall.EINVAL))
	}
	if s.ln != nil {
		return immediate(ok(0))
	}
	ln, err := r.st.ListenTCP("tcp", netip.AddrPortFrom(r.local, scriptPort).String())
	if err != nil {
		return immediate(fail(errnoOf(err)))
	}
	ln.SetConnOptions(s.opts)
	s.ln = ln
	r.lport = scriptPort
	return immediate(ok(0))
}

func sysAccept(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	s, found := r.sockArg(c)
	if !found {
		return immediate(fail(syscall.EBADF))
	}
	if s.ln == nil {
		return immediate(fail(syscall.EINVAL))
	}
	want, _ := r.evalInt(c.Ret)
	try := func() (callResult, bool, error) {
		conn, err := s.ln.TryAccept()
		if err != nil {
			return done(fail(errnoOf(err)))
		}
		if conn == nil {
			if s.nonblock {
				return done(fail(syscall.EAGAIN))
			}
			return callResult{}, false, nil
		}
		fd := want
		if fd < 0 || r.socks[fd] != nil {
			fd = r.freeFD()
		}
		ns := &sock{fd: fd, c: conn, opts: s.opts, maxseg: s.maxseg, flags: map[string]int64{}}
		for k, v := range s.flags {
			ns.flags[k] = v
		}
		for _, f := range s.deferred {
			if err := f(conn); err != nil {
				return callResult{}, true, err
			}
		}
		r.socks[fd] = ns
		r.last = ns
		r.conns = append(r.conns, conn)
		return done(ok(fd))
	}
	return try, nil
}

func sysConnect(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	s, found := r.sockArg(c)
	if !found {
		return immediate(fail(syscall.EBADF))
	}
	if s.c != nil {
		if s.c.State() >= tcp.Established {
			return immediate(fail(syscall.EISCONN))
		}
		return immediate(fail(syscall.EALREADY))
	}
	conn, err := r.st.OpenWithOptions(netip.AddrPortFrom(r.remote, scriptPort), s.opts)
	if err != nil {
		return immediate(fail(errnoOf(err)))
	}
	s.c = conn
	r.conns = append(r.conns, conn)
	r.lport, r.rport = conn.LocalAddrPort().Port(), scriptPort
	for _, f := range s.deferred {
		if err := f(conn); err != nil {
			return nil, err
		}
	}
	if s.nonblock {
		return immediate(fail(syscall.EINPROGRESS))
	}
	return func() (callResult, bool, error) {
		switch st := conn.State(); {
		case st == tcp.Closed:
			s.reportErr = true
			return done(fail(errnoOf(conn.SocketError())))
		case st >= tcp.Established:
			return done(ok(0))
		}
		return callResult{}, false, nil
	}, nil
}

func sysClose(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	s, found := r.sockArg(c)
	if !found {
		return immediate(fail(syscall.EBADF))
	}
	delete(r.socks, s.fd)
	if s.ln != nil {
		s.ln.Close()
	}
	if s.c != nil {
		s.c.Close()
	}
	return immediate(ok(0))
}

func sysShutdown(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	s, found := r.sockArg(c)
	if !found {
		return immediate(fail(syscall.EBADF))
	}
	if len(c.Args) < 2 || c.Args[1].Kind != ExprWord {
		return nil, skipf("shutdown() needs SHUT_RD, SHUT_WR or SHUT_RDWR")
	}
	if s.c == nil {
		return immediate(fail(syscall.ENOTCONN))
	}
	how := c.Args[1].Word
	if how == "SHUT_RD" || how == "SHUT_RDWR" {
		if err := s.c.CloseRead(); err != nil {
			return immediate(fail(errnoOf(err)))
		}
	}
	if how == "SHUT_WR" || how == "SHUT_RDWR" {
		if err := s.c.CloseWrite(); err != nil && !errors.Is(err, syscall.EPIPE) {
			return immediate(fail(errnoOf(err)))
		}
	}
	return immediate(ok(0))
}

func sysFcntl(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	s, found := r.sockArg(c)
	if !found {
		return immediate(fail(syscall.EBADF))
	}
	if len(c.Args) < 2 || c.Args[1].Kind != ExprWord {
		return nil, skipf("fcntl() command not understood")
	}
	nb := r.oNonblock()
	switch c.Args[1].Word {
	case "F_GETFL":
		fl := int64(2) // O_RDWR
		if s.nonblock {
			fl |= nb
		}
		return immediate(ok(fl))
	case "F_SETFL":
		if len(c.Args) < 3 {
			return immediate(fail(syscall.EINVAL))
		}
		v, okv := r.evalInt(c.Args[2])
		if !okv {
			return nil, skipf("fcntl(F_SETFL) flags not understood")
		}
		s.nonblock = v&nb != 0
		return immediate(ok(0))
	}
	return nil, skipf("fcntl(%s) is not supported", c.Args[1].Word)
}

// ioBytes is a read or write call's byte count: its third argument, or
// the total of readv's and writev's iovecs.
func (r *runner) ioBytes(c *Syscall) (int, bool) {
	if len(c.Args) < 3 {
		return 0, false
	}
	if c.Name != "readv" && c.Name != "writev" {
		n, okv := r.evalInt(c.Args[2])
		return int(n), okv && n >= 0 && n <= 1<<24
	}
	total := 0
	if a := c.Args[1]; a.Kind == ExprList {
		for _, e := range a.Elems {
			if e.Kind == ExprStruct && len(e.Elems) == 2 {
				v, okv := r.evalInt(e.Elems[1])
				if !okv || v < 0 || v > 1<<24 {
					return 0, false
				}
				total += int(v)
			}
		}
		return total, total > 0
	}
	return 0, false
}

// ioCall checks a read or write call's socket and length: EBADF for an
// unknown descriptor, notConn for one with no connection, a skip for a
// length the runner cannot work out; early is the call's result then.
func (r *runner) ioCall(c *Syscall, notConn syscall.Errno) (s *sock, n int, early func() (callResult, bool, error), err error) {
	s, found := r.sockArg(c)
	if !found {
		early, err = immediate(fail(syscall.EBADF))
		return nil, 0, early, err
	}
	n, okv := r.ioBytes(c)
	if !okv {
		return nil, 0, nil, skipf("%s() length not understood", c.Name)
	}
	if s.c == nil {
		early, err = immediate(fail(notConn))
		return nil, 0, early, err
	}
	return s, n, nil, nil
}

func sysRead(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	s, n, early, err := r.ioCall(c, syscall.ENOTCONN)
	if early != nil || err != nil {
		return early, err
	}
	buf := make([]byte, n)
	return func() (callResult, bool, error) {
		got, err := s.c.TryRead(buf)
		switch {
		case got > 0:
			return done(ok(int64(got)))
		case err == io.EOF:
			return done(ok(0))
		case err != nil:
			s.reportErr = true
			return done(fail(errnoOf(err)))
		case s.nonblock:
			return done(fail(syscall.EAGAIN))
		}
		return callResult{}, false, nil
	}, nil
}

func sysWrite(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	s, n, early, err := r.ioCall(c, syscall.EPIPE)
	if early != nil || err != nil {
		return early, err
	}
	buf := make([]byte, n)
	written := 0
	return func() (callResult, bool, error) {
		for written < n {
			got, err := s.c.TryWrite(buf[written:])
			written += got
			if err != nil {
				if written > 0 {
					return done(ok(int64(written)))
				}
				return done(fail(errnoOf(err)))
			}
			if got == 0 {
				break
			}
		}
		switch {
		case written == n:
			return done(ok(int64(n)))
		case s.nonblock && written > 0:
			return done(ok(int64(written)))
		case s.nonblock:
			return done(fail(syscall.EAGAIN))
		}
		return callResult{}, false, nil
	}, nil
}

func sysIoctl(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	s, found := r.sockArg(c)
	if !found {
		return immediate(fail(syscall.EBADF))
	}
	if len(c.Args) < 3 || c.Args[1].Kind != ExprWord || (c.Args[1].Word != "SIOCINQ" && c.Args[1].Word != "FIONREAD") {
		return nil, skipf("ioctl() request not supported")
	}
	if s.c == nil {
		return immediate(fail(syscall.EINVAL))
	}
	if err := r.checkOut(c.Args[2], int64(s.c.Status().RecvHeld), "ioctl(SIOCINQ)"); err != nil {
		return nil, err
	}
	return immediate(ok(0))
}

// checkOut compares a value the call writes back ([N]) with the script's.
func (r *runner) checkOut(e Expr, got int64, what string) error {
	if e.Kind == ExprList && len(e.Elems) == 1 {
		e = e.Elems[0]
	}
	if e.Kind == ExprEllipsis {
		return nil
	}
	want, okv := r.evalInt(e)
	if !okv {
		return skipf("%s: expected value not understood", what)
	}
	if want != got {
		return failf("%s gave %d, expected %d", what, got, want)
	}
	return nil
}

func sysPoll(r *runner, c *Syscall) (func() (callResult, bool, error), error) {
	if len(c.Args) < 3 || c.Args[0].Kind != ExprList {
		return nil, skipf("poll() arguments not understood")
	}
	timeout, _ := r.evalInt(c.Args[2])
	type pfd struct {
		s               *sock
		events, revents int64
		check           bool
	}
	var fds []pfd
	for _, e := range c.Args[0].Elems {
		var p pfd
		for _, f := range e.Elems {
			if f.Kind != ExprAssign {
				continue
			}
			v, _ := r.evalInt(f.Elems[0])
			switch f.Word {
			case "fd":
				p.s = r.socks[v]
			case "events":
				p.events = v
			case "revents":
				p.revents, p.check = v, true
			}
		}
		fds = append(fds, p)
	}
	start := r.clk.Now()
	return func() (callResult, bool, error) {
		n := int64(0)
		for _, p := range fds {
			rev := r.pollEvents(p.s) & (p.events | pollErr | pollHup)
			if rev != 0 {
				n++
			}
			if p.check && rev != p.revents && rev != 0 {
				return callResult{}, true, failf("poll() revents %#x, expected %#x", rev, p.revents)
			}
		}
		if n > 0 || timeout == 0 || (timeout > 0 && r.clk.Now()-start >= time.Duration(timeout)*time.Millisecond) {
			return done(ok(n))
		}
		return callResult{}, false, nil
	}, nil
}

const (
	pollIn  = 0x1
	pollOut = 0x4
	pollErr = 0x8
	pollHup = 0x10
)

func (r *runner) pollEvents(s *sock) int64 {
	if s == nil {
		return 0
	}
	if s.ln != nil {
		return 0
	}
	if s.c == nil {
		return pollOut | pollHup
	}
	st := s.c.Status()
	var ev int64
	switch st.State {
	case tcp.Closed:
		ev |= pollIn | pollHup
		if s.c.SocketError() != nil {
			ev |= pollErr
		}
	case tcp.CloseWait, tcp.LastAck, tcp.Closing, tcp.TimeWait:
		ev |= pollIn
	}
	if st.RecvHeld > 0 {
		ev |= pollIn
	}
	if (st.State == tcp.Established || st.State == tcp.CloseWait) && st.SendQueued < st.SendBuf {
		ev |= pollOut
	}
	return ev
}

// errnoOf is the errno inside an error from the stack.
func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e
	case errors.Is(err, net.ErrClosed):
		return syscall.EBADF
	case errors.Is(err, io.EOF):
		return 0
	}
	return syscall.EIO
}
