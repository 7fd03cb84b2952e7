package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/internal/simharness"
	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/tun"
	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// Defaults of the TUN flags that "synack serve" and "synack nc" share.
const (
	defaultTUN      = "synack0"
	defaultAddr     = "10.9.0.2"
	defaultHostAddr = "10.9.0.1/24"
)

// tunOptions are the flags that put a synack stack on a TUN device: the
// device, the kernel's address on it, synack's own address, and how the
// stack reports its transitions.
type tunOptions struct {
	name     string
	addrS    string
	hostS    string
	mtu      int
	netns    string
	msl      time.Duration
	verbose  bool
	json     bool
	ecn      bool
	rcvbuf   int // --rcvbuf: every connection's receive buffer (0: autotuned)
	sndbuf   int // --sndbuf
	offload  bool
	queues   int          // --queues: the device's queues (0: one per GOMAXPROCS)
	offloads string       // what the device granted, once open
	addr     netip.Addr   // parsed --addr
	hostAddr netip.Prefix // parsed --host-addr
	ui       string       // --ui: serve the observe page on this host address
	pcap     string       // --pcap: capture the device's packets
	out      io.Writer    // where --ui says the page's address (stderr)
	extras   []func()     // what open started beside the stack; closeExtras ends it
}

func (o *tunOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.name, "tun", defaultTUN, "create the TUN device `NAME`")
	fs.StringVar(&o.addrS, "addr", defaultAddr, "synack's own IP address `ADDR` (inside --host-addr's prefix)")
	fs.StringVar(&o.hostS, "host-addr", defaultHostAddr, "the kernel's address and prefix `CIDR` on the TUN device (the kernel routes the prefix to synack)")
	o.mtu, o.msl = tun.DefaultMTU, 2*time.Minute
	fs.Var(intFlag{&o.mtu}, "mtu", "the TUN device's `MTU`")
	fs.StringVar(&o.netns, "netns", "", "create the TUN device inside network namespace `NAME` (as ip netns names it); the process stays where it is")
	fs.Var(durFlag{&o.msl}, "msl", "maximum segment lifetime; TIME-WAIT lasts 2*MSL")
	fs.BoolVar(&o.verbose, "v", false, "print every state transition (as synack demo does)")
	fs.BoolVar(&o.json, "json", false, "print every state transition as a JSON object (the fields of synack demo --json)")
	fs.BoolVar(&o.ecn, "ecn", false, "negotiate explicit congestion notification (RFC 3168) with the peer")
	simharness.SizeVar(fs, &o.rcvbuf, "rcvbuf", "every connection's receive buffer `SIZE` (like 64KiB; the window offers at most this, no autotuning; default: autotuned up to 4MiB)")
	simharness.SizeVar(fs, &o.sndbuf, "sndbuf", "every connection's send buffer `SIZE` (like 64KiB; no autotuning; default: autotuned up to 4MiB)")
	fs.StringVar(&o.ui, "ui", "", "serve a live page of the state machine, connections and counters on host address `ADDR` (e.g. 127.0.0.1:8088), with /conns, /events and /metrics")
	fs.StringVar(&o.pcap, "pcap", "", "write every packet on the TUN device to `FILE` (pcap, LINKTYPE_RAW; tshark -r FILE reads it)")
	fs.Var(intFlag{&o.queues}, "queues", "open the TUN device with `N` queues, a reader each (0: one per GOMAXPROCS; 1: a single queue)")
	fs.BoolVar(&o.offload, "offload", true, "use the TUN device's virtio-net offloads (checksum, TCP segmentation) where the kernel has them; --offload=false moves one packet per system call with software checksums")
}

// tunUsage is the paragraph both commands' usage ends with.
const tunUsage = `The userspace stack needs a link of its own: it creates the TUN device
--tun (default synack0), gives the kernel's side --host-addr (default
10.9.0.1/24) and answers as --addr (default 10.9.0.2). Creating it needs
CAP_NET_ADMIN (root, or ` + "`sudo setcap cap_net_admin+ep $(which synack)`" + `).`

