package pluginhost

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/relay-host/relay-host/sdk"
)

// How long ShareLease waits for a plugin's hello (written before its
// handshake, so an SDK plugin's is already there) and for its answer.
const (
	leaseHelloWait = 50 * time.Millisecond
	leaseAckWait   = 2 * time.Second
)

// errNoLeaseChannel is a plugin that did not say hello: not built on the SDK,
// or on one older than the lease channel.
var errNoLeaseChannel = errors.New("the plugin does not take the admission lock")

// leaseChannel makes the socket pair of the lease channel (sdk.EnvLeaseFD):
// the host's end, and the plugin's, to pass in ExtraFiles and close once
// the plugin has started.
func leaseChannel() (*net.UnixConn, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("lease channel: %w", err)
	}
	hostEnd := os.NewFile(uintptr(fds[0]), "relay-lease-host")
	c, err := net.FileConn(hostEnd)
	hostEnd.Close()
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("lease channel: %w", err)
	}
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "relay-lease-plugin"), nil
}

// ShareLease hands the plugin a copy of each of files, the locked slot
// descriptors of the review's lease (admission.Lease.Files), and returns
// once the plugin holds them. From then on the slot stays held until the
// host has released it or both the host and the plugin are gone; an SDK
// plugin dies only after killing its CLIs' process groups and its own, so
// a SIGKILLed host's slot is not free while any process of the review can
// still run. A plugin that does not speak the channel gets nothing and
// ShareLease says so; the review is then covered by the kills alone.
func (p *Plugin) ShareLease(files []*os.File) error {
	if p == nil || p.lease == nil || len(files) == 0 {
		return nil
	}
	c := p.lease
	b := make([]byte, 1)
	c.SetDeadline(time.Now().Add(leaseHelloWait))
	if n, err := c.Read(b); n != 1 || err != nil || b[0] != sdk.LeaseHello {
		return errNoLeaseChannel
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	c.SetDeadline(time.Now().Add(leaseAckWait))
	if _, _, err := c.WriteMsgUnix([]byte{sdk.LeaseOffer}, unix.UnixRights(fds...), nil); err != nil {
		return fmt.Errorf("hand the admission lock to the plugin: %w", err)
	}
	if n, err := c.Read(b); n != 1 || err != nil || b[0] != sdk.LeaseAck {
		return fmt.Errorf("the plugin did not confirm it holds the admission lock: %v", err)
	}
	return nil
}

// NoLeaseChannel reports whether err is ShareLease's answer for a plugin
// that does not take the lock (not a failure of one that does).
func NoLeaseChannel(err error) bool { return errors.Is(err, errNoLeaseChannel) }
