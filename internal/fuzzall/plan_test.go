package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestPlanPer(t *testing.T) {
	ts := []target{{Name: "FuzzA"}, {Name: "FuzzB"}}
	got := plan(ts, nil, nil, 10*time.Second, time.Hour, 0)
	want := []slot{{ts[0], 10 * time.Second}, {ts[1], 10 * time.Second}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

// -total is shared by what each target lacks of its goal: FuzzA lacks 3 h
// of 4 h, FuzzB 1 h, FuzzC none; FuzzD lacks 1 h but its share is under
// the floor.
func TestPlanTotalByDeficit(t *testing.T) {
	ts := []target{{Pkg: "./p", Name: "FuzzB"}, {Pkg: "./p", Name: "FuzzA"}, {Pkg: "./p", Name: "FuzzC"}}
	done := map[string]*total{
		key("./p", "FuzzA"): {CPU: 3600},
		key("./p", "FuzzC"): {CPU: 7200},
	}
	goals := map[string]time.Duration{"FuzzA": 4 * time.Hour}
	got := plan(ts, done, goals, 0, 40*time.Minute, time.Minute)
	want := []slot{{ts[1], 30 * time.Minute}, {ts[0], 10 * time.Minute}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	got = plan(ts, done, goals, 0, 20*time.Second, time.Minute)
	want = []slot{{ts[0], time.Minute}, {ts[1], time.Minute}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("floor: got %v, want %v", got, want)
	}
	// Every goal met: share evenly.
	done[key("./p", "FuzzA")].CPU, done[key("./p", "FuzzB")] = 5*3600, &total{CPU: 3600}
	got = plan(ts, done, goals, 0, 30*time.Minute, 0)
	want = []slot{{ts[0], 10 * time.Minute}, {ts[1], 10 * time.Minute}, {ts[2], 10 * time.Minute}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("even: got %v, want %v", got, want)
	}
}

func TestParseGoals(t *testing.T) {
	g, err := parseGoals("FuzzConnPair=4h, FuzzX=30m,")
	if err != nil || g["FuzzConnPair"] != 4*time.Hour || g["FuzzX"] != 30*time.Minute || len(g) != 2 {
		t.Fatalf("%v %v", g, err)
	}
	if goalFor(g, "FuzzOther") != time.Hour {
		t.Fatal("default goal")
	}
	for _, bad := range []string{"FuzzX", "FuzzX=soon", "FuzzX=-1h"} {
		if _, err := parseGoals(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestOnly(t *testing.T) {
	ts := []target{{Name: "FuzzA"}, {Name: "FuzzB"}, {Name: "FuzzC"}}
	got, err := only(ts, "FuzzC,FuzzA")
	if err != nil || !reflect.DeepEqual(got, []target{ts[0], ts[2]}) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := only(ts, "FuzzA,FuzzNope"); err == nil {
		t.Fatal("unknown target accepted")
	}
}

// keepCorpus copies the smallest cache entries testdata lacks, by content,
// and never overwrites a committed file.
func TestKeepCorpus(t *testing.T) {
	dir := t.TempDir()
	cache, td := filepath.Join(dir, "cache"), filepath.Join(dir, "testdata")
	os.MkdirAll(cache, 0o755)
	os.MkdirAll(td, 0o755)
	entry := func(s string) string { return "go test fuzz v1\n[]byte(\"" + s + "\")\n" }
	write := func(d, name, body string) {
		if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(td, "old", entry("a"))
	write(cache, "a1", entry("a"))            // already committed under another name
	write(cache, "b2", entry("bbbbbbbbbbbb")) // the largest
	write(cache, "c3", entry("cc"))
	write(cache, "d4", entry("ddd"))
	write(cache, "junk", "not a corpus file")
	n, err := keepCorpus(cache, td, 2)
	if err != nil || n != 2 {
		t.Fatalf("kept %d, %v", n, err)
	}
	for name, want := range map[string]bool{"old": true, "a1": false, "b2": false, "c3": true, "d4": true, "junk": false} {
		if _, err := os.Stat(filepath.Join(td, name)); (err == nil) != want {
			t.Errorf("%s in testdata: %v, want %v", name, err == nil, want)
		}
	}
	if n, err := keepCorpus(filepath.Join(dir, "none"), td, 5); n != 0 || err != nil {
		t.Fatalf("missing cache: %d, %v", n, err)
	}
}
