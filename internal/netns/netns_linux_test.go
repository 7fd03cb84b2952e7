//go:build linux

package netns

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestNewRunClose(t *testing.T) {
	SkipUnlessAvailable(t)
	a, err := New("synack/test name")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := New("synack/test name")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if a.Name() == b.Name() {
		t.Fatalf("two namespaces named %q", a.Name())
	}
	if strings.ContainsAny(a.Name(), "/ ") {
		t.Fatalf("name %q not sanitized", a.Name())
	}
	if _, err := os.Stat(a.Path()); err != nil {
		t.Fatal(err)
	}

	out, err := a.Run("ip", "-o", "link", "show")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], "lo:") || !strings.Contains(lines[0], "UP") {
		t.Fatalf("want only lo, up; got:\n%s", out)
	}
	if _, err := a.Run("false"); err == nil {
		t.Fatal("Run(false) succeeded")
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(a.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("namespace file after Close: %v", err)
	}
}

func TestDo(t *testing.T) {
	ns := ForTest(t)
	var ln net.Listener
	err := ns.Do(func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		if len(ifs) != 1 || ifs[0].Name != "lo" {
			t.Errorf("interfaces inside: %v, want only lo", ifs)
		}
		ln, err = net.Listen("tcp4", "127.0.0.1:0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()

	// The listener stays in the namespace: reachable from inside only.
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	err = ns.Do(func() error {
		c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		t.Fatalf("dial inside: %v", err)
	}
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no accept within 5s")
	}

	// The calling thread is back in its own namespace afterwards.
	if ifs, err := net.Interfaces(); err != nil || len(ifs) == 0 {
		t.Fatalf("interfaces outside: %v, %v", ifs, err)
	}

	want := errors.New("boom")
	if err := ns.Do(func() error { return want }); err != want {
		t.Fatalf("Do returned %v, want %v", err, want)
	}
	func() {
		defer func() {
			if pv := recover(); pv != "panic inside" {
				t.Fatalf("recovered %v", pv)
			}
		}()
		ns.Do(func() error { panic("panic inside") })
	}()
}

type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Fatalf(format string, a ...any) { f.fatal = format }
func (f *fakeTB) Skipf(format string, a ...any)  { f.skip = format }

func TestSkipUnless(t *testing.T) {
	t.Setenv(RequireEnv, "")
	var f fakeTB
	skipUnless(&f, true, "")
	if f.fatal != "" || f.skip != "" {
		t.Fatal("available but skipped or failed")
	}
	skipUnless(&f, false, "no privilege")
	if f.skip == "" || f.fatal != "" {
		t.Fatal("unavailable without env: want a skip")
	}
	t.Setenv(RequireEnv, "1")
	f = fakeTB{}
	skipUnless(&f, false, "no privilege")
	if f.fatal == "" || f.skip != "" {
		t.Fatal("unavailable with env: want a failure")
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "synack",
		"TestX/sub_case":        "TestX-sub_case",
		"//":                    "synack",
		strings.Repeat("a", 40): strings.Repeat("a", 24),
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}
