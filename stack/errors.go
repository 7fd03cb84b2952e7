package stack

import (
	"syscall"

	"github.com/synack-tcp/synack/tcp"
)

// mapErr turns a TCB error into the errno package net users test for with
// errors.Is.
func mapErr(err error) error {
	switch err {
	case tcp.ErrReset:
		return syscall.ECONNRESET
	case tcp.ErrRefused:
		return syscall.ECONNREFUSED
	case tcp.ErrTimeout:
		return syscall.ETIMEDOUT
	case tcp.ErrClosing:
		return syscall.EPIPE
	case tcp.ErrNotExist:
		return syscall.ENOTCONN
	case tcp.ErrNetUnreachable, tcp.ErrHostUnreachable, tcp.ErrTimeExceeded, tcp.ErrParamProblem, tcp.ErrProtoUnreachable:
		return icmpErrno(err)
	}
	return err
}
