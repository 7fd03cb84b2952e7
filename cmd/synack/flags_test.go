package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/tun"
	"github.com/synack-tcp/synack/wire"
)

// A bad value is reported in exactly two lines: the flag, the value and
// the form wanted; then where the usage is. Exit 2, nothing on stdout.
func TestParseErrorsNameFlagValueAndForm(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--size", "abc"}, `invalid value "abc" for --size: want a size like 1500, 64KiB, 16MiB or 1MB`},
		{[]string{"demo", "--seed", "abc"}, `invalid value "abc" for --seed: want a whole number`},
		{[]string{"demo", "--delay", "5"}, `invalid value "5" for --delay: want a duration with a unit, such as 5ms`},
		{[]string{"demo", "--loss", "abc"}, `invalid value "abc" for --loss: want a fraction like 0.05 or a percentage like 5%`},
		{[]string{"demo", "--scenario", "nope"}, `invalid value "nope" for --scenario: want one of normal,`},
		{[]string{"demo", "--bogus"}, `unknown flag --bogus`},
		{[]string{"serve", "--http", "abc"}, `invalid value "abc" for --http: want a whole number`},
		{[]string{"serve", "--mtu", "big"}, `invalid value "big" for --mtu: want a whole number`},
		{[]string{"nc", "--timeout", "5", "10.9.0.1", "80"}, `invalid value "5" for --timeout: want a duration with a unit`},
		{[]string{"nc", "--msl", "0s", "10.9.0.1", "80"}, `invalid value 0s for --msl: want more than 0`},
		{[]string{"soak", "--seeds", "x"}, `invalid value "x" for --seeds: want a whole number`},
		{[]string{"soak", "--size", "lots"}, `invalid value "lots" for --size: want a size like`},
		{[]string{"soak", "--limit", "0"}, `invalid value 0 for --limit: every run needs a virtual time limit`},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
	} {
		var out, errb bytes.Buffer
		if code := runWith(c.args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", c.args, code)
		}
		want := "synack " + c.args[0] + ": " + c.want
		lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], want) || lines[1] != `run "synack `+c.args[0]+` -h" for usage` {
			t.Errorf("%v: stderr\n%s\nwant the line %q and a pointer to -h", c.args, errb.String(), want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: stdout %q", c.args, out.String())
		}
	}
}

func TestSizesTakeUnits(t *testing.T) {
	for in, want := range map[string]int{"4096": 4096, "64KiB": 64 << 10, "1MiB": 1 << 20, "1MB": 1_000_000, "500kB": 500_000, "2M": 2 << 20} {
		o, err := parseDemo([]string{"--size", in}, new(bytes.Buffer))
		if err != nil || o.size != want {
			t.Errorf("demo --size %s: %d, %v; want %d", in, o.size, err, want)
		}
		so, err := parseSoak([]string{"--size", in}, new(bytes.Buffer))
		if err != nil || so.spec.ClientBytes != want || so.spec.ServerBytes != want {
			t.Errorf("soak --size %s: %d/%d, %v; want %d", in, so.spec.ClientBytes, so.spec.ServerBytes, err, want)
		}
	}
}

