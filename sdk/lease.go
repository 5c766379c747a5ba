package sdk

// EnvLeaseFD names the environment variable through which relay-host tells
// a plugin which of its descriptors is the lease channel: one end of a unix
// stream socket. On it, the plugin writes [LeaseHello] once at start; after
// relay-host has acquired the review's admission slot it sends one byte
// [LeaseOffer] carrying the slot's locked descriptors (SCM_RIGHTS), and the
// plugin answers [LeaseAck] once it holds them.
//
// The plugin keeps those descriptors open, close-on-exec, until it exits.
// They share the host's open file description, so the slot's lock is held
// while either process lives: a SIGKILLed relay-host frees the slot only
// when its plugin has died, and Serve dies only after killing its CLIs'
// process groups and its own. No CLI inherits them, so a CLI's helper that
// leaves those groups (setsid) cannot pin the slot.
//
// A plugin in another language may ignore the channel: relay-host then
// relies on killing the plugin's process group and on the plugin's own
// handling of SIGTERM.
const EnvLeaseFD = "RELAY_LEASE_FD"

// The bytes of the lease channel.
const (
	LeaseHello = 'h'
	LeaseOffer = 'l'
	LeaseAck   = 'a'
)
