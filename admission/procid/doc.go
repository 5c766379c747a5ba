// Package procid tells processes and boots apart, for the semaphore's
// reclaim decision and for anything that must not signal a stranger.
//
// A pid alone is reused by the kernel; pid + start time + argv0 (Info) names
// one process instance. Capture reads that identity, and its errors say what
// they prove: only "no such process" proves a process gone, and a platform or
// permission that hides the answer proves nothing. A boot id (BootID) names
// one boot of one kernel and is the only evidence that an uninspectable
// holder is gone. Classify turns a recorded Holder into alive, dead,
// unverifiable or foreign as seen by an Observer ("this host, now"), and
// Reclaimable says which of those may lose a slot: every doubt fails closed.
//
// Holder identity (pids, hosts) is for the operator's terminal and debug logs
// only; nothing here puts it anywhere else. The package imports only the
// standard library and golang.org/x/sys.
package procid