func TestHelpCommand(t *testing.T) {
	for _, cmd := range []string{"demo", "serve", "nc", "soak", "version"} {
		var out, errb bytes.Buffer
		if code := run([]string{"help", cmd}, &out, &errb); code != 0 || errb.Len() != 0 {
			t.Errorf("help %s: exit %d, stderr %q", cmd, code, errb.String())
		}
		if !strings.HasPrefix(out.String(), "usage: synack "+cmd) {
			t.Errorf("help %s printed\n%s", cmd, out.String())
		}
		// The same text as -h prints (there on stderr).
		var out2, errb2 bytes.Buffer
		if code := runWith([]string{cmd, "-h"}, &out2, &errb2); code != 0 || errb2.String() != out.String() {
			t.Errorf("%s -h: exit %d, and not what help %s prints:\n%s", cmd, code, cmd, errb2.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"help", "serve"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "-host-addr") || !strings.Contains(out.String(), "second signal exits at once") {
		t.Errorf("help serve: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "  version ") || !strings.Contains(out.String(), "  soak ") {
		t.Errorf("help: exit %d\n%s", code, out.String())
	}
	for _, args := range [][]string{{"help", "nosuch"}, {"nosuch"}, {"help", "demo", "serve"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || strings.Count(errb.String(), "\n") != 2 || !strings.Contains(errb.String(), `run "synack help"`) {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb.String())
		}
	}
}

func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/synack-tcp/synack", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "synack v0.3.0 (revision abc123, 2026-12-01T10:00:00Z, modified) go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH
	if got := versionLine(bi); got != want {
		t.Errorf("versionLine:\n%s\nwant\n%s", got, want)
	}
	bi = &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	if got := versionLine(bi); got != "synack (devel) go1.26.8 "+runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("versionLine without VCS: %s", got)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "synack ") || !strings.Contains(out.String(), runtime.Version()) {
		t.Errorf("synack version: exit %d, %q %q", code, out.String(), errb.String())
	}
}

// demo --json is one object a line: the transitions, then the summary.
func TestDemoJSONSummary(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "--json", "--msl", "1s", "--size", "10KiB"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if s := out.String(); strings.Contains(s, `\u003e`) || !strings.Contains(s, `"conn":"10.0.0.1:`) || !strings.Contains(s, "->10.0.0.2:80") {
		t.Errorf("JSON is HTML-escaped or lacks the connection:\n%s", s)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, l := range lines[:len(lines)-1] {
		var r row
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.From == "" {
			t.Errorf("transition line %q: %v", l, err)
		}
	}
	var s summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatal(err)
	}
	want := []byteCheck{{"client->server", 10240, 10240, true}, {"server->client", 10240, 10240, true}}
	if !s.Summary || !s.OK || len(s.Failed) != 0 || s.Transitions != len(lines)-1 || s.Final["client"] != "CLOSED" || s.Final["server"] != "CLOSED" ||
		len(s.Bytes) != 2 || s.Bytes[0] != want[0] || s.Bytes[1] != want[1] {
		t.Errorf("summary %+v", s)
	}
}

// A failing demo says so in its summary: a link that loses every packet
// from the server leaves the client without its data.
func TestDemoJSONSummaryFailure(t *testing.T) {
	old := wrapEndpoint
	wrapEndpoint = func(name string, ep link.Endpoint) link.Endpoint {
		if name == "server" {
			return blackhole{ep}
		}
		return ep
	}
	t.Cleanup(func() { wrapEndpoint = old })
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "--json", "--msl", "1s"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var s summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatal(err)
	}
	if !s.Summary || s.OK || len(s.Failed) == 0 || s.Bytes[1].Intact {
		t.Errorf("summary %+v", s)
	}
}

// blackhole accepts every packet and delivers none.
type blackhole struct{ link.Endpoint }

func (blackhole) WritePackets(pkts [][]byte, _ []link.PacketInfo) (int, error) { return len(pkts), nil }

// synFlags records the flags of the SYNs an endpoint sends.
type synFlags struct {
	link.Endpoint
	mu    sync.Mutex
	flags []wire.Flags
}

func (s *synFlags) WritePackets(pkts [][]byte, info []link.PacketInfo) (int, error) {
	for _, p := range pkts {
		if len(p) >= 40 && p[9] == 6 && p[33]&byte(wire.SYN) != 0 {
			s.mu.Lock()
			s.flags = append(s.flags, wire.Flags(p[33]))
			s.mu.Unlock()
		}
	}
	return s.Endpoint.WritePackets(pkts, info)
}

