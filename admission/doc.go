// Package admission is relay-host's crash-safe counting semaphore.
//
// A concurrency key and a positive limit define a semaphore: at no instant do
// more leases of one key exist, across all processes that share a lock root,
// than the limit any of their holders asked for (the rule is on
// Request.Limit; the etcd backend in admission/etcd keeps it across hosts).
// Backend states the whole contract. Every lease is a slot file that its holder keeps an exclusive
// advisory lock on (flock) for the lease's whole life, and every acquire counts
// all slots of the key under a per-key gate that is itself a kernel lock. The
// kernel drops both locks when a holder dies, however it dies, so a SIGKILLed
// holder frees its slot at the very next acquire and nothing can wedge the gate.
//
// A lock-backed record whose lock is free is dead when its lock was taken on
// this kernel: this hostname, or this boot id under another hostname (a
// container sharing the lock root, a renamed host). Records without that
// promise (written by hand) and another kernel's records are classified by
// process identity instead (package procid): alive, dead, unverifiable or
// foreign; judge (reclaim.go) is the one place that decides, for acquire and
// for status and clean alike. Anything the
// semaphore cannot parse fails closed: it counts as occupied until an operator
// runs `relay-host admission clean`.
//
// What leaves this package about a blocked acquire is counts only
// ({reason, capacity: {active_count, limit}}): never a holder's pid, host, path
// or the slug of a key that came from an identity hash.
//
// Where things are: backend.go states the contract and local.go implements
// it on the file system; semaphore.go is what one key keeps open, gate.go
// its gate and the gate's header, files.go its slot and waiter files and
// record.go what they hold; acquire.go is one try under the gate, queue.go
// the FIFO waiters, reclaim.go the decision whether a slot may be reused,
// lease.go a held slot, inspect.go status and clean, cooldown.go a key's
// cooldown (the record every acquire reads under the gate), root.go the
// lock root's safety checks.
//
// The package knows no provider by name and imports only the standard library,
// golang.org/x/sys and its own procid, so binaries that link it start quickly.
package admission
