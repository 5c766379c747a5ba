// Package lockroot decides where admission's lock files live, for reviews
// and for `relay-host admission run|status|clean` alike, so the two never
// disagree about which slots exist.
//
// It is the host's policy, not admission's: admission is handed the root
// and never reads relay.hcl or the environment. It depends on the standard
// library and admission.ExpandHome only, because the lean front binary
// (host/cmd/relay-host, which must not link gRPC or the plugin host) needs
// it too.
//
// Invariants: a root is absolute with ~ expanded; an error or warning is
// one line and names no directory; a shared_state key's root never follows
// RELAY_PROVIDER_WORKLOAD_LOCK_DIR outside test mode, so one account's lock
// is never split across two roots.
package lockroot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/relay-host/relay-host/admission"
)

const (
	// OverrideEnv moves the lock root (stateless and generic keys; see Resolve).
	OverrideEnv = "RELAY_PROVIDER_WORKLOAD_LOCK_DIR"
	// TestModeEnv lets tests move shared_state locks as well.
	TestModeEnv = "RELAY_WORKLOAD_TEST_MODE"
)

// Error is a lock root that cannot be decided. Msg is one line, names no
// directory and says how to fix it.
type Error struct{ Msg string }

func (e *Error) Error() string { return "no_lock_root: " + e.Msg }

// Input is what decides a lock root.
type Input struct {
	// Flag is an explicit --lock-root; it wins over everything.
	Flag string
	// Configured is relay.hcl's admission.lock_root ("" = not set).
	Configured string
	// SharedState: the key is a shared_state route's. A key of the generic
	// wrapper (`admission run|status|clean`) is treated as stateless.
	SharedState bool
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Resolve is the one place a lock root is decided: Flag, else
// RELAY_PROVIDER_WORKLOAD_LOCK_DIR (for stateless and generic keys; for
// shared_state only under RELAY_WORKLOAD_TEST_MODE), else Configured, else
// Default. warning is one line when the environment override was ignored.
func Resolve(in Input) (root, warning string, err error) {
	getenv := in.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	root = in.Configured
	switch override := strings.TrimSpace(getenv(OverrideEnv)); {
	case in.Flag != "":
		root = in.Flag
	case override == "":
	case !in.SharedState || getenv(TestModeEnv) != "":
		// A shared_state key stands for one account's state, used by every
		// process that touches it, whatever its environment. Were the
		// override honoured there, two processes with different overrides
		// would lock one key under two roots and both run. Stateless keys
		// only bound load, so moving them cannot break mutual exclusion.
		// Tests opt in explicitly.
		root = override
	default:
		warning = OverrideEnv + " is ignored for shared_state routes, so one account's lock is never split; use admission.lock_root in relay.hcl"
	}
	if root == "" {
		r, err := Default(getenv)
		return r, warning, err
	}
	home, _ := Home(getenv)
	p, err := admission.ExpandHome(root, home)
	if err == nil {
		p, err = filepath.Abs(p)
	}
	if err != nil {
		return "", "", &Error{"cannot resolve the lock root: " + WithoutPath(err).Error() + "; set an absolute admission.lock_root in relay.hcl"}
	}
	return p, warning, nil
}

// Default is $XDG_STATE_HOME/relay/locks/v2, else
// $HOME/.local/state/relay/locks/v2 (HOME as Home finds it). getenv nil
// means os.Getenv.
func Default(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	return defaultRoot(getenv, os.UserHomeDir)
}

func defaultRoot(getenv func(string) string, userHome func() (string, error)) (string, error) {
	// The XDG spec says a relative XDG_STATE_HOME is invalid and to be ignored.
	if x := getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "relay", "locks", "v2"), nil
	}
	home, err := homeDir(getenv, userHome)
	if err != nil {
		return "", &Error{"neither XDG_STATE_HOME nor HOME is set; set one, or admission.lock_root in relay.hcl"}
	}
	return filepath.Join(home, ".local", "state", "relay", "locks", "v2"), nil
}

// Home is the home directory ~ stands for: HOME from getenv, else
// os.UserHomeDir. An injected environment decides it, so a test (or a
// background worker) never expands ~ to the real user's home by accident
// of os.Getenv.
func Home(getenv func(string) string) (string, error) {
	return homeDir(getenv, os.UserHomeDir)
}

func homeDir(getenv func(string) string, userHome func() (string, error)) (string, error) {
	if h := getenv("HOME"); h != "" {
		return h, nil
	}
	h, err := userHome()
	if err == nil && h == "" {
		err = errors.New("empty home directory")
	}
	return h, err
}

// WithoutPath drops the path from an *fs.PathError so a message never names
// a lock or state directory; other errors pass through.
func WithoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
