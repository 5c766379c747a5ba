package jobs

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// NewID returns a new job id such as "r-20261130T201500Z-3f9a1c2b7d": UTC
// time to the second, so ids sort by creation time, then 40 random bits, so
// two jobs started in the same second do not collide. It is safe as a file
// name on every platform.
func NewID() string {
	var b [5]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return "r-" + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// validID admits NewID's ids and other simple names, and nothing that can
// name another file: no separators, no dots (so no "..", no ".tmp" names,
// no extension tricks), no leading dash. It is ^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$
// written out: that regexp, compiled at start-up, cost every relay-host
// command about 0.28 ms (the bounded repeat unrolls into 127 alternatives).
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
