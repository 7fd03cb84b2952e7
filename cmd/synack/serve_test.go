package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/pipe"
	"github.com/synack-tcp/synack/link/tun"
	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// badFlags runs each command line and wants exit 2 and two lines: "synack
// CMD: ..." containing want, and the pointer to "synack CMD -h".
func badFlags(t *testing.T, cases map[string][]string) {
	t.Helper()
	for want, args := range cases {
		var out, errb bytes.Buffer
		code := runWith(args, &out, &errb)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, errb.String())
		}
		first, _, _ := strings.Cut(errb.String(), "\n")
		if !strings.Contains(first, want) {
			t.Errorf("%v: first line %q does not contain %q", args, first, want)
		}
		if want := "\nrun \"synack " + args[0] + " -h\" for usage\n"; !strings.HasPrefix(first, "synack "+args[0]+": ") || !strings.HasSuffix(errb.String(), want) || strings.Count(errb.String(), "\n") != 2 {
			t.Errorf("%v: stderr %q, want one line and %q", args, errb.String(), want)
		}
	}
}

// runWith is run with stdin empty for nc.
func runWith(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "nc" {
		return ncMain(args[1:], strings.NewReader(""), stdout, stderr)
	}
	return run(args, stdout, stderr)
}

func TestServeBadFlags(t *testing.T) {
	badFlags(t, map[string][]string{
		"unexpected argument":                  {"serve", "extra"},
		"unknown flag --bogus":                 {"serve", "--bogus"},
		`--addr "nope"`:                        {"serve", "--addr", "nope"},
		`--host-addr "10.9.0.1"`:               {"serve", "--host-addr", "10.9.0.1"},
		"outside --host-addr's prefix":         {"serve", "--addr", "10.8.0.2"},
		"is the kernel's own address":          {"serve", "--addr", "10.9.0.1"},
		"different IP versions":                {"serve", "--addr", "fd00::2"},
		"cannot be a host's address":           {"serve", "--addr", "10.9.0.255"},
		"--tun":                                {"serve", "--tun", "a/b"},
		"--mtu 20":                             {"serve", "--mtu", "20"},
		"--http 70000":                         {"serve", "--http", "70000"},
		"are both port 7":                      {"serve", "--http", "7"},
		"nothing to serve":                     {"serve", "--http", "0", "--echo", "0", "--discard", "0"},
		"is not a directory":                   {"serve", "--dir", "/nonexistent/dir"},
		"invalid value 0s for --msl":           {"serve", "--msl", "0s"},
		"invalid value \"x\" for --echo: want": {"serve", "--echo", "x"},
	})
}

func TestServeHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "-h"}, &out, &errb); code != 0 {
		t.Errorf("serve -h: exit %d, want 0", code)
	}
	for _, want := range []string{"usage: synack serve", "/bytes/N", "-host-addr", "default synack0", "CAP_NET_ADMIN"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("serve -h does not mention %q:\n%s", want, errb.String())
		}
	}
}

// withOpenTUN replaces openTUN for one test.
func withOpenTUN(t *testing.T, f func(tun.Config) (link.Endpoint, error)) {
	old := openTUN
	openTUN = f
	t.Cleanup(func() { openTUN = old })
}

func permissionError(tun.Config) (link.Endpoint, error) {
	return nil, fmt.Errorf("%w: TUNSETIFF: %w (needs CAP_NET_ADMIN)", tun.ErrPermission, syscall.EPERM)
}

