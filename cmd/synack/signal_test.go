package main

import (
	"bufio"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/tun"
)

// hangingTUN is a device whose Close never returns, so serve's orderly
// shutdown never ends.
type hangingTUN struct{ blackholeTUN }

func (hangingTUN) Close() error { select {} }

// TestServeSignalChild is the child of TestServeSecondSignalExitsAtOnce:
// a synack serve whose shutdown hangs.
func TestServeSignalChild(t *testing.T) {
	if os.Getenv("SYNACK_SERVE_SIGNAL_CHILD") != "1" {
		t.Skip("run by TestServeSecondSignalExitsAtOnce")
	}
	withOpenTUN(t, func(tun.Config) (link.Endpoint, error) { return hangingTUN{}, nil })
	interfaceAddrs = func() (map[string][]netip.Prefix, error) { return nil, nil }
	os.Exit(runServe([]string{"--http", "0"}, os.Stdout, os.Stderr))
}

// The first SIGINT starts the drain and says so; the second ends the
// process at once, however long the drain would take.
func TestServeSecondSignalExitsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeSignalChild$")
	cmd.Env = append(os.Environ(), "SYNACK_SERVE_SIGNAL_CHILD=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(want string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("serve ended before printing %q", want)
				}
				if strings.Contains(l, want) {
					return
				}
			case <-timeout:
				t.Fatalf("serve never printed %q", want)
			}
		}
	}
	waitLine("serving echo")
	cmd.Process.Signal(syscall.SIGINT)
	waitLine("stopping: closing connections (up to 8 s); a second Ctrl-C exits at once")
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("serve exited after one signal, with its shutdown hanging: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
			t.Errorf("after the second SIGINT: %v, want killed by SIGINT", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve still running 10 s after the second SIGINT")
	}
}
