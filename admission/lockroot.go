package admission

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LockRootInput is what decides a lock root.
type LockRootInput struct {
	// Flag is an explicit --lock-root; it wins over everything.
	Flag string
	// Configured is relay.hcl's admission.lock_root ("" = not set).
	Configured string
	// Category is the key's route category, or "" for a key of the generic
	// wrapper (`admission run|status|clean`), which is treated as stateless.
	Category Category
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// ResolveLockRoot is the one place a lock root is decided, for reviews and
// for `admission run|status|clean` alike: Flag, else
// RELAY_PROVIDER_WORKLOAD_LOCK_DIR (for stateless and generic keys; for
// shared_state only under RELAY_WORKLOAD_TEST_MODE), else Configured, else
// DefaultLockRoot. The result is absolute with ~ expanded. warning is one
// line when the environment override was ignored.
func ResolveLockRoot(in LockRootInput) (root, warning string, err error) {
	getenv := in.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	root = in.Configured
	switch override := strings.TrimSpace(getenv(lockDirOverrideEnv)); {
	case in.Flag != "":
		root = in.Flag
	case override == "":
	case in.Category != SharedState || getenv(workloadTestModeEnv) != "":
		// A shared_state key stands for one account's state, used by every
		// process that touches it, whatever its environment. Were the
		// override honoured there, two processes with different overrides
		// would lock one key under two roots and both run. Stateless keys
		// only bound load, so moving them cannot break mutual exclusion.
		// Tests opt in explicitly.
		root = override
	default:
		warning = lockDirOverrideEnv + " is ignored for shared_state routes, so one account's lock is never split; use admission.lock_root in relay.hcl"
	}
	if root == "" {
		r, err := DefaultLockRoot(getenv)
		return r, warning, err
	}
	home, _ := homeDir(getenv, os.UserHomeDir)
	p, err := ExpandHome(root, home)
	if err == nil {
		p, err = filepath.Abs(p)
	}
	if err != nil {
		return "", "", &FactError{FactNoLockRoot, "cannot resolve the lock root: " + withoutPath(err).Error() + "; set an absolute admission.lock_root in relay.hcl"}
	}
	return p, warning, nil
}

// ExpandHome expands a leading "~", "~/", "$HOME" or "$HOME/" to home. It
// is the one expander every relay-host path goes through. "~user" is
// refused rather than looked up: nothing in relay-host resolves other
// users' homes. A path without such a prefix is returned as it is.
func ExpandHome(p, home string) (string, error) {
	var rest string
	switch {
	case p == "~" || p == "$HOME":
	case strings.HasPrefix(p, "~/"):
		rest = p[2:]
	case strings.HasPrefix(p, "$HOME/"):
		rest = p[len("$HOME/"):]
	case strings.HasPrefix(p, "~"):
		return "", fmt.Errorf("%q: ~user paths are not supported; write the full path", p)
	default:
		return p, nil
	}
	if !filepath.IsAbs(home) {
		return "", errors.New("cannot expand " + fmt.Sprintf("%q", p) + ": HOME is not set to an absolute path")
	}
	return filepath.Join(home, rest), nil
}
