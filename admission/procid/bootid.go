package procid

import (
	"os"
	"strings"
	"sync"
)

// bootIDOverrideEnv replaces the platform boot id (tests simulate a reboot).
const bootIDOverrideEnv = "RELAY_BOOT_ID"

// bootTimeIDPrefix marks the clock-derived macOS fallback (bootid_darwin.go).
const bootTimeIDPrefix = "boottime-"

// unknownBootIDPrefix marks the fallback boot id. It is constant per host, so
// it can never differ across a reboot and never proves one (see Reclaimable).
const unknownBootIDPrefix = "unknown-"

// bootIDFallbackWarning is what BootIDWarning reports when no source worked.
const bootIDFallbackWarning = "admission: no boot id source is available on this host; " +
	"using a per-host constant, so after a reboot a slot whose holder cannot be inspected " +
	"is not reclaimed automatically and must be removed by hand"

// bootIDSource reads one platform boot id; an empty result counts as failure.
type bootIDSource func() (string, error)

// bootIDCache holds BootID's result: the boot id cannot change while this
// process runs, and reading it once keeps every record of the process equal.
var bootIDCache struct {
	once    sync.Once
	id      string
	warning string
}

// BootID identifies the current boot of this host. It differs after every
// reboot and is the only evidence that lets an unverifiable holder's slot be
// reclaimed. It is read once per process; RELAY_BOOT_ID overrides it.
func BootID() string {
	bootIDCache.once.Do(func() {
		bootIDCache.id, bootIDCache.warning = bootIDFrom(os.Getenv, os.Hostname, platformBootIDSources()...)
	})
	return bootIDCache.id
}

// BootIDWarning returns a one-line warning when BootID had to fall back to
// the constant unknown-<hostname>, and "" otherwise. The caller logs it once.
func BootIDWarning() string {
	BootID()
	return bootIDCache.warning
}

// bootIDFrom picks the boot id: the override, else the first source that
// answers, else unknown-<hostname> with a warning.
func bootIDFrom(getenv func(string) string, hostname func() (string, error), sources ...bootIDSource) (id, warning string) {
	if v := strings.TrimSpace(getenv(bootIDOverrideEnv)); v != "" {
		return v, ""
	}
	for _, src := range sources {
		if v, err := src(); err == nil {
			if v = strings.TrimSpace(v); v != "" {
				return v, ""
			}
		}
	}
	host, err := hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return unknownBootIDPrefix + host, bootIDFallbackWarning
}

// SameBoot reports whether two boot ids prove one boot of one kernel: both
// are real and equal. An empty or unknown-… id is a constant that says
// nothing about which kernel wrote it.
func SameBoot(recorded, current string) bool {
	return recorded != "" && !IsFallbackBootID(recorded) && recorded == current
}

// IsFallbackBootID reports whether id is the unknown-<hostname> constant that
// BootID falls back to. No reboot can make it differ, so a holder recorded
// under it can never be proven gone by its boot id.
func IsFallbackBootID(id string) bool { return strings.HasPrefix(id, unknownBootIDPrefix) }