func TestNeedsCapNetAdmin(t *testing.T) {
	withOpenTUN(t, permissionError)
	for _, args := range [][]string{
		{"serve"},
		{"serve", "--tun", "x0", "--http", "8080"},
		{"nc", "10.9.0.1", "80"},
		{"nc", "-l", "80"},
	} {
		var out, errb bytes.Buffer
		if code := runWith(args, &out, &errb); code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
		want := "synack " + args[0] + ": creating TUN device needs CAP_NET_ADMIN: run as root, or `sudo setcap cap_net_admin+ep $(which synack)`\n"
		if errb.String() != want {
			t.Errorf("%v: stderr\n%q\nwant\n%q", args, errb.String(), want)
		}
	}
	// Inside a named namespace, setns needs CAP_SYS_ADMIN as well.
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "--netns", "blue"}, &out, &errb); code != 1 {
		t.Errorf("serve --netns: exit %d, want 1", code)
	}
	if s := errb.String(); strings.Count(s, "\n") != 1 || !strings.Contains(s, "CAP_SYS_ADMIN") || !strings.Contains(s, "ip netns exec blue") {
		t.Errorf("serve --netns: stderr %q", s)
	}
}

func TestTUNErrorsAreOneLine(t *testing.T) {
	for _, c := range []struct {
		injected error
		want     string
	}{
		{fmt.Errorf("tun: TUNSETIFF: %w", syscall.EBUSY), "choose another name with --tun"},
		{fmt.Errorf("tun: add address: %w", syscall.EEXIST), "choose another --tun or --host-addr"},
		{errors.New("tun: open /dev/net/tun: no such file or directory (is the tun kernel module loaded?)"), "tun kernel module"},
	} {
		injected, want := c.injected, c.want
		withOpenTUN(t, func(tun.Config) (link.Endpoint, error) { return nil, injected })
		var out, errb bytes.Buffer
		if code := run([]string{"serve"}, &out, &errb); code != 1 {
			t.Errorf("%v: exit %d, want 1", injected, code)
		}
		if s := errb.String(); !strings.HasPrefix(s, "synack serve: ") || strings.Count(s, "\n") != 1 || !strings.Contains(s, want) {
			t.Errorf("%v: stderr %q, want one line containing %q", injected, s, want)
		}
	}
}

