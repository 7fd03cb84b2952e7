package stack

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/tcp"
)

// connected opens a connection from a to b over a simulated link; o are
// the client's options, lo the listener's.
func connected(t *testing.T, o, lo ConnOptions) (n *simNet, cli, srv *Conn) {
	n, cli, srv, _ = connectedSim(t, o, lo)
	return n, cli, srv
}

func connectedSim(t *testing.T, o, lo ConnOptions) (n *simNet, cli, srv *Conn, eb *sim.Endpoint) {
	t.Helper()
	clk := clock.NewVirtual()
	ea, eb := sim.New(clk, 1, sim.Config{Delay: time.Millisecond}, sim.Config{Delay: time.Millisecond})
	a, _ := New(ea, Config{Addrs: []netip.Addr{addrA}, Clock: clk})
	b, _ := New(eb, Config{Addrs: []netip.Addr{addrB}, Clock: clk})
	n = &simNet{t: t, clk: clk, a: a, b: b}
	l, _ := b.ListenTCP("tcp", ":80")
	l.SetConnOptions(lo)
	cli, err := a.OpenWithOptions(netip.MustParseAddrPort("10.0.0.2:80"), o)
	if err != nil {
		t.Fatal(err)
	}
	n.run(time.Second, func() bool { srv, _ = l.TryAccept(); return srv != nil })
	if srv == nil {
		t.Fatal("no connection")
	}
	return n, cli, srv, eb
}

// TCP_MAXSEG before connect and on a listener: both ends advertise it and
// the send MSS is the smaller (MUST-16); TCP_NOOPT offers no options.
func TestConnOptionsMSS(t *testing.T) {
	_, cli, srv := connected(t, ConnOptions{MSS: 1100, NoOptions: true}, ConnOptions{MSS: 1200})
	if got := cli.Status().SendMSS; got != 1100 {
		t.Errorf("client send MSS %d, want 1100 (its own TCP_MAXSEG)", got)
	}
	if got := srv.Status().SendMSS; got != 1100 {
		t.Errorf("server send MSS %d, want 1100 (the client's option)", got)
	}
	if cli.AdvertisedMSS() != 1100 || srv.AdvertisedMSS() != 1200 {
		t.Errorf("advertised %d and %d, want 1100 and 1200", cli.AdvertisedMSS(), srv.AdvertisedMSS())
	}
	if st := srv.Status(); st.Timestamps || st.SACK || st.WindowScale {
		t.Errorf("NoOptions client, yet negotiated %+v", st)
	}
}

// SetLinger(0): Close resets the connection (RFC 9293 3.10.5 ABORT), and
// the peer reads ECONNRESET, not EOF.
func TestSetLingerZeroResets(t *testing.T) {
	n, cli, srv := connected(t, ConnOptions{}, ConnOptions{})
	if err := cli.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	n.run(time.Second, func() bool { return srv.State() == tcp.Closed })
	if _, err := srv.TryRead(make([]byte, 10)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("peer read %v, want ECONNRESET", err)
	}
	if !errors.Is(srv.SocketError(), syscall.ECONNRESET) {
		t.Fatalf("SocketError %v, want ECONNRESET", srv.SocketError())
	}
	if err := cli.SetLinger(0); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SetLinger after Close: %v", err)
	}
}

// CloseRead: what is buffered is still read, then EOF; writing goes on.
func TestCloseRead(t *testing.T) {
	n, cli, srv := connected(t, ConnOptions{}, ConnOptions{})
	srv.TryWrite([]byte("hello"))
	n.run(time.Second, func() bool { return cli.Status().RecvHeld == 5 })
	if err := cli.CloseRead(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if k, err := cli.TryRead(buf); k != 5 || err != nil {
		t.Fatalf("read %d %v, want the 5 buffered bytes", k, err)
	}
	if _, err := cli.TryRead(buf); err != io.EOF {
		t.Fatalf("read after CloseRead: %v, want EOF", err)
	}
	if k, err := cli.TryWrite([]byte("x")); k != 1 || err != nil {
		t.Fatalf("write after CloseRead: %d %v", k, err)
	}
}

// SetKeepAliveConfig: Idle, Interval and Count as TCP_KEEPIDLE,
// TCP_KEEPINTVL, TCP_KEEPCNT; a vanished peer is dropped after
// Idle + Count x Interval.
func TestSetKeepAliveConfig(t *testing.T) {
	n, cli, _, eb := connectedSim(t, ConnOptions{}, ConnOptions{})
	kc := net.KeepAliveConfig{Enable: true, Idle: 10 * time.Second, Interval: 2 * time.Second, Count: 3}
	if err := cli.SetKeepAliveConfig(kc); err != nil {
		t.Fatal(err)
	}
	if got := cli.KeepAliveConfig(); got != kc {
		t.Fatalf("KeepAliveConfig %+v, want %+v", got, kc)
	}
	eb.SetDown(true)
	start := n.clk.Now()
	n.run(time.Minute, func() bool { return cli.State() == tcp.Closed })
	if d := n.clk.Now() - start; d < 15*time.Second || d > 17*time.Second || cli.Status().Stats.KeepAliveProbes != 3 {
		t.Fatalf("dropped after %v with %d probes; want 16 s and 3", d, cli.Status().Stats.KeepAliveProbes)
	}
	if !errors.Is(cli.SocketError(), syscall.ETIMEDOUT) {
		t.Fatalf("SocketError %v, want ETIMEDOUT", cli.SocketError())
	}
}

// SetFinWait2Timeout (TCP_LINGER2): a closed connection leaves FIN-WAIT-2
// after the time set, not the default 60 s.
func TestSetFinWait2Timeout(t *testing.T) {
	n, cli, _ := connected(t, ConnOptions{}, ConnOptions{})
	if err := cli.SetFinWait2Timeout(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	n.run(time.Second, func() bool { return cli.State() == tcp.FinWait2 })
	if cli.State() != tcp.FinWait2 || cli.FinWait2Timeout() != 3*time.Second {
		t.Fatalf("state %v, timeout %v", cli.State(), cli.FinWait2Timeout())
	}
	n.clk.Advance(2900 * time.Millisecond)
	if cli.State() != tcp.FinWait2 {
		t.Fatalf("left FIN-WAIT-2 early: %v", cli.State())
	}
	n.clk.Advance(200 * time.Millisecond)
	if cli.State() != tcp.Closed {
		t.Fatalf("still %v after the FIN-WAIT-2 timeout", cli.State())
	}
}

// SynTimeout (TCP_KEEPINIT) bounds SYN retransmission: the OPEN fails 5 s
// after the SYN, a deadline of its own (SYNs at 0, 1 and 3 s; the next
// retransmission timeout would be at 7 s).
func TestConnOptionsSynTimeout(t *testing.T) {
	clk := clock.NewVirtual()
	ea, _ := sim.New(clk, 1, sim.Config{Delay: time.Millisecond}, sim.Config{Delay: time.Millisecond})
	a, _ := New(ea, Config{Addrs: []netip.Addr{addrA}, Clock: clk})
	c, err := a.OpenWithOptions(netip.MustParseAddrPort("10.0.0.2:80"), ConnOptions{SynTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(5*time.Second - time.Microsecond)
	if c.State() != tcp.SynSent {
		t.Fatalf("gave up before 5 s: %v", c.State())
	}
	clk.Advance(time.Microsecond)
	if c.State() != tcp.Closed || !errors.Is(c.SocketError(), syscall.ETIMEDOUT) {
		t.Fatalf("at 5 s: %v, %v", c.State(), c.SocketError())
	}
}
