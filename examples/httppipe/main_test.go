package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// The README's "Use it from Go" program is this file, byte for byte.
func TestREADMEShowsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Use it from Go\n")
	if !ok {
		t.Fatal(`README.md has no "## Use it from Go" section`)
	}
	_, block, ok := strings.Cut(section, "\n```go\n")
	if !ok {
		t.Fatal("no ```go block in the README's \"Use it from Go\"")
	}
	block, _, ok = strings.Cut(block, "\n```\n")
	if !ok {
		t.Fatal("the README's Go block does not end")
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	if block+"\n" != string(src) {
		t.Errorf("README.md's Go block differs from examples/httppipe/main.go; copy the file into the README.\nREADME:\n%s", block)
	}
}

// The program runs: one request over two stacks, answered.
func TestRun(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	main()
	os.Stdout = stdout
	w.Close()
	var out bytes.Buffer
	io.Copy(&out, r)
	if got, want := out.String(), "200 OK: hello, 10.0.0.1\n"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
}
