package main

import (
	"bytes"
	"strings"
	"testing"
)

func drillCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(append([]string{"drill"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestDrillPasses(t *testing.T) {
	code, out, errs := drillCmd("../../packetdrill/testdata/passive.pkt", "../../packetdrill/testdata/linger.pkt")
	if code != 0 || lastLine(out) != "2 passed, 0 failed, 0 skipped" {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.HasPrefix(out, "PASS ../../packetdrill/testdata/passive.pkt\n") {
		t.Fatalf("no PASS line:\n%s", out)
	}
}

func TestDrillFailsAndSkips(t *testing.T) {
	code, out, errs := drillCmd("../../packetdrill/testdata/badack.pkt", "../../packetdrill/testdata/unsupported.pkt")
	if code != 1 || lastLine(out) != "0 passed, 1 failed, 1 skipped" {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"FAIL ../../packetdrill/testdata/badack.pkt:7:", "- want:", "+ got:", "SKIP ../../packetdrill/testdata/unsupported.pkt: socket option TCP_DEFER_ACCEPT"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDrillStrictDirectory(t *testing.T) {
	code, out, _ := drillCmd("--strict", "../../packetdrill/testdata")
	if code != 1 || !strings.Contains(out, "FAIL ../../packetdrill/testdata/portable.pkt:8:") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestDrillUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--dialect", "solaris", "x.pkt"}, {"--tolerance", "-1s", "x.pkt"}, {"/no/such/file.pkt"}} {
		code, _, errs := drillCmd(args...)
		if code != 2 || errs == "" {
			t.Errorf("drill %q: exit %d, stderr %q; want 2 and a message", args, code, errs)
		}
	}
}

func TestDrillHelp(t *testing.T) {
	code, _, errs := drillCmd("-h")
	if code != 0 || !strings.HasPrefix(errs, "usage: synack drill") || !strings.Contains(errs, "-strict") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}
