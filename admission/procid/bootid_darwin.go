//go:build darwin

package procid

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// kern.bootsessionuuid is regenerated only at boot. kern.boottime is
// wall-clock time minus uptime, so an NTP or manual clock step shifts it
// without a reboot; since a changed boot id is the only proof that lets an
// unverifiable holder's slot be reclaimed, a clock-derived id would let a
// clock step reclaim a live holder. It is used only on systems too old to
// have kern.bootsessionuuid.
func platformBootIDSources() []bootIDSource {
	return []bootIDSource{
		func() (string, error) { return unix.Sysctl("kern.bootsessionuuid") },
		func() (string, error) {
			tv, err := unix.SysctlTimeval("kern.boottime")
			if err != nil {
				return "", err
			}
			return fmt.Sprintf(bootTimeIDPrefix+"%d.%06d", tv.Sec, tv.Usec), nil
		},
	}
}
