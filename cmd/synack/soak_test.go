package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/synack-tcp/synack/internal/simharness"
)

func soakCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"soak"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestSoakPasses(t *testing.T) {
	code, out, errs := soakCmd(t, "--seeds", "20", "--from", "5", "--loss", "5%", "--dup", "1%", "--reorder", "2%", "--size", "64KiB")
	if code != 0 || lastLine(out) != "20 passed, 0 failed" {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if errs != "" {
		t.Fatalf("stderr is not a terminal, yet: %q", errs)
	}
	if !strings.Contains(out, "soak: 20 seeds (5 to 24)") {
		t.Fatalf("no summary line:\n%s", out)
	}
}

func TestSoakGrid(t *testing.T) {
	code, out, errs := soakCmd(t, "--grid", "--seeds", "30", "--from", "100")
	if code != 0 || lastLine(out) != "30 passed, 0 failed" {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}

// Failures print one line each, in seed order whatever order the workers
// finish in, with a command that replays the seed; the exit status is 1.
func TestSoakFailuresInSeedOrder(t *testing.T) {
	defer func(f func(simharness.Spec) simharness.Result) { soakRun = f }(soakRun)
	soakRun = func(s simharness.Spec) simharness.Result {
		r := simharness.Run(s)
		if s.Seed%3 == 0 {
			r.OK, r.Failure = false, "made up"
		}
		return r
	}
	args := []string{"--seeds", "12", "--from", "1", "--workers", "4", "--loss", "2%", "--size", "16KiB/1000"}
	code, out, _ := soakCmd(t, args...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	var fails []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "FAIL") {
			fails = append(fails, l)
		}
	}
	want := []string{"seed 3:", "seed 6:", "seed 9:", "seed 12:"}
	if len(fails) != len(want) {
		t.Fatalf("failure lines %q", fails)
	}
	for i, l := range fails {
		if !strings.HasPrefix(l, want[i]) {
			t.Fatalf("line %d is %q, want it to start %q", i, l, want[i])
		}
	}
	wantReplay := "replay: go run ./cmd/synack soak --from 6 --seeds 1 --loss 2% --size 16KiB/1000"
	if !strings.HasSuffix(fails[1], wantReplay) {
		t.Fatalf("%q does not end with %q", fails[1], wantReplay)
	}
	if lastLine(out) != "8 passed, 4 failed" {
		t.Fatalf("last line %q", lastLine(out))
	}
	// The same flags give the same output, whatever the workers did.
	_, again, _ := soakCmd(t, args...)
	if stripTiming(again) != stripTiming(out) {
		t.Fatalf("outputs differ:\n%s\n%s", out, again)
	}
}

// stripTiming drops the summary line, which reports wall time.
func stripTiming(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "soak:") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// A replay command runs the very spec that failed.
func TestSoakReplayRoundTrip(t *testing.T) {
	s := simharness.GridSpec(4242)
	cmd := simharness.ReplayCommand(s)
	args := strings.Fields(strings.TrimPrefix(cmd, "go run ./cmd/synack soak "))
	code, out, errs := soakCmd(t, append(args, "-v")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	want := simharness.Run(s).Digest.String()[:16]
	if !strings.Contains(out, "digest "+want) {
		t.Fatalf("replay of %q does not show digest %s:\n%s", cmd, want, out)
	}
}

func TestSoakTrace(t *testing.T) {
	code, out, _ := soakCmd(t, "--seeds", "1", "--trace", "--size", "1000")
	if code != 0 || !strings.Contains(out, "SYN-SENT -> ESTABLISHED") || !strings.Contains(out, "[SYN]") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestSoakBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--seeds", "0"},
		{"--loss", "150%"},
		{"--grid", "--loss", "1%"},
		{"--workers", "0"},
		{"--size", "lots"},
		{"stray"},
	} {
		code, out, errs := soakCmd(t, args...)
		if code != 2 || out != "" || !strings.HasSuffix(errs, "\nrun \"synack soak -h\" for usage\n") || strings.Count(errs, "\n") != 2 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
		if first := strings.SplitN(errs, "\n", 2)[0]; !strings.HasPrefix(first, "synack soak: ") {
			t.Errorf("%q: no one-line error before the usage: %q", args, first)
		}
	}
	if code, _, _ := soakCmd(t, "-h"); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
}
