package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// readBuildInfo is debug.ReadBuildInfo; tests replace it.
var readBuildInfo = debug.ReadBuildInfo

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "usage: synack version\nPrints the module version, the VCS revision and time, and the Go version synack was built with.\n", stderr)
	if err := fs.parse(args); err != nil {
		return exitCode(err)
	}
	if fs.NArg() > 0 {
		return exitCode(fs.bad("unexpected argument %q", fs.Arg(0)))
	}
	bi, ok := readBuildInfo()
	if !ok {
		fmt.Fprintf(stdout, "synack (no build information) %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	}
	fmt.Fprintln(stdout, versionLine(bi))
	return 0
}

// versionLine is "synack VERSION [(revision REV, TIME[, modified])] GO
// OS/ARCH": VERSION is the module's (v1.2.3 from go install ...@v1.2.3,
// "(devel)" from a checkout), the revision what the VCS stamped.
func versionLine(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var vcs []string
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" {
		vcs = append(vcs, "revision "+rev)
	}
	if at != "" {
		vcs = append(vcs, at)
	}
	if modified {
		vcs = append(vcs, "modified")
	}
	line := "synack " + v
	if len(vcs) > 0 {
		line += " (" + strings.Join(vcs, ", ") + ")"
	}
	goVersion := bi.GoVersion
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	return fmt.Sprintf("%s %s %s/%s", line, goVersion, runtime.GOOS, runtime.GOARCH)
}