// check validates the flags after parsing; the error is one line.
func (o *tunOptions) check() error {
	switch {
	case o.name == "" || len(o.name) > 15 || strings.ContainsAny(o.name, "/ \t\n:"):
		return fmt.Errorf("--tun %q: want an interface name of 1 to 15 characters without '/', ':' or spaces", o.name)
	case o.msl <= 0 || o.msl > time.Hour:
		return fmt.Errorf("invalid value %v for --msl: want more than 0, at most 1h", o.msl)
	case o.rcvbuf != 0 && (o.rcvbuf < 4<<10 || o.rcvbuf > 1<<30):
		return fmt.Errorf("invalid value %d for --rcvbuf: want 4KiB to 1GiB", o.rcvbuf)
	case o.sndbuf != 0 && (o.sndbuf < 4<<10 || o.sndbuf > 1<<30):
		return fmt.Errorf("invalid value %d for --sndbuf: want 4KiB to 1GiB", o.sndbuf)
	case o.queues < 0 || o.queues > 64:
		return fmt.Errorf("invalid value %d for --queues: want 0 (one per GOMAXPROCS) to 64", o.queues)
	}
	var err error
	if o.addr, err = netip.ParseAddr(o.addrS); err != nil {
		return fmt.Errorf("--addr %q: want an IP address such as %s", o.addrS, defaultAddr)
	}
	if o.hostAddr, err = netip.ParsePrefix(o.hostS); err != nil {
		return fmt.Errorf("--host-addr %q: want an address with a prefix length such as %s", o.hostS, defaultHostAddr)
	}
	o.addr = o.addr.Unmap()
	switch {
	case o.addr.Zone() != "":
		return fmt.Errorf("--addr %s: zones are not supported", o.addr)
	case o.addr.Is4() != o.hostAddr.Addr().Is4():
		return fmt.Errorf("--addr %s and --host-addr %s are of different IP versions", o.addr, o.hostAddr)
	case !o.hostAddr.Masked().Contains(o.addr):
		return fmt.Errorf("--addr %s is outside --host-addr's prefix %s: the kernel would not route it to synack", o.addr, o.hostAddr.Masked())
	case o.addr == o.hostAddr.Addr():
		return fmt.Errorf("--addr %s is the kernel's own address (--host-addr): pick another in %s", o.addr, o.hostAddr.Masked())
	case o.addr.IsMulticast() || o.addr.IsUnspecified() || o.addr == broadcast(o.hostAddr):
		return fmt.Errorf("--addr %s cannot be a host's address", o.addr)
	case o.mtu < 68 || o.mtu > 65535:
		return fmt.Errorf("--mtu %d: want 68 to 65535", o.mtu)
	case o.addr.Is6() && o.mtu < 1280:
		return fmt.Errorf("--mtu %d is below IPv6's minimum of 1280", o.mtu)
	}
	return nil
}

// broadcast is an IPv4 prefix's broadcast address (invalid for IPv6).
func broadcast(p netip.Prefix) netip.Addr {
	if !p.Addr().Is4() || p.Bits() >= 31 {
		return netip.Addr{}
	}
	a := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(a)
}

// openTUN opens the TUN device; tests replace it to inject errors.
var openTUN = func(cfg tun.Config) (link.Endpoint, error) { return tun.Open(cfg) }

// open creates the TUN device and a stack on it. The error is one line for
// the user, prefixed with cmd ("synack serve").
func (o *tunOptions) open(cmd string, onEvent func(stack.Event)) (*stack.Stack, error) {
	if o.netns == "" { // another namespace's routes are not ours to see
		if err := routeClash(o.hostAddr); err != nil {
			return nil, fmt.Errorf("%s: %v", cmd, err)
		}
	}
	uiLn, err := o.listenUI(cmd) // before anything starts: a bad --ui is one line
	if err != nil {
		return nil, err
	}
	ep, err := openTUN(tun.Config{Name: o.name, MTU: o.mtu, HostAddr: o.hostAddr, NetNS: o.netns, NoOffload: !o.offload, Queues: o.queues})
	if err != nil {
		o.closeExtras()
		return nil, tunError(cmd, o.netns, err)
	}
	o.offloads = describeOffloads(ep, o.offload)
	clk := clock.NewReal()
	if ep, err = o.capture(cmd, ep, clk); err != nil {
		o.closeExtras()
		return nil, err
	}
	st, err := stack.New(ep, stack.Config{
		Addrs: []netip.Addr{o.addr},
		Clock: clk,
		TCP: tcp.Config{MSL: o.msl, WindowScale: true, RecvBuf: o.rcvbuf, RecvBufMax: o.rcvbuf,
			SendBuf: o.sndbuf, SendBufMax: o.sndbuf},
		ECN:     o.ecn,
		OnEvent: onEvent,
	})
	if err != nil {
		ep.Close()
		o.closeExtras()
		return nil, fmt.Errorf("%s: %v", cmd, err)
	}
	o.serveUI(cmd, uiLn, st)
	return st, nil
}

// interfaceAddrs lists the addresses of this network namespace's
// interfaces, by interface name; tests replace it.
var interfaceAddrs = func() (map[string][]netip.Prefix, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	m := make(map[string][]netip.Prefix)
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				ip, _ := netip.AddrFromSlice(n.IP)
				bits, _ := n.Mask.Size()
				m[ifc.Name] = append(m[ifc.Name], netip.PrefixFrom(ip.Unmap(), bits))
			}
		}
	}
	return m, nil
}

// routeClash reports an interface whose prefix overlaps host's: the
// kernel would then hold two routes for synack's addresses, and packets
// meant for synack would go out the other interface (a second synack serve
// with the same --host-addr starts but cannot be reached).
func routeClash(host netip.Prefix) error {
	m, err := interfaceAddrs()
	if err != nil {
		return nil // nothing to compare with; the device setup reports real trouble
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, p := range m[name] {
			if p.Masked().Overlaps(host.Masked()) && !p.Addr().IsLoopback() {
				return fmt.Errorf("--host-addr %s overlaps %s on interface %s, so the kernel would not route it to synack: choose another --host-addr (another synack may be running), or use --netns", host, p, name)
			}
		}
	}
	return nil
}

