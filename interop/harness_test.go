//go:build linux

package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/internal/netns"
	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/pcap"
	"github.com/synack-tcp/synack/link/tun"
	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

const (
	// testTimeout bounds every wait for the kernel or the stack.
	testTimeout = 30 * time.Second
	// pollTimeout and pollStep bound polling `ss` for a socket state.
	pollTimeout = 5 * time.Second
	pollStep    = 20 * time.Millisecond
	// msl is the synack stack's MSL in these tests: TIME-WAIT lasts 1s.
	msl = 500 * time.Millisecond
)

// pcapDir, if set, makes every test write the synack side's packets to
// DIR/TESTNAME.pcap (for debugging: tshark -r FILE).
var pcapDir = os.Getenv("SYNACK_INTEROP_PCAP")

// subnets hands each test its own /24: 10.9.N.0/24, N from 10 up.
var subnets atomic.Uint32

func nextSubnet() (host, addr netip.Addr) {
	n := byte(10 + subnets.Add(1)%240)
	return netip.AddrFrom4([4]byte{10, 9, n, 1}), netip.AddrFrom4([4]byte{10, 9, n, 2})
}

// env is one test's namespace: a TUN device whose kernel side has
// address host, and a synack stack on it with address addr.
type env struct {
	t    testing.TB
	ns   *netns.NS
	ep   *tun.Endpoint
	st   *stack.Stack
	host netip.Addr // the kernel's address on the TUN device
	addr netip.Addr // the synack stack's address
	ev   *events
}

// newEnv makes a namespace, a TUN device in it and a synack stack on the
// device (MSL 500ms, window scaling on). Everything is closed when the
// test ends: the stack, then the device, then the namespace.
func newEnv(t testing.TB) *env { return newEnvWrapped(t, nil) }

// newEnvWrapped is newEnv with the stack's link wrapped by wrap (if set),
// for tests that watch or alter the packets.
func newEnvWrapped(t testing.TB, wrap func(link.Endpoint) link.Endpoint) *env {
	t.Helper()
	return newEnvOffload(t, true, wrap)
}

// newEnvOffload is newEnvWrapped with the device's offloads on (the
// default) or forced off (offload_test.go).
func newEnvOffload(t testing.TB, offload bool, wrap func(link.Endpoint) link.Endpoint) *env {
	t.Helper()
	ns := netns.ForTest(t)
	host, addr := nextSubnet()
	ep, err := tun.Open(tun.Config{NetNS: ns.Name(), HostAddr: netip.PrefixFrom(host, 24), MTU: 1500, NoOffload: !offload})
	if err != nil {
		t.Fatalf("tun.Open in %s: %v", ns.Name(), err)
	}
	clk := clock.NewReal()
	var lep link.Endpoint = ep
	if pcapDir != "" {
		lep = teePcap(t, ep, clk)
	}
	if wrap != nil {
		lep = wrap(lep)
	}
	e := &env{t: t, ns: ns, ep: ep, host: host, addr: addr, ev: newEvents()}
	e.st, err = stack.New(lep, stack.Config{
		Addrs:   []netip.Addr{addr},
		Clock:   clk,
		TCP:     tcp.Config{MSL: msl, WindowScale: true},
		OnEvent: e.ev.record,
	})
	if err != nil {
		ep.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.st.Close() // closes the device too
		if s := ep.Stats(); s.WriteErrors > 0 || s.ReadErrors > 0 {
			t.Logf("tun stats: %+v", s)
		}
	})
	return e
}

func teePcap(t testing.TB, ep link.Endpoint, clk clock.Clock) link.Endpoint {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + ".pcap"
	f, err := os.Create(filepath.Join(pcapDir, name))
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	pe, err := pcap.New(ep, bw, clk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pe.Close(); bw.Flush(); f.Close() })
	return pe
}

// hostPort and addrPort build addresses on the kernel's and synack's side.
func (e *env) hostPort(p uint16) netip.AddrPort { return netip.AddrPortFrom(e.host, p) }
func (e *env) addrPort(p uint16) netip.AddrPort { return netip.AddrPortFrom(e.addr, p) }

// kernelListen listens with the kernel's TCP inside the namespace.
func (e *env) kernelListen(port uint16) *net.TCPListener {
	e.t.Helper()
	var ln net.Listener
	err := e.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp4", e.hostPort(port).String())
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener)
}

// kernelDial connects with the kernel's TCP from inside the namespace.
func (e *env) kernelDial(ctx context.Context, to netip.AddrPort) (*net.TCPConn, error) {
	var c net.Conn
	err := e.ns.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp4", to.String())
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// ctx is a context bounded by testTimeout and the test's end.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return c
}

// ---- transition events ----

// events records the stack's transitions (stack.Config.OnEvent) and lets
// a test wait for one.
type events struct {
	mu      sync.Mutex
	list    []stack.Event
	changed chan struct{} // closed and replaced on every event
}

func newEvents() *events { return &events{changed: make(chan struct{})} }

// record is the OnEvent hook. It runs under a connection's lock, so it
// only appends and wakes waiters.
func (ev *events) record(e stack.Event) {
	ev.mu.Lock()
	ev.list = append(ev.list, e)
	close(ev.changed)
	ev.changed = make(chan struct{})
	ev.mu.Unlock()
}

func (ev *events) snapshot() ([]stack.Event, <-chan struct{}) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return slices.Clone(ev.list), ev.changed
}

