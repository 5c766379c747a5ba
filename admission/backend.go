package admission

import (
	"context"
	"os"
	"time"
)

// Request asks for one lease on Key.
type Request struct {
	Key   string
	Limit int
	// Wait is how long to wait for a slot, oldest waiter first. Zero returns
	// at once.
	Wait time.Duration
	// MaxTotal, when positive, is a cap across all keys of the backend. It is
	// taken before the key's own slot and released after it.
	MaxTotal int
}

// Lease is the right to run one unit of work. Release is idempotent.
type Lease interface {
	Release() error
	// Files are the descriptors a child process must inherit for the lease to
	// live exactly as long as the child (as with flock(1)). Backends whose
	// leases cannot be inherited return nil.
	Files() []*os.File
}

// Backend is a counting semaphore over many keys. Implementations share the
// counts-only contract: a refused Acquire returns a *BlockedError and nothing
// about who holds the slots.
type Backend interface {
	Acquire(ctx context.Context, req Request) (Lease, error)
	// Status counts the live holders of key. Limit is the limit of the most
	// recent acquire on the key (0 when none is known).
	Status(ctx context.Context, key string) (Capacity, error)
	Close() error
}

// ValidLimit reports whether limit is usable. Callers that take limits from
// text must reject non-integers before they get here.
func ValidLimit(limit int) bool { return limit >= 1 }
