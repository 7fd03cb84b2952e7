//go:build !linux

package stack

// physicalMemory is unknown here: the budget defaults to 1 GiB.
func physicalMemory() int64 { return 0 }