// walk is one connection's transitions, "FROM>TO" each (for a listener
// pass an invalid remote).
func (ev *events) walk(local, remote netip.AddrPort) []string {
	list, _ := ev.snapshot()
	var w []string
	for _, e := range list {
		if e.Local == local && e.Remote == remote {
			w = append(w, e.From.String()+">"+e.To.String())
		}
	}
	return w
}

// causes is one connection's transitions with their causes.
func (ev *events) causes(local, remote netip.AddrPort) []string {
	list, _ := ev.snapshot()
	var w []string
	for _, e := range list {
		if e.Local == local && e.Remote == remote {
			w = append(w, fmt.Sprintf("%v>%v (%s)", e.From, e.To, e.Cause))
		}
	}
	return w
}

// dwell is how long the connection stayed in state st (by the stack's
// clock), or -1 if it never entered and left it.
func (ev *events) dwell(local, remote netip.AddrPort, st tcp.State) time.Duration {
	list, _ := ev.snapshot()
	in := time.Duration(-1)
	for _, e := range list {
		if e.Local != local || e.Remote != remote {
			continue
		}
		if e.To == st {
			in = e.Time
		} else if e.From == st && in >= 0 {
			return e.Time - in
		}
	}
	return -1
}

// conns lists the distinct connections (not listeners) that have events.
func (ev *events) conns() [][2]netip.AddrPort {
	list, _ := ev.snapshot()
	var out [][2]netip.AddrPort
	for _, e := range list {
		k := [2]netip.AddrPort{e.Local, e.Remote}
		if e.Remote.IsValid() && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// waitState waits until the connection local<->remote has entered state
// `to` (it may have left it since).
func (ev *events) waitState(t testing.TB, local, remote netip.AddrPort, to tcp.State) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		list, ch := ev.snapshot()
		for _, e := range list {
			if e.Local == local && e.Remote == remote && e.To == to {
				return
			}
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%v->%v never reached %v within %v; walk: %v", local, remote, to, testTimeout, ev.causes(local, remote))
		}
	}
}

// path turns states into the walk between them: path("A","B","C") is
// ["A>B", "B>C"].
func path(states ...string) []string {
	var p []string
	for i := 1; i < len(states); i++ {
		p = append(p, states[i-1]+">"+states[i])
	}
	return p
}

// checkWalk compares a walk with its expectation. An expected step may
// list alternatives separated by " | ". A transition on the peer's FIN may
// also have cause "rcv ACK": a FIN that arrived out of order (after a
// loss: the kernel drops at the TUN device's queue when the machine is
// busy) is taken when the segment that fills the hole arrives, and that
// segment is the cause.
func checkWalk(t testing.TB, what string, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = stepMatches(got[i], want[i])
	}
	if !ok {
		t.Errorf("%s walked\n  %v\nwant\n  %v", what, got, want)
	}
}

func stepMatches(got, want string) bool {
	for _, w := range strings.Split(want, " | ") {
		if got == w || strings.HasSuffix(w, " (rcv FIN,ACK)") && got == strings.TrimSuffix(w, " (rcv FIN,ACK)")+" (rcv ACK)" {
			return true
		}
	}
	return false
}

// timeWaitEnd is how TIME-WAIT ends: after 2*MSL. A reset never ends it
// (RFC 1337): once, in many runs on a loaded machine, the kernel
// retransmitted its FIN, took the first ACK and closed, and answered
// synack's ACK of the retransmitted FIN with a reset, as RFC 9293 3.10.7.1
// has a CLOSED port do; TIME-WAIT now lets such a reset pass.
const timeWaitEnd = "TIME-WAIT>CLOSED (timeout 2MSL)"

// ---- the kernel's sockets, as ss sees them ----

// ssState is the state `ss` shows for the kernel socket local<->remote
// ("ESTAB", "CLOSE-WAIT", "TIME-WAIT", ...), or "" if there is none.
func (e *env) ssState(local, remote netip.AddrPort) string {
	e.t.Helper()
	out, err := e.ns.Run("ss", "-tanH")
	if err != nil {
		e.t.Fatalf("ss: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[3] == local.String() && f[4] == remote.String() {
			return f[0]
		}
	}
	return ""
}

// waitSS polls ss (up to pollTimeout) until the kernel socket
// local<->remote is in state want ("" for gone), and returns the states
// seen on the way.
func (e *env) waitSS(local, remote netip.AddrPort, want string) {
	e.t.Helper()
	var seen []string
	for end := time.Now().Add(pollTimeout); ; time.Sleep(pollStep) {
		st := e.ssState(local, remote)
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		if st == want {
			return
		}
		if time.Now().After(end) {
			e.t.Fatalf("kernel socket %v->%v: want state %q within %v; seen %q", local, remote, want, pollTimeout, seen)
		}
	}
}

// ---- payloads ----

// pattern returns n pseudo-random bytes from a seeded stream, so that a
// shifted, repeated or reordered segment cannot go unnoticed.
func pattern(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8(seedBytes(seed)).Read(b)
	return b
}

func seedBytes(seed uint64) [32]byte {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return s
}

// digest reads r to EOF and returns its length and SHA-256.
func digest(r io.Reader) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// transferSize is the bulk transfer size: 64 MiB, 8 MiB under -short.
func transferSize() int {
	if testing.Short() {
		return 8 << 20
	}
	return 64 << 20
}

func mbps(n int64, d time.Duration) string {
	return fmt.Sprintf("%.1f MB/s", float64(n)/d.Seconds()/1e6)
}

var _ = bytes.Equal
