//go:build linux

package interop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/internal/netns"
)

// The tests in this file run the synack command itself, as a person
// would: built once per test run, started with `ip netns exec NS synack
// ...` inside the test's namespace, its TUN device created there.

var binDir string // TestMain's temporary directory

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "synack-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildSynack builds cmd/synack (with -race when the tests run under it)
// the first time a test asks.
var buildSynack = sync.OnceValues(func() (string, error) {
	// go test puts its own GOROOT/bin first on PATH (Go 1.19), so this is
	// the toolchain running the tests.
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("no go command to build cmd/synack with")
	}
	bin := filepath.Join(binDir, "synack")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(gobin, append(args, "github.com/synack-tcp/synack/cmd/synack")...)
	// Build inside the module even when the test binary runs elsewhere.
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		cmd.Dir = filepath.Dir(file)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/synack: %v\n%s", err, out)
	}
	return bin, nil
})

// cmdEnv is a namespace for running the synack command in; host and addr
// are the --host-addr and --addr the command is given.
type cmdEnv struct {
	t          testing.TB
	ns         *netns.NS
	bin, ip    string
	host, addr netip.Addr
}

func newCmdEnv(t testing.TB) *cmdEnv {
	t.Helper()
	ns := netns.ForTest(t)
	bin, err := buildSynack()
	if err != nil {
		t.Fatal(err)
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		ip = "/usr/sbin/ip"
	}
	host, addr := nextSubnet()
	return &cmdEnv{t: t, ns: ns, bin: bin, ip: ip, host: host, addr: addr}
}

// tunArgs are the TUN flags the command gets.
func (ce *cmdEnv) tunArgs() []string {
	return []string{"--tun", "synack0", "--addr", ce.addr.String(), "--host-addr", netip.PrefixFrom(ce.host, 24).String(), "--msl", msl.String()}
}

// proc is a running synack command.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	exited         chan struct{}
	err            error // the exit status, once exited is closed
}

// lockedBuffer collects output and wakes waiters on every write.
type lockedBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{changed: make(chan struct{})} }

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits until the output contains s.
func (b *lockedBuffer) waitFor(t testing.TB, s string, p *proc) {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		b.mu.Lock()
		ok, ch := strings.Contains(b.b.String(), s), b.changed
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-p.exited:
			t.Fatalf("%s exited (%v) before printing %q; stderr:\n%s", p.cmd.Args[4], p.err, s, p.stderr.String())
		case <-timeout:
			t.Fatalf("%s did not print %q within %v; stderr:\n%s", p.cmd.Args[4], s, testTimeout, p.stderr.String())
		}
	}
}

// start runs `synack ARGS...` inside the namespace.
func (ce *cmdEnv) start(stdin io.Reader, args ...string) *proc {
	ce.t.Helper()
	return ce.startRaw(stdin, ce.bin, args...)
}

