package main

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// runStats is what one fuzzing run's output says.
type runStats struct {
	Execs    int64  // executions, from the last progress line
	New      int    // "new interesting" entries this run
	Total    int    // corpus size at the end (seed, testdata and cache)
	Failed   bool   // a --- FAIL line was printed
	Input    string // "Failing input written to" this path
	Replay   string // the "go test -run=..." line printed to re-run it
	Messages []string
}

var (
	progressRE = regexp.MustCompile(`^fuzz: elapsed: \S+, execs: (\d+) \([^)]*\)(?:, new interesting: (\d+) \(total: (\d+)\))?`)
	failRE     = regexp.MustCompile(`^\s*--- FAIL: (\S+)`)
	inputRE    = regexp.MustCompile(`Failing input written to (\S+)`)
	replayRE   = regexp.MustCompile(`^\s*(go test -run=\S+)`)
)

// observe folds one output line into s.
func (s *runStats) observe(line string) {
	if m := progressRE.FindStringSubmatch(line); m != nil {
		s.Execs, _ = strconv.ParseInt(m[1], 10, 64)
		if m[2] != "" {
			s.New, _ = strconv.Atoi(m[2])
			s.Total, _ = strconv.Atoi(m[3])
		}
		return
	}
	if m := inputRE.FindStringSubmatch(line); m != nil {
		s.Input = m[1]
		return
	}
	if m := replayRE.FindStringSubmatch(line); m != nil {
		s.Replay = m[1]
		return
	}
	if failRE.MatchString(line) {
		s.Failed = true
		return
	}
	t := strings.TrimSpace(line)
	// The test's own messages (file.go:N: ...) and a crashed worker's
	// report are what the user needs to see of a failure.
	if s.Failed && t != "" && t != "FAIL" && t != "To re-run:" && len(s.Messages) < 20 {
		s.Messages = append(s.Messages, t)
	}
}

// hung reports whether go test said a worker hung or died, rather than a
// test failing.
func (s runStats) hung() bool {
	for _, m := range s.Messages {
		if strings.Contains(m, "hung or terminated unexpectedly") {
			return true
		}
	}
	return false
}

// outOfTime reports whether the only failure go test reported is its own
// fuzz deadline ("context deadline exceeded", no failing input written):
// the -fuzztime ran out while the coordinator was busy (minimizing a new
// input, say). Nothing failed in the target; seen once in CI's 10 s runs.
func (s runStats) outOfTime() bool {
	if !s.Failed || s.Input != "" || len(s.Messages) == 0 {
		return false
	}
	for _, m := range s.Messages {
		if !strings.Contains(m, "context deadline exceeded") {
			return false
		}
	}
	return true
}

// parseOutput reads a whole run's output.
func parseOutput(r io.Reader) runStats {
	var s runStats
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		s.observe(sc.Text())
	}
	return s
}

// replayCommand is the command that replays a failing input: the one go
// test printed, with the package added (it prints it for the package
// directory).
func replayCommand(s runStats, target, pkg string) string {
	if s.Replay != "" {
		return s.Replay + " " + pkg
	}
	if s.Input != "" {
		name := s.Input[strings.LastIndex(s.Input, "/")+1:]
		return "go test -run=" + target + "/" + name + " " + pkg
	}
	return "go test -run=" + target + " " + pkg
}

var fuzzNameRE = regexp.MustCompile(`^Fuzz\w*$`)

// parseList picks the fuzz targets out of `go test -list` output (one name
// a line, then "ok  pkg time").
func parseList(out string) []string {
	var names []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); fuzzNameRE.MatchString(l) {
			names = append(names, l)
		}
	}
	return names
}
