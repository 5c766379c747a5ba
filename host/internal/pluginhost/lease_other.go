//go:build !linux

package pluginhost

import (
	"net"
	"os"
)

// leaseChannel is Linux-only for now: elsewhere a review's lease is
// covered by the plugin's and the host's kills alone.
func leaseChannel() (*net.UnixConn, *os.File, error) { return nil, nil, nil }

// ShareLease does nothing where there is no lease channel.
func (p *Plugin) ShareLease([]*os.File) error { return nil }

// NoLeaseChannel reports whether err is ShareLease's answer for a plugin
// that does not take the lock.
func NoLeaseChannel(error) bool { return false }
