package main

import (
	"reflect"
	"strings"
	"testing"
)

// Output of a passing run, as the test binary prints it.
const passOut = `fuzz: elapsed: 0s, gathering baseline coverage: 0/51 completed
fuzz: elapsed: 0s, gathering baseline coverage: 51/51 completed, now fuzzing with 1 workers
fuzz: elapsed: 3s, execs: 15305 (4482/sec), new interesting: 13 (total: 64)
fuzz: elapsed: 6s, execs: 30018 (5691/sec), new interesting: 57 (total: 108)
fuzz: elapsed: 9s, execs: 30018 (0/sec), new interesting: 57 (total: 108)
fuzz: elapsed: 10s, execs: 41002 (10984/sec), new interesting: 60 (total: 111)
PASS
`

// Output of the run that found issue 17's input.
const failOut = `fuzz: elapsed: 0s, gathering baseline coverage: 0/50 completed
fuzz: elapsed: 0s, gathering baseline coverage: 50/50 completed, now fuzzing with 2 workers
fuzz: elapsed: 3s, execs: 12345 (4115/sec), new interesting: 3 (total: 53)
fuzz: elapsed: 63s, execs: 281137 (3915/sec), new interesting: 41 (total: 91)
--- FAIL: FuzzConnPair (63.21s)
    --- FAIL: FuzzConnPair (0.00s)
        fuzz_pair_test.go:168: A: EOF after 0 bytes; the peer wrote 768 and closed: true
    
    Failing input written to testdata/fuzz/FuzzConnPair/758185faccddcbae
    To re-run:
    go test -run=FuzzConnPair/758185faccddcbae
FAIL
`

// Output of a worker that crashed (a panic or os.Exit in the target).
const crashOut = `fuzz: elapsed: 0s, gathering baseline coverage: 0/8 completed
fuzz: elapsed: 0s, gathering baseline coverage: 8/8 completed, now fuzzing with 1 workers
fuzz: minimizing 57-byte failing input file
fuzz: elapsed: 1s, minimizing
--- FAIL: FuzzTCPParse (1.02s)
    fuzzing process hung or terminated unexpectedly: exit status 2
    Failing input written to testdata/fuzz/FuzzTCPParse/0123456789abcdef
    To re-run:
    go test -run=FuzzTCPParse/0123456789abcdef
FAIL
`

// A seed corpus entry failing before fuzzing starts: no input is written.
const seedFailOut = `fuzz: elapsed: 0s, gathering baseline coverage: 0/3 completed
--- FAIL: FuzzDeliver (0.00s)
    --- FAIL: FuzzDeliver/seed#1 (0.00s)
        input_test.go:170: deliver: bad checksum accepted
FAIL
`

func TestParseOutputPass(t *testing.T) {
	got := parseOutput(strings.NewReader(passOut))
	want := runStats{Execs: 41002, New: 60, Total: 111}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestParseOutputFail(t *testing.T) {
	got := parseOutput(strings.NewReader(failOut))
	if !got.Failed || got.Execs != 281137 || got.New != 41 || got.Total != 91 {
		t.Fatalf("got %+v", got)
	}
	if got.Input != "testdata/fuzz/FuzzConnPair/758185faccddcbae" {
		t.Fatalf("input %q", got.Input)
	}
	if want := "go test -run=FuzzConnPair/758185faccddcbae ./tcp"; replayCommand(got, "FuzzConnPair", "./tcp") != want {
		t.Fatalf("replay %q, want %q", replayCommand(got, "FuzzConnPair", "./tcp"), want)
	}
	want := []string{"fuzz_pair_test.go:168: A: EOF after 0 bytes; the peer wrote 768 and closed: true"}
	if !reflect.DeepEqual(got.Messages, want) {
		t.Fatalf("messages %q, want %q", got.Messages, want)
	}
}

func TestParseOutputCrash(t *testing.T) {
	got := parseOutput(strings.NewReader(crashOut))
	if !got.Failed || got.Execs != 0 {
		t.Fatalf("got %+v", got)
	}
	if want := "go test -run=FuzzTCPParse/0123456789abcdef ./wire"; replayCommand(got, "FuzzTCPParse", "./wire") != want {
		t.Fatalf("replay %q", replayCommand(got, "FuzzTCPParse", "./wire"))
	}
	if len(got.Messages) != 1 || !strings.Contains(got.Messages[0], "terminated unexpectedly") || !got.hung() {
		t.Fatalf("messages %q", got.Messages)
	}
	if parseOutput(strings.NewReader(failOut)).hung() {
		t.Fatal("a test failure taken for a hung worker")
	}
}

func TestParseOutputSeedFailure(t *testing.T) {
	got := parseOutput(strings.NewReader(seedFailOut))
	if !got.Failed || got.Input != "" {
		t.Fatalf("got %+v", got)
	}
	// No input was written: replay the whole target.
	if want := "go test -run=FuzzDeliver ./stack"; replayCommand(got, "FuzzDeliver", "./stack") != want {
		t.Fatalf("replay %q", replayCommand(got, "FuzzDeliver", "./stack"))
	}
	if len(got.Messages) != 1 || !strings.Contains(got.Messages[0], "bad checksum") {
		t.Fatalf("messages %q", got.Messages)
	}
}

// go test's own fuzz deadline, with no input written, is not a finding
// (CI saw it once: FuzzSegmentInto, 10 s); a real failure or a seed
// failure still is.
func TestParseOutputOutOfTime(t *testing.T) {
	out := "fuzz: elapsed: 0s, gathering baseline coverage: 0/470 completed\n" +
		"--- FAIL: FuzzSegmentInto (11.06s)\n    context deadline exceeded\nFAIL\n"
	got := parseOutput(strings.NewReader(out))
	if !got.Failed || !got.outOfTime() {
		t.Fatalf("got %+v, outOfTime %v", got, got.outOfTime())
	}
	for _, o := range []string{failOut, crashOut, seedFailOut} {
		if parseOutput(strings.NewReader(o)).outOfTime() {
			t.Fatalf("a real failure taken for the deadline:\n%s", o)
		}
	}
}

// The replay command falls back to the input's name when go test printed
// none.
func TestReplayFromInput(t *testing.T) {
	s := runStats{Failed: true, Input: "testdata/fuzz/FuzzX/abc"}
	if got := replayCommand(s, "FuzzX", "./p"); got != "go test -run=FuzzX/abc ./p" {
		t.Fatal(got)
	}
}

func TestParseList(t *testing.T) {
	out := "TestFoo\nFuzzConnPair\nExampleBar\nFuzzSegmentInto\nBenchmarkX\nok  \tgithub.com/synack-tcp/synack/tcp\t0.012s\n"
	if got := parseList(out); !reflect.DeepEqual(got, []string{"FuzzConnPair", "FuzzSegmentInto"}) {
		t.Fatalf("got %q", got)
	}
	if got := parseList("ok  \tx\t0.01s\n"); got != nil {
		t.Fatalf("got %q", got)
	}
}