// tunError explains a failure to create the TUN device in one line.
func tunError(cmd, netns string, err error) error {
	switch {
	case errors.Is(err, tun.ErrPermission) && netns != "":
		return fmt.Errorf("%s: creating a TUN device in network namespace %s needs CAP_NET_ADMIN and CAP_SYS_ADMIN: run as root, or drop --netns and run inside it with `sudo ip netns exec %s synack ...`", cmd, netns, netns)
	case errors.Is(err, tun.ErrPermission):
		return fmt.Errorf("%s: creating TUN device needs CAP_NET_ADMIN: run as root, or `sudo setcap cap_net_admin+ep $(which synack)`", cmd)
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("%s: %v (is another program using that TUN device? choose another name with --tun)", cmd, err)
	case errors.Is(err, syscall.EEXIST):
		return fmt.Errorf("%s: %v (another interface already has that address or name: choose another --tun or --host-addr)", cmd, err)
	}
	return fmt.Errorf("%s: %v", cmd, err)
}

// describe is the one-line summary of the device and addresses.
func (o *tunOptions) describe() string {
	where := ""
	if o.netns != "" {
		where = " in network namespace " + o.netns
	}
	return fmt.Sprintf("synack is %s on TUN device %s%s (kernel side %s, MTU %d, offloads: %s)", o.addr, o.name, where, o.hostAddr, o.mtu, o.offloads)
}

// describeOffloads says what the device's offloads are: asked for (on),
// what the kernel granted.
func describeOffloads(ep link.Endpoint, on bool) string {
	if !on {
		return "off (--offload=false)"
	}
	var o link.Offloads
	if of, ok := ep.(link.Offloader); ok {
		o = of.Offloads()
	}
	switch {
	case o.TSO:
		return "checksum, TSO"
	case o.Checksum:
		return "checksum (the kernel refused TSO)"
	}
	return "none (the kernel has none for TUN devices)"
}

// ---- transition events ----

// eventLog prints a stack's transitions (as `synack demo` does, or as
// JSON) and tracks how many connections have not yet settled (reached
// TIME-WAIT or CLOSED), so a command can let closes finish before it
// exits. Its record method is the stack's OnEvent hook, which runs under
// the connection's or listener's lock: it only queues, and a goroutine of its own writes,
// so a slow terminal never stalls the stack.
type eventLog struct {
	name  string // the endpoint column: "serve", "nc"
	w     io.Writer
	json  bool
	print bool

	mu      sync.Mutex
	queue   []row
	open    int           // connections not yet in TIME-WAIT or CLOSED
	changed chan struct{} // closed and replaced on every event
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

func newEventLog(name string, o *tunOptions, w io.Writer) *eventLog {
	l := &eventLog{
		name: name, w: w, json: o.json, print: o.verbose || o.json,
		changed: make(chan struct{}), wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if l.print && !l.json {
		fmt.Fprintf(w, "%12s  %-8s  %-30s  %-31s  %s\n", "time (ms)", "endpoint", "connection", "transition", "cause")
	}
	go l.writer()
	return l
}

// record is the stack's OnEvent hook.
func (l *eventLog) record(e stack.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Remote.IsValid() { // a connection, not a listener
		if (e.From == tcp.Closed || e.From == tcp.Listen) && e.To != tcp.Closed {
			l.open++
		}
		if e.From != tcp.Closed && e.From != tcp.Listen && e.From != tcp.TimeWait &&
			(e.To == tcp.TimeWait || e.To == tcp.Closed || e.To == tcp.Listen) {
			l.open--
		}
	}
	close(l.changed)
	l.changed = make(chan struct{})
	if l.print && !l.closed {
		l.queue = append(l.queue, newRow(l.name, e))
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

func (l *eventLog) writer() {
	defer close(l.done)
	enc := newJSONEncoder(l.w)
	for {
		<-l.wake
		l.mu.Lock()
		q, closed := l.queue, l.closed
		l.queue = nil
		l.mu.Unlock()
		for _, x := range q {
			if l.json {
				enc.Encode(x)
			} else {
				fmt.Fprintf(l.w, "%12.3f  %-8s  %-30s  %-31s  %s\n", x.TMs, x.Endpoint, x.Conn, x.From+" -> "+x.To, x.Cause)
			}
		}
		if closed {
			return
		}
	}
}

// settle waits until every connection has reached TIME-WAIT or CLOSED
// (everything it sent is acknowledged), for at most d, or until stop is
// closed (nil: never). It reports whether they all did.
func (l *eventLog) settle(d time.Duration, stop <-chan struct{}) bool {
	timeout := time.After(d)
	for {
		l.mu.Lock()
		open, ch := l.open, l.changed
		l.mu.Unlock()
		if open <= 0 {
			return true
		}
		select {
		case <-ch:
		case <-timeout:
			return false
		case <-stop:
			return false
		}
	}
}

// close prints what is queued and stops the writer. Events after it are
// not printed.
func (l *eventLog) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
}