// startRaw runs a command inside the namespace.
func (ce *cmdEnv) startRaw(stdin io.Reader, name string, args ...string) *proc {
	ce.t.Helper()
	p := &proc{stdout: newLockedBuffer(), stderr: newLockedBuffer(), exited: make(chan struct{})}
	p.cmd = exec.Command(ce.ip, append([]string{"netns", "exec", ce.ns.Name(), name}, args...)...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = stdin, p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		ce.t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	ce.t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// capture, if SYNACK_INTEROP_PCAP is set, records the TUN device's
// packets with tcpdump (from the kernel's side of the device) into
// DIR/TESTNAME.pcap until the test ends. Call it once the device exists.
func (ce *cmdEnv) capture() {
	ce.t.Helper()
	if pcapDir == "" {
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(ce.t.Name()) + ".pcap"
	p := ce.startRaw(nil, "tcpdump", "-U", "-n", "-i", "synack0", "-w", filepath.Join(pcapDir, name))
	p.stderr.waitFor(ce.t, "listening on", p)
	ce.t.Cleanup(func() { p.cmd.Process.Signal(os.Interrupt); <-p.exited })
}

// wait waits for the command to exit and returns its exit code.
func (p *proc) wait(t testing.TB) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(testTimeout):
		t.Fatalf("synack did not exit within %v; stderr:\n%s", testTimeout, p.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// jsonWalks parses `--json` transitions: each connection's (or
// listener's) walk, "FROM>TO (cause)" each.
func jsonWalks(t *testing.T, out string) map[string][]string {
	t.Helper()
	walks := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r struct{ Conn, From, To, Cause string }
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%v in transitions:\n%s", err, out)
		}
		walks[r.Conn] = append(walks[r.Conn], fmt.Sprintf("%s>%s (%s)", r.From, r.To, r.Cause))
	}
	return walks
}

// bytesDigest is the SHA-256 of what `synack serve` sends for /bytes/N:
// N bytes of ChaCha8 with an all-zero seed.
func bytesDigest(n int) string { return sum(pattern(0, n)) }

// passiveClose is a server connection's walk when the client closes first.
var passiveClose = []string{
	"LISTEN>SYN-RECEIVED (rcv SYN)",
	"SYN-RECEIVED>ESTABLISHED (rcv ACK)",
	"ESTABLISHED>CLOSE-WAIT (rcv FIN,ACK)",
	"CLOSE-WAIT>LAST-ACK (user CLOSE)",
	"LAST-ACK>CLOSED (rcv ACK)",
}

// TestServeCurl: `synack serve` in the namespace; the kernel's curl fetches
// a file, then 64 MiB from /bytes/N (8 MiB under -short), checked by
// length and SHA-256, then 100 /bytes/N fetches on 100 concurrent
// connections. On SIGINT serve exits 0. Every connection walked the
// passive close (curl closes first), as serve's --json transitions show.
func TestServeCurl(t *testing.T) {
	t.Parallel()
	ce := newCmdEnv(t)
	dir := t.TempDir()
	page := "<h1>hello from synack</h1>\n"
	os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644)
	p := ce.start(nil, append([]string{"serve"}, append(ce.tunArgs(), "--http", "8080", "--dir", dir, "--json")...)...)
	p.stderr.waitFor(t, "serving http://", p)
	ce.capture()
	base := fmt.Sprintf("http://%s:8080", ce.addr)
	curl := func(args ...string) string {
		t.Helper()
		out, err := ce.ns.Run("curl", append([]string{"-sS", "--max-time", "30"}, args...)...)
		if err != nil {
			t.Fatalf("%v\n%s\nserve's stderr:\n%s", err, out, p.stderr.String())
		}
		return string(out)
	}

	if got := curl(base + "/"); got != page {
		t.Errorf("curl /: %q, want %q", got, page)
	}

	n := transferSize()
	file := filepath.Join(dir, "bytes.out")
	start := time.Now()
	stats := curl("-o", file, "-w", "%{size_download} %{speed_download}", fmt.Sprintf("%s/bytes/%d", base, n))
	elapsed := time.Since(start)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	gotN, gotSum, err := digest(f)
	f.Close()
	os.Remove(file)
	if err != nil || gotN != int64(n) || gotSum != bytesDigest(n) {
		t.Errorf("curl /bytes/%d: %d bytes, sha256 %s (%v); want sha256 %s", n, gotN, gotSum, err, bytesDigest(n))
	}
	t.Logf("curl fetched %d MiB from synack serve in %v (%s; curl's size_download and speed_download: %s)",
		n>>20, elapsed.Round(time.Millisecond), mbps(int64(n), elapsed), stats)

	// 100 concurrent connections: curl --parallel opens a connection per
	// transfer (HTTP/1.1 cannot multiplex), all at once.
	const conns = 100
	pdir := t.TempDir()
	args := []string{"--parallel", "--parallel-immediate", "--parallel-max", strconv.Itoa(conns)}
	size := func(i int) int { return 100_000 + 1000*i } // distinct, so crossed streams show
	for i := range conns {
		args = append(args, "-o", filepath.Join(pdir, strconv.Itoa(i)), fmt.Sprintf("%s/bytes/%d", base, size(i)))
	}
	start = time.Now()
	curl(args...)
	t.Logf("%d concurrent fetches in %v", conns, time.Since(start).Round(time.Millisecond))
	for i := range conns {
		b, err := os.ReadFile(filepath.Join(pdir, strconv.Itoa(i)))
		if err != nil || len(b) != size(i) || sum(b) != bytesDigest(size(i)) {
			t.Errorf("parallel fetch %d: %d bytes (%v), want %d with the /bytes digest", i, len(b), err, size(i))
		}
	}

	// Stop it as Ctrl-C would, once curl's last connections have closed.
	waitConnsClosed(t, p, 2+conns)
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t); code != 0 {
		t.Fatalf("serve exited %d after SIGINT; stderr:\n%s", code, p.stderr.String())
	}
	if want := fmt.Sprintf("stopped after %d connections", 2+conns); !strings.Contains(p.stderr.String(), want) {
		t.Errorf("serve's stderr lacks %q:\n%s", want, p.stderr.String())
	}

	if peak := peakOpen(t, p.stdout.String()); peak < conns {
		t.Errorf("at most %d connections were open at once, want %d", peak, conns)
	} else {
		t.Logf("%d connections open at once", peak)
	}
	walks := jsonWalks(t, p.stdout.String())
	nconn := 0
	for conn, w := range walks {
		if strings.HasSuffix(conn, "(listener)") {
			checkWalk(t, conn, w, []string{"CLOSED>LISTEN (user OPEN (passive))", "LISTEN>CLOSED (user CLOSE)"})
			continue
		}
		nconn++
		checkWalk(t, conn, w, passiveClose)
	}
	if nconn != 2+conns {
		t.Errorf("serve reported %d connections, want %d", nconn, 2+conns)
	}
}

