package admission

import (
	"context"
	"os"
	"time"
)

// Request asks for one lease on Key.
type Request struct {
	// Key names the semaphore. Leases of one key are counted together by
	// every process that shares the backend (the lock root, or the etcd
	// prefix); different keys affect each other only through MaxTotal.
	Key string
	// Limit is the most leases of Key that this caller lets exist while it
	// holds one, its own included; it must be at least 1. Callers of one
	// key may ask for different limits (a changed relay.hcl, an environment
	// cap): an acquire is admitted only while the leases held plus the
	// waiters ahead of it are fewer than the lowest of its own Limit and the
	// Limit of every lease held now. So every holder's limit holds for as
	// long as it holds its lease: a caller asking for more cannot push the
	// count past it, and a caller asking for less waits until the count is
	// below its own. A holder whose limit cannot be read still counts, but
	// does not lower the bound.
	Limit int
	// Wait is how long to wait for a slot, oldest waiter first. Zero returns
	// at once.
	Wait time.Duration
	// MaxTotal, when positive, is a cap across all keys of the backend, kept
	// by the same rule as Limit. It is taken before the key's own slot and
	// released after it.
	MaxTotal int
	// IgnoreCooldown admits while the key cools down (an operator's
	// override: review --ignore-cooldown); the slots still count.
	IgnoreCooldown bool
}

// Lease is the right to run one unit of work.
type Lease interface {
	// Release frees the lease's slots (the key's, then max_total's) for the
	// oldest waiter, wherever it waits. It is idempotent and safe to call
	// from any goroutine. It ends the lease for every process that shares
	// it through Files, so call it only once the work (and any child that
	// inherited Files) is done. A lost lease has nothing left to free and
	// Release returns nil; after the backend's Close, the slot ends as Close
	// says and Release may return an error (ErrClosed for a local lease).
	Release() error
	// Files are the descriptors a child process must inherit for the lease to
	// live exactly as long as the child (as with flock(1)). Backends whose
	// leases cannot be inherited return nil. They stay owned by the lease:
	// do not close them.
	Files() []*os.File
}

// LossNotifier is implemented by leases that can be lost while held: a lease
// bound to a server-side TTL (the etcd backend) ends when its keep-alive
// fails, whatever the holder does. Lost's channel is closed once the lease is
// known to be gone without Release having been called; it never closes after
// a Release. The holder must then stop the work the lease admitted (the host
// cancels the review and records admission_lost): the slot may already be
// someone else's.
//
// Local leases are kernel locks that live as long as their holder, cannot
// be lost, and do not implement it.
type LossNotifier interface {
	Lost() <-chan struct{}
}

// Backend is a counting semaphore over many keys, shared by every process
// that uses the same store. Implementations are safe for concurrent use and
// keep one contract:
//
// Acquire returns a Lease, or an error and holds nothing (a max_total slot
// taken before a refused key slot is given back). A refusal is a
// *BlockedError with counts only, never who holds the slots, and Scope
// ScopeMaxTotal when the global cap refused:
//   - ReasonInvalidLimit: Limit < 1 or MaxTotal < 0, before anything is
//     taken (a key that is empty is a plain error);
//   - ReasonAtCapacity: no slot is free for the caller (counting the
//     waiters ahead of it, by the rule of Request.Limit) and Wait is zero;
//   - ReasonWaitTimeout: Wait passed first; one budget covers both caps;
//   - ReasonGateTimeout (local): a stopped process holds the key's gate;
//   - ReasonBackendUnavailable (etcd): the store did not answer. Both fail
//     closed: no backend ever admits on a doubt;
//   - ReasonCoolingDown: the key's cooldown is active (Cooldown.Active),
//     with Cooldown and RetryAfterS set. With Wait, the caller waits for
//     it to end, in the queue, as for a slot; one that lasts past Wait (or
//     a corrupt record, which lasts until cleaned) refuses at once.
//
// A cooldown is a key's refusal of every acquire until a time, shared
// through the same store as the slots, so that one process's "429, retry
// after 20 s" keeps every process and machine from sending into it. The
// backend stores it; the caller decides when to set one and for how long.
// A cooldown that has ended refuses nothing, whether or not it is still
// stored.
//
// Waiters are served in FIFO order: a slot that frees goes to the oldest
// live waiter, and a newcomer never passes a waiter. When ctx is done
// before a lease is granted, Acquire returns ctx.Err() unwrapped and
// leaves the queue as if it had never waited; if ctx is already done,
// Acquire may still succeed without blocking. After Close, Acquire
// returns ErrClosed. Any other error (an unsafe lock root is a
// *RootError) means the backend could not look, and nothing was admitted.
type Backend interface {
	Acquire(ctx context.Context, req Request) (Lease, error)
	// Status counts the live holders of key (Capacity.ActiveCount). Its
	// Limit is the limit in force by the rule of Request.Limit: the lowest
	// limit a live holder recorded; with no holders, the limit of the most
	// recent acquire on the key where the backend keeps one (local), else 0.
	Status(ctx context.Context, key string) (Capacity, error)
	// Cooldown returns key's cooldown as stored, ended or not (the zero
	// Cooldown when there is none); a record the backend cannot read is
	// CooldownCorrupt and refuses acquires (local: until `admission clean`).
	Cooldown(ctx context.Context, key string) (Cooldown, error)
	// SetCooldown replaces key's cooldown with c (see Cooldown.Validate),
	// at once for every process that shares the backend. It does not
	// touch leases already held.
	SetCooldown(ctx context.Context, key string, c Cooldown) error
	// ClearCooldown ends key's cooldown, a corrupt record included.
	ClearCooldown(ctx context.Context, key string) error
	// Close releases what the backend keeps open. Leases still held end:
	// at once for the local backend (the kernel drops their locks), within
	// the lease TTL for etcd.
	Close() error
}
