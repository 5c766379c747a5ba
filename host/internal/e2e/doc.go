// Package e2e holds relay-host's end-to-end tests: the real relay-host and
// relay-host-core binaries, the echo example plugin and the test-only fault
// plugin, built once per test run, driving real git repositories, real
// admission lock files and real processes. Only remote model APIs would be
// faked, and these plugins call none.
package e2e