// peakOpen is the most connections that were past the handshake and not
// yet closed at the same time, by --json transitions.
func peakOpen(t *testing.T, out string) int {
	t.Helper()
	open, peak := 0, 0
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r struct{ Conn, From, To string }
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(r.Conn, "(listener)"):
		case r.To == "ESTABLISHED":
			open++
		case r.To == "CLOSED" || r.To == "TIME-WAIT":
			open--
		}
		peak = max(peak, open)
	}
	return peak
}

// waitConnsClosed waits until serve's --json output shows want
// connections reaching CLOSED.
func waitConnsClosed(t *testing.T, p *proc, want int) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		closed := 0
		for conn, w := range jsonWalks(t, p.stdout.String()) {
			if !strings.HasSuffix(conn, "(listener)") && len(w) > 0 && strings.Contains(w[len(w)-1], ">CLOSED") {
				closed++
			}
		}
		if closed >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections closed within %v", closed, want, pollTimeout)
		}
		time.Sleep(pollStep)
	}
}

// TestServeEchoDiscard: the kernel talks to serve's echo and discard
// ports with Go's package net; echo returns every byte and closes after
// the kernel's FIN, discard takes everything.
func TestServeEchoDiscard(t *testing.T) {
	t.Parallel()
	ce := newCmdEnv(t)
	p := ce.start(nil, append([]string{"serve"}, append(ce.tunArgs(), "--http", "0", "--echo", "7", "--discard", "9")...)...)
	p.stderr.waitFor(t, "serving echo", p)
	ce.capture()
	dial := func(port int) *net.TCPConn {
		var c net.Conn
		err := ce.ns.Do(func() (err error) {
			c, err = net.DialTimeout("tcp4", fmt.Sprintf("%s:%d", ce.addr, port), testTimeout)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(testTimeout))
		return c.(*net.TCPConn)
	}
	msg := pattern(7, 4<<20)
	ec := dial(7)
	go func() { ec.Write(msg); ec.CloseWrite() }()
	n, d, err := digest(ec)
	if err != nil || n != int64(len(msg)) || d != sum(msg) {
		t.Errorf("echo: %d bytes back of %d (digest equal: %v), %v", n, len(msg), d == sum(msg), err)
	}
	ec.Close()

	dc := dial(9)
	if _, err := dc.Write(msg); err != nil {
		t.Fatal(err)
	}
	dc.CloseWrite()
	if n, err := io.Copy(io.Discard, dc); n != 0 || err != nil {
		t.Errorf("discard: read %d bytes, %v; want EOF", n, err)
	}
	dc.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM; stderr:\n%s", code, p.stderr.String())
	}
}

