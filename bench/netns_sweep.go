package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/synack-tcp/synack/internal/netns"
)

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/var/run/netns"

// sweepNetns deletes the namespaces a bench worker with process id pid
// left behind. A TUN or veth pair deletes its namespaces when the run
// ends, even on error, but a child that is killed (-timeout), panics or
// exits from its watchdog cannot; the parent calls this after every child.
// internal/netns names them PREFIX-PID-N, and every bench prefix starts
// with "bench-". It returns the names it deleted.
func sweepNetns(pid int) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var gone []string
	var errs []string
	for _, e := range entries {
		if !leftBy(e.Name(), pid) {
			continue
		}
		if out, err := runIP("netns", "del", e.Name()); err != nil {
			errs = append(errs, fmt.Sprintf("ip netns del %s: %v: %s", e.Name(), err, strings.TrimSpace(string(out))))
			continue
		}
		gone = append(gone, e.Name())
	}
	if len(errs) > 0 {
		return gone, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return gone, nil
}

// leftBy reports whether name is a bench namespace made by process pid:
// bench-...-PID-N with N a number.
func leftBy(name string, pid int) bool {
	if !strings.HasPrefix(name, "bench-") {
		return false
	}
	rest, n, ok := cutLast(name)
	if !ok || !isNumber(n) {
		return false
	}
	_, p, ok := cutLast(rest)
	return ok && p == strconv.Itoa(pid)
}

func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// runIP runs iproute2's ip with netns.RunTimeout.
func runIP(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), netns.RunTimeout)
	defer cancel()
	return exec.CommandContext(ctx, ipCommand(), args...).CombinedOutput()
}
