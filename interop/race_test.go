//go:build linux && race

package interop

// raceEnabled: the tests run under the race detector, so the synack
// command they build is built with it too.
const raceEnabled = true