// TestNCListen: `synack nc -l PORT` with 1 MiB on stdin; a kernel client
// reads it to EOF (nc half-closed at stdin's EOF), answers with 1 MiB of
// its own and closes; nc prints exactly the answer and exits 0, having
// walked the active close.
func TestNCListen(t *testing.T) {
	t.Parallel()
	ce := newCmdEnv(t)
	in, answer := pattern(10, 1<<20), pattern(11, 1<<20)
	p := ce.start(bytes.NewReader(in), append([]string{"nc"}, append(ce.tunArgs(), "--json", "-l", "5000")...)...)
	p.stderr.waitFor(t, `"to":"LISTEN"`, p)
	ce.capture()

	var c net.Conn
	err := ce.ns.Do(func() (err error) {
		c, err = net.DialTimeout("tcp4", fmt.Sprintf("%s:5000", ce.addr), testTimeout)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	n, d, err := digest(c)
	if err != nil || n != int64(len(in)) || d != sum(in) {
		t.Fatalf("kernel read %d bytes of nc's stdin (%d), digest equal %v, %v", n, len(in), d == sum(in), err)
	}
	if _, err := c.Write(answer); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if code := p.wait(t); code != 0 {
		t.Fatalf("nc -l exited %d; stderr:\n%s", code, p.stderr.String())
	}
	if out := p.stdout.String(); out != string(answer) {
		t.Errorf("nc printed %d bytes, want the kernel's %d", len(out), len(answer))
	}
	var conn []string
	for k, w := range jsonWalks(t, p.stderr.String()) {
		if !strings.HasSuffix(k, "(listener)") {
			conn = w
		}
	}
	// The kernel's ACK of nc's FIN comes alone or with its data; its FIN
	// follows. nc then exits without waiting out TIME-WAIT.
	want := []string{
		"LISTEN>SYN-RECEIVED (rcv SYN)",
		"SYN-RECEIVED>ESTABLISHED (rcv ACK)",
		"ESTABLISHED>FIN-WAIT-1 (user CLOSE)",
		"FIN-WAIT-1>FIN-WAIT-2 (rcv ACK)",
		"FIN-WAIT-2>TIME-WAIT (rcv FIN,ACK)",
		"TIME-WAIT>CLOSED (user ABORT)", // nc exits: closing the stack ends TIME-WAIT
	}
	checkWalk(t, "nc", conn, want)
}

// TestNCDial: `synack nc HOST PORT` to a kernel listener that sends 1 MiB
// and closes first; nc delivers its own 1 MiB of stdin after that,
// walking the passive close, and exits 0.
func TestNCDial(t *testing.T) {
	t.Parallel()
	ce := newCmdEnv(t)
	in, answer := pattern(12, 1<<20), pattern(13, 1<<20)
	var ln net.Listener
	err := ce.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp4", "0.0.0.0:6000") // the TUN address appears with nc
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		n      int64
		digest string
		err    error
	}
	kres := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			kres <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testTimeout))
		if _, err := c.Write(answer); err != nil {
			kres <- result{err: err}
			return
		}
		c.(*net.TCPConn).CloseWrite()
		n, d, err := digest(c)
		kres <- result{n, d, err}
	}()

	// nc's stdin opens only after the kernel's FIN, so the kernel closes first.
	pr, pw := io.Pipe()
	p := ce.start(pr, append([]string{"nc"}, append(ce.tunArgs(), "--json", ce.host.String(), "6000")...)...)
	p.stderr.waitFor(t, `"to":"CLOSE-WAIT"`, p)
	go func() { pw.Write(in); pw.Close() }()
	k := <-kres
	if k.err != nil || k.n != int64(len(in)) || k.digest != sum(in) {
		t.Errorf("kernel read %d bytes of nc's stdin (%d), digest equal %v, %v", k.n, len(in), k.digest == sum(in), k.err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("nc exited %d; stderr:\n%s", code, p.stderr.String())
	}
	if out := p.stdout.String(); out != string(answer) {
		t.Errorf("nc printed %d bytes, want the kernel's %d", len(out), len(answer))
	}
	walks := jsonWalks(t, p.stderr.String())
	if len(walks) != 1 {
		t.Fatalf("nc reported %d connections: %v", len(walks), walks)
	}
	for _, w := range walks {
		checkWalk(t, "nc", w, []string{
			"CLOSED>SYN-SENT (user OPEN (active))",
			"SYN-SENT>ESTABLISHED (rcv SYN,ACK)",
			"ESTABLISHED>CLOSE-WAIT (rcv FIN,ACK)",
			"CLOSE-WAIT>LAST-ACK (user CLOSE)",
			"LAST-ACK>CLOSED (rcv ACK)",
		})
	}
}

// TestNCRefused: nc to a kernel port nobody listens on prints one line
// ending in "connection refused" and exits 1.
func TestNCRefused(t *testing.T) {
	t.Parallel()
	ce := newCmdEnv(t)
	p := ce.start(strings.NewReader("x"), append([]string{"nc"}, append(ce.tunArgs(), ce.host.String(), "6001")...)...)
	if code := p.wait(t); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if s := p.stderr.String(); !strings.HasPrefix(s, "synack nc: dial") || !strings.HasSuffix(s, "connection refused\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("stderr %q", s)
	}
}
