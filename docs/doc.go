// Package docs holds synack's documents that code keeps honest:
// rfc9293.md, the table of every RFC 9293 requirement, whose test checks
// that every id is there once and that every test and function it names
// exists.
package docs
