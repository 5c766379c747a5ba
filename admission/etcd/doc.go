// Package etcd is the fleet admission backend: the counting semaphore of
// package admission kept in etcd, so one route's limit holds across every
// host that points at the same cluster.
//
// Layout under the prefix (default /relay/locks/v2), per concurrency key:
//
//	<prefix>/<key-slug>/holders/<lease-id>-<seq>  one per lease, value {"limit","acquired_unix_ms"}
//	<prefix>/<key-slug>/queue/<lease-id>-<seq>    one per waiter; its create revision is its ticket
//	<prefix>/<key-slug>/cooldown                  the key's cooldown, if any, on a lease of its own (cooldown.go)
//	<prefix>/_total/...                           the same for the global max_total cap
//
// One Backend binds all its keys to one etcd lease with keep-alive (a
// session made on the first acquire, and made anew after it is lost); <seq>
// keeps each acquire's keys apart. A process that dies (SIGKILL included)
// frees its slots when the lease TTL runs out, and Release is a single
// delete txn of its own keys. When the shared lease is lost, every lease
// held on it reports Lost.
//
// The guarantee is lease-based, not a fencing token: a holder that is paused
// (or partitioned) for longer than the TTL loses its slot while it may still
// be working. Such a lease reports it through Lost (admission.LossNotifier);
// nothing stops a holder that does not listen.
//
// Like the local backend, refusals are *admission.BlockedError with counts
// only. Nothing in this package falls back to the local backend: an
// unreachable cluster fails closed with reason backend_unavailable.
package etcd
