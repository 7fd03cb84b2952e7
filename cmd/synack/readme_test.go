package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The README shows the demo's real output: its transcript of
// "synack demo --msl 1s", and under --json a transition line and the start
// of the summary exactly as the demo prints them (no \u003e escapes).
func TestREADMEShowsTheDemoAsItIs(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	const cmd = "$ go run ./cmd/synack demo --msl 1s\n"
	_, transcript, ok := strings.Cut(readme, cmd)
	if !ok {
		t.Fatalf("README.md has no %q", cmd)
	}
	transcript, _, _ = strings.Cut(transcript, "```")
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "--msl", "1s"}, &out, &errb); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, errb.String())
	}
	if out.String() != transcript {
		t.Errorf("README.md's demo transcript is not what the demo prints; it prints:\n%s", out.String())
	}

	out.Reset()
	if code := run([]string{"demo", "--msl", "1s", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("demo --json: exit %d: %s", code, errb.String())
	}
	row := regexp.MustCompile("\\| `--json` \\| one JSON object per transition: `([^`]+)`, then a summary: `([^`]+)\\.\\.\\.")
	m := row.FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README.md's --json row does not show a transition and a summary")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.Contains(out.String(), m[1]+"\n") {
		t.Errorf("the README's JSON transition %s is not a line of demo --json:\n%s", m[1], out.String())
	}
	if !strings.HasPrefix(lines[len(lines)-1], m[2]) {
		t.Errorf("the README's JSON summary %s... does not start the demo's summary %s", m[2], lines[len(lines)-1])
	}
}
