module github.com/synack-tcp/synack/bench

go 1.26.8

require (
	github.com/synack-tcp/synack v0.0.0-00010101000000-000000000000
	gvisor.dev/gvisor v0.0.0-20250503011706-39ed1f5ac29c
)

require (
	github.com/google/btree v1.1.2 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/time v0.7.0 // indirect
)

replace github.com/synack-tcp/synack => ../