// --ecn makes the demo's SYN ask for ECN (ECE and CWR, RFC 3168 6.1.1)
// and the SYN,ACK agree (ECE); without it neither does.
func TestDemoECN(t *testing.T) {
	for _, ecn := range []bool{false, true} {
		seen := map[string]*synFlags{}
		old := wrapEndpoint
		wrapEndpoint = func(name string, ep link.Endpoint) link.Endpoint {
			seen[name] = &synFlags{Endpoint: ep}
			return seen[name]
		}
		args := []string{"demo", "--msl", "1s"}
		if ecn {
			args = append(args, "--ecn")
		}
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		wrapEndpoint = old
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out.String())
		}
		c, s := seen["client"].flags, seen["server"].flags
		if len(c) == 0 || len(s) == 0 {
			t.Fatalf("%v: SYNs %v, SYN,ACKs %v", args, c, s)
		}
		if got := c[0]&(wire.ECE|wire.CWR) == wire.ECE|wire.CWR && s[0]&wire.ECE != 0; got != ecn {
			t.Errorf("%v: SYN %v, SYN,ACK %v", args, c[0], s[0])
		}
	}
	for _, cmd := range []string{"serve", "nc"} {
		args := []string{"--ecn", "10.9.0.1", "80"}
		var ecn bool
		if cmd == "serve" {
			o, err := parseServe([]string{"--ecn", "--http", "0"}, new(bytes.Buffer))
			ecn = err == nil && o.tun.ecn
		} else {
			o, err := parseNC(args, new(bytes.Buffer))
			ecn = err == nil && o.tun.ecn
		}
		if !ecn {
			t.Errorf("%s --ecn: not set", cmd)
		}
	}
}

// nc's dial timeout says what timed out.
func TestNCDialTimeout(t *testing.T) {
	withOpenTUN(t, func(tun.Config) (link.Endpoint, error) { return blackholeTUN{}, nil })
	_, stderr, done := startNC([]string{"--timeout", "200ms", "10.9.0.1", "6001"}, strings.NewReader("x"))
	if code := waitExit(t, done, stderr); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if s := stderr.String(); s != "synack nc: dial 10.9.0.1:6001: no answer to the SYN within --timeout 200ms\n" {
		t.Errorf("stderr %q", s)
	}
}

// blackholeTUN is a device whose kernel never answers.
type blackholeTUN struct{}

func (blackholeTUN) MTU() int             { return 1500 }
func (blackholeTUN) Attach(link.Receiver) {}
func (blackholeTUN) WritePackets(pkts [][]byte, _ []link.PacketInfo) (int, error) {
	return len(pkts), nil
}
func (blackholeTUN) Close() error { return nil }

// A --host-addr whose prefix another interface already holds is refused
// before any device is made, in one line.
func TestHostAddrClash(t *testing.T) {
	old := interfaceAddrs
	t.Cleanup(func() { interfaceAddrs = old })
	interfaceAddrs = func() (map[string][]netip.Prefix, error) {
		return map[string][]netip.Prefix{
			"lo":      {netip.MustParsePrefix("127.0.0.1/8")},
			"synack0": {netip.MustParsePrefix("10.9.0.1/24")},
		}, nil
	}
	opened := false
	withOpenTUN(t, func(tun.Config) (link.Endpoint, error) { opened = true; return blackholeTUN{}, nil })
	for _, args := range [][]string{{"serve", "--http", "0"}, {"nc", "10.9.0.1", "80"}, {"nc", "--host-addr", "10.9.0.1/16", "--addr", "10.9.7.7", "10.9.0.1", "80"}} {
		var out, errb bytes.Buffer
		if code := runWith(args, &out, &errb); code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
		if s := errb.String(); strings.Count(s, "\n") != 1 || !strings.HasPrefix(s, "synack "+args[0]+": --host-addr ") || !strings.Contains(s, "overlaps 10.9.0.1/24 on interface synack0") {
			t.Errorf("%v: stderr %q", args, s)
		}
	}
	if opened {
		t.Error("a TUN device was opened despite the clash")
	}
	for _, p := range []string{"10.9.1.1/24", "192.168.0.1/24", "127.0.0.2/8"} {
		if err := routeClash(netip.MustParsePrefix(p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