func TestBytesHandler(t *testing.T) {
	h := newHTTPHandler(t.TempDir())
	get := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	var seed [32]byte
	want := make([]byte, 200_000)
	rand.NewChaCha8(seed).Read(want)
	for _, n := range []int{0, 1, 65536, 65537, 200_000} {
		rec := get("GET", fmt.Sprintf("/bytes/%d", n))
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), want[:n]) || rec.Header().Get("Content-Length") != fmt.Sprint(n) {
			t.Errorf("/bytes/%d: %d, %d bytes (Content-Length %q)", n, rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
		}
	}
	if rec := get("HEAD", "/bytes/1000"); rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != "1000" {
		t.Errorf("HEAD /bytes/1000: %d, %d bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
	for _, p := range []string{"/bytes/-1", "/bytes/x", "/bytes/1099511627777"} {
		if rec := get("GET", p); rec.Code != 400 {
			t.Errorf("%s: %d, want 400", p, rec.Code)
		}
	}
}

// pipeTUN makes openTUN return one end of an in-memory link and returns a
// stack at the kernel's address (10.9.0.1) on the other end, playing the
// kernel.
func pipeTUN(t *testing.T) *stack.Stack {
	t.Helper()
	ea, eb := pipe.New(1500)
	withOpenTUN(t, func(cfg tun.Config) (link.Endpoint, error) {
		if cfg.Name != defaultTUN || cfg.HostAddr != netip.MustParsePrefix(defaultHostAddr) || cfg.MTU != 1500 {
			t.Errorf("openTUN(%+v): not the defaults", cfg)
		}
		return ea, nil
	})
	peer, err := stack.New(eb, stack.Config{
		Addrs: []netip.Addr{netip.MustParseAddr("10.9.0.1")},
		TCP:   tcp.Config{MSL: 100 * time.Millisecond, WindowScale: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return peer
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestServeOverPipe runs "synack serve" on an in-memory link and talks to
// it from another stack: a file, /bytes/N, echo with half-close, discard;
// then stops it as SIGINT would and checks the transitions it printed.
func TestServeOverPipe(t *testing.T) {
	peer := pipeTUN(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, kernel\n"), 0o644)
	o, err := parseServe([]string{"--http", "8080", "--dir", dir, "--json", "--msl", "100ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- serve(ctx, o, &stdout, &stderr) }()

	hc := &http.Client{Transport: &http.Transport{DialContext: peer.DialContext}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	body := func(url string) []byte {
		t.Helper()
		var resp *http.Response
		var err error
		for i := 0; i < 100; i++ { // until serve listens
			if resp, err = hc.Get(url); err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
		}
		return b
	}
	if got := body("http://10.9.0.2:8080/hello.txt"); string(got) != "hello, kernel\n" {
		t.Errorf("hello.txt: %q", got)
	}
	var seed [32]byte
	want := make([]byte, 1<<20)
	rand.NewChaCha8(seed).Read(want)
	if got := body("http://10.9.0.2:8080/bytes/1048576"); sha256.Sum256(got) != sha256.Sum256(want) {
		t.Errorf("/bytes/1048576: %d bytes, wrong digest", len(got))
	}

	// echo: what we send comes back; our FIN brings theirs.
	c, err := peer.DialTCP(ctx, "tcp", "10.9.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := bytes.Repeat([]byte("echo "), 50_000)
	go func() { c.Write(msg); c.CloseWrite() }()
	if got, err := io.ReadAll(c); err != nil || !bytes.Equal(got, msg) {
		t.Errorf("echo: %d bytes back of %d, %v", len(got), len(msg), err)
	}
	c.Close()

	// discard: takes everything, then closes after our FIN.
	d, err := peer.DialTCP(ctx, "tcp", "10.9.0.2:9")
	if err != nil {
		t.Fatal(err)
	}
	d.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := d.Write(msg); err != nil {
		t.Fatal(err)
	}
	d.CloseWrite()
	if got, err := io.ReadAll(d); err != nil || len(got) != 0 {
		t.Errorf("discard: read %d bytes, %v", len(got), err)
	}
	d.Close()

	// The client closes its idle HTTP connection; once all three have
	// walked to CLOSED, stop serve.
	hc.CloseIdleConnections()
	for end := time.Now().Add(10 * time.Second); strings.Count(stdout.String(), `"from":"LAST-ACK","to":"CLOSED"`) < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("connections did not close:\n%s", stdout.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve: exit %d\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if s := stderr.String(); !strings.Contains(s, "serving http://10.9.0.2:8080/") || !strings.Contains(s, "stopped after 3 connections") ||
		!strings.Contains(s, "stopping: closing connections (up to 8 s); a second Ctrl-C exits at once") {
		t.Errorf("stderr:\n%s", s)
	}
	// Every connection walked the passive side to CLOSED; the listeners
	// opened and closed.
	walks := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(stdout.String()))
	for dec.More() {
		var r row
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		if r.Endpoint != "serve" {
			t.Errorf("endpoint %q", r.Endpoint)
		}
		walks[r.Conn] = append(walks[r.Conn], r.From+">"+r.To)
	}
	conns := 0
	for conn, w := range walks {
		if strings.HasSuffix(conn, "(listener)") {
			if fmt.Sprint(w) != "[CLOSED>LISTEN LISTEN>CLOSED]" {
				t.Errorf("%s: %v", conn, w)
			}
			continue
		}
		conns++
		if want := "[LISTEN>SYN-RECEIVED SYN-RECEIVED>ESTABLISHED ESTABLISHED>CLOSE-WAIT CLOSE-WAIT>LAST-ACK LAST-ACK>CLOSED]"; fmt.Sprint(w) != want {
			t.Errorf("%s walked %v", conn, w)
		}
	}
	if conns != 3 || len(walks) != 6 {
		t.Errorf("%d connections, %d walks in\n%s", conns, len(walks), stdout.String())
	}
}
