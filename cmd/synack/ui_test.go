package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/tun"
)

// A --ui address that cannot be bound is one line and exit 1, before the
// stack (or the TUN device) starts.
func TestUIAddressInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	withOpenTUN(t, func(tun.Config) (link.Endpoint, error) {
		t.Error("the TUN device was opened despite a bad --ui")
		return nil, os.ErrInvalid
	})
	for _, args := range [][]string{
		{"serve", "--ui", busy.Addr().String()},
		{"nc", "--ui", busy.Addr().String(), "10.9.0.1", "80"},
		{"demo", "--ui", busy.Addr().String()},
		{"serve", "--ui", "no-port"},
	} {
		var out, errb strings.Builder
		if code := runWith(args, &out, &errb); code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
		s := errb.String()
		if !strings.HasPrefix(s, "synack "+args[0]+": --ui "+args[2]+": cannot listen there: ") || strings.Count(s, "\n") != 1 {
			t.Errorf("%v: stderr %q, want one line about --ui", args, s)
		}
		if out.Len() != 0 {
			t.Errorf("%v: the demo ran: %q", args, out.String())
		}
	}
}

var pageURL = regexp.MustCompile(`watch it live at (http://[0-9.:]+/)|open (http://[0-9.:]+/) to watch`)

// waitURL waits for the page's address on stderr.
func waitURL(t *testing.T, stderr *syncBuffer) string {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if m := pageURL.FindStringSubmatch(stderr.String()); m != nil {
			return m[1] + m[2]
		}
		if time.Now().After(end) {
			t.Fatalf("no page address in stderr:\n%s", stderr.String())
		}
	}
}

// serve --ui --pcap: the page's endpoints answer about the running stack,
// and the capture has the packets.
func TestServeUIAndPcap(t *testing.T) {
	peer := pipeTUN(t)
	capFile := filepath.Join(t.TempDir(), "serve.pcap")
	var stderr, stdout syncBuffer
	o, err := parseServe([]string{"--http", "0", "--discard", "0", "--ui", "127.0.0.1:0", "--pcap", capFile, "--msl", "100ms"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- serve(ctx, o, &stdout, &stderr) }()
	url := waitURL(t, &stderr)

	c, err := peer.Dial("tcp", "10.9.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hello"))
	io.ReadFull(c, make([]byte, 5))
	var snap struct {
		Conns []struct{ Endpoint, State, Remote string }
	}
	resp, err := http.Get(url + "conns")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	states := []string{}
	for _, x := range snap.Conns {
		if x.Endpoint != "serve" {
			t.Errorf("endpoint %q, want serve", x.Endpoint)
		}
		states = append(states, x.State)
	}
	if strings.Join(states, " ") != "LISTEN ESTABLISHED" {
		t.Errorf("/conns states %v, want the echo listener and one ESTABLISHED", states)
	}
	resp, err = http.Get(url + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `synack_connections{endpoint="serve",state="ESTABLISHED"} 1`) {
		t.Errorf("/metrics lacks the ESTABLISHED connection")
	}
	c.Close()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve: exit %d\n%s", code, stderr.String())
	}
	if _, err := http.Get(url); err == nil {
		t.Error("the page still answers after serve stopped")
	}
	// The capture: a pcap header, then at least the handshake, the data
	// both ways and the close (7 segments or more).
	raw, err := os.ReadFile(capFile)
	if err != nil || len(raw) < 24 || binary.LittleEndian.Uint32(raw) != 0xa1b2c3d4 {
		t.Fatalf("pcap: %v, %d bytes", err, len(raw))
	}
	n := 0
	for p := raw[24:]; len(p) >= 16; n++ {
		l := int(binary.LittleEndian.Uint32(p[8:]))
		if len(p) < 16+l {
			t.Fatalf("record %d truncated", n)
		}
		p = p[16+l:]
	}
	if n < 7 {
		t.Errorf("%d packets captured, want at least 7", n)
	}
}

// demo --ui replays the transitions on /events, the same objects as
// --json prints, in order.
func TestDemoReplay(t *testing.T) {
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"demo", "--json", "--msl", "1s", "--scenario", "simultaneous-open", "--ui", "127.0.0.1:0", "--speed", "1000", "--ui-exit"}, &stdout, &stderr)
	}()
	url := waitURL(t, &stderr)
	resp, err := http.Get(url + "events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var want []string // the transitions (not a summary object, if any)
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if strings.Contains(l, `"t_ms"`) {
			want = append(want, l)
		}
	}
	if len(want) < 10 {
		t.Fatalf("demo printed %d transitions:\n%s", len(want), stdout.String())
	}
	var got []string
	sc := bufio.NewScanner(resp.Body)
	for len(got) < len(want) && sc.Scan() {
		if s, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			got = append(got, s)
		}
	}
	for i := range want {
		var a, b map[string]any
		json.Unmarshal([]byte(want[i]), &a)
		if i >= len(got) || json.Unmarshal([]byte(got[i]), &b) != nil || !mapsEqual(a, b) {
			t.Fatalf("event %d: replay sent %v, demo printed %s", i, got, want[i])
		}
	}
	if code := <-done; code != 0 {
		t.Errorf("demo: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "replayed ") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

func mapsEqual(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// nc -l --ui --pcap: the page shows nc's one connection, and the capture
// holds its packets.
func TestNCUIAndPcap(t *testing.T) {
	peer := pipeTUN(t)
	capFile := filepath.Join(t.TempDir(), "nc.pcap")
	stdinR, stdinW := io.Pipe()
	_, stderr, done := startNC([]string{"-l", "--ui", "127.0.0.1:0", "--pcap", capFile, "6001"}, stdinR)
	url := waitURL(t, stderr)
	var c net.Conn
	var err error
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err = peer.Dial("tcp", "10.9.0.2:6001"); err == nil || time.Now().After(end) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var snap struct {
			Conns []struct{ Endpoint, State string }
		}
		resp, err := http.Get(url + "conns")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&snap)
		resp.Body.Close()
		got = got[:0]
		for _, x := range snap.Conns {
			got = append(got, x.Endpoint+" "+x.State)
		}
		if strings.Join(got, ",") == "nc ESTABLISHED" || time.Now().After(end) {
			break
		}
	}
	if strings.Join(got, ",") != "nc ESTABLISHED" {
		t.Errorf("/conns shows %v, want nc's one ESTABLISHED connection", got)
	}
	c.Write([]byte("hi\n"))
	c.Close()
	stdinW.Close()
	if code := waitExit(t, done, stderr); code != 0 {
		t.Fatalf("nc: exit %d\n%s", code, stderr.String())
	}
	fi, err := os.Stat(capFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 24+6*(16+40) { // header, then 6 records of 40-byte headers at least
		t.Errorf("capture: %d bytes, want the handshake, data and close", fi.Size())
	}
}
