package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// baseStack is the column of synack built from -baseline: another
// checkout's bench binary, whose workers run its synack (its go.mod
// replaces synack with that checkout), so one invocation measures before
// and after side by side, the runs taking turns on the same machine.
//
//	git worktree add --detach /tmp/synack-base 15079e5
//	go run . -only=bulk -stacks=synack,synack@base -baseline=/tmp/synack-base -runs 5
const baseStack = "synack@base"

// columnOf orders the table's columns: synack@base right after synack.
func columnOf(name string) int {
	if name == baseStack {
		return 1
	}
	i := slices.Index(stackOrder, name)
	if i > 0 {
		i++
	}
	return i
}

// buildBaseline builds dir/bench into a temporary file and returns its
// path.
func buildBaseline(dir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("needs -baseline=DIR, another synack checkout")
	}
	src := filepath.Join(dir, "bench")
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		return "", fmt.Errorf("%s has no bench module: %v", dir, err)
	}
	out, err := os.MkdirTemp("", "synack-bench-base")
	if err != nil {
		return "", err
	}
	exe := filepath.Join(out, "bench-base")
	cmd := exec.Command("go", "build", "-o", exe, ".")
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %v: %s", src, err, strings.TrimSpace(string(b)))
	}
	fmt.Fprintf(os.Stderr, "%s: built %s from %s (%s)\n", baseStack, exe, dir, describe(dir))
	return exe, nil
}

// describe is the baseline checkout's commit, for the log.
func describe(dir string) string {
	b, err := exec.Command("git", "-C", dir, "log", "-1", "--format=%h %s").Output()
	if err != nil {
		return "not a git checkout"
	}
	return strings.TrimSpace(string(b))
}

// exeFor is the binary a stack's workers run: the baseline build for
// synack@base, this binary otherwise.
func exeFor(self string, cfg config, st string) string {
	if st == baseStack {
		return cfg.BaseExe
	}
	return self
}
