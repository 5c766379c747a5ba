//go:build unix

package sdk

import (
	"net"
	"os"
	"strconv"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// holdLease serves the lease channel named by [EnvLeaseFD], if any: it says
// hello, then keeps every descriptor relay-host sends until the process
// exits. They are deliberately never closed; net's ReadMsgUnix receives
// them close-on-exec, so no child inherits them.
func holdLease(logger hclog.Logger) {
	v := os.Getenv(EnvLeaseFD)
	if v == "" {
		return
	}
	os.Unsetenv(EnvLeaseFD) // not for the CLIs
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		logger.Warn("ignoring a malformed lease channel", "value", v)
		return
	}
	// Inherited without close-on-exec: a plain os/exec child would get it.
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "relay-lease")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		logger.Warn("cannot use the lease channel", "error", err)
		return
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		logger.Warn("the lease channel is not a unix socket")
		return
	}
	if _, err := uc.Write([]byte{LeaseHello}); err != nil {
		uc.Close()
		return
	}
	go func() {
		buf := make([]byte, 1)
		oob := make([]byte, unix.CmsgSpace(16*4))
		for {
			n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
			if err != nil || n == 0 {
				return // host gone: the descriptors stay held until exit
			}
			held := 0
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for i := range msgs {
					fds, _ := unix.ParseUnixRights(&msgs[i])
					held += len(fds)
				}
			}
			logger.Debug("holding the review's admission lock", "descriptors", held)
			if buf[0] == LeaseOffer {
				uc.Write([]byte{LeaseAck})
			}
		}
	}()
}
