package admission

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
