//go:build !linux

package admissioncmd

import "syscall"

// dieWithParent has no Pdeathsig outside Linux: there CMD can outlive a
// killed relay-host, and its etcd lease then expires within the TTL.
func dieWithParent() *syscall.SysProcAttr { return nil }
