package admission

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Category is a route's declared capability fact: what running it shares.
type Category string

const (
	// SharedState: the route drives a CLI whose local state (a config or
	// session directory, or an account) must not be used by two runs at once.
	SharedState Category = "shared_state"
	// Stateless: the route shares nothing local; its limit only bounds load.
	Stateless Category = "stateless"
)

// Fact is what a plugin declares for a route in Describe.
type Fact struct {
	Category Category
	// Directory (shared_state): the state directory; "~" expands to HOME.
	Directory string
	// Identity (shared_state): an opaque account identity, when the shared
	// state is not a local directory. Exactly one of Directory and Identity.
	Identity string
	// DefaultLimit (stateless): the limit when relay.hcl sets none. A
	// shared_state fact may declare 0 or 1 only.
	DefaultLimit int
	// EnvCapVar (stateless): an environment variable that may lower the limit.
	EnvCapVar string
}

// LimitSource says where a Resolution's limit came from.
type LimitSource string

const (
	LimitFromDefault     LimitSource = "default"
	LimitFromConfig      LimitSource = "relay.hcl"
	LimitFromEnvCap      LimitSource = "env_cap"
	LimitFromSharedState LimitSource = "shared_state"
)

// ResolveInput is one route's fact plus the relay.hcl settings that apply.
type ResolveInput struct {
	Provider, Route string
	Fact            Fact
	// ConfiguredLimit is the route's limit in relay.hcl; 0 means not set.
	ConfiguredLimit int
	// LockRoot is relay.hcl admission.lock_root; "" means DefaultLockRoot.
	LockRoot string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Create lets ResolveFact create a missing shared_state directory (0700)
	// so that it has a key. Set it only when a lease is about to be acquired
	// on the result; a read-only caller (listing routes or their capacity)
	// leaves it false and gets a Resolution with WouldCreate instead, so
	// looking never creates a CLI's state directory.
	Create bool
}

// Resolution is the concurrency key, limit and lock root for one route.
type Resolution struct {
	// Key is the concurrency key. For shared_state it is a sha256 hex digest
	// of an account's state identity: never print it. It is empty exactly
	// when WouldCreate is set, and an empty key is never acquired.
	Key string
	// WouldCreate: the shared_state directory does not exist and the input
	// did not ask to create it. There is no key yet (it is the directory's
	// st_dev:st_ino), and no lease can be held on a key that does not
	// exist, so the route has no active reviews. Limit, LimitSource and
	// LockRoot are filled in as usual.
	WouldCreate bool

	Limit       int
	LimitSource LimitSource
	LockRoot    string
	Category    Category
	// Warnings are one line each and name no state directory.
	Warnings []string
}

// FactError codes.
const (
	FactUnknownCategory      = "unknown_category"
	FactUnresolvableIdentity = "unresolvable_identity"
	FactNotADirectory        = "not_a_directory"
	FactInvalidLimit         = "invalid_limit"
	FactLimitOnSharedState   = "limit_on_shared_state"
	FactInvalidRouteName     = "invalid_route_name"
	FactNoLockRoot           = "no_lock_root"
)

// FactError refuses a route before anything is sent. Msg is one line, names
// no state directory, and says how to fix the problem.
type FactError struct {
	Code string
	Msg  string
}

func (e *FactError) Error() string { return e.Code + ": " + e.Msg }

const (
	// lockDirOverrideEnv moves the lock root (stateless routes; see lockRootFor).
	lockDirOverrideEnv = "RELAY_PROVIDER_WORKLOAD_LOCK_DIR"
	// workloadTestModeEnv lets tests move shared_state locks as well.
	workloadTestModeEnv = "RELAY_WORKLOAD_TEST_MODE"
)

// ResolveFact turns a route's capability fact into the key, limit and lock
// root admission uses. It refuses (a *FactError) rather than guess: there is
// no fallback keyed on the provider's name.
func ResolveFact(in ResolveInput) (Resolution, error) {
	getenv := in.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	res := Resolution{Category: in.Fact.Category}
	where := fmt.Sprintf("provider %q route %q", in.Provider, in.Route)
	if c := in.Fact.Category; c != SharedState && c != Stateless {
		return Resolution{}, &FactError{FactUnknownCategory, fmt.Sprintf(
			"%s: unknown capability category %q; the plugin must declare %q or %q", where, c, SharedState, Stateless)}
	}
	if in.ConfiguredLimit < 0 {
		return Resolution{}, &FactError{FactInvalidLimit, fmt.Sprintf(
			"%s: relay.hcl sets limit %d; set a positive integer or remove it", where, in.ConfiguredLimit)}
	}
	if in.Fact.DefaultLimit < 0 {
		return Resolution{}, &FactError{FactInvalidLimit, fmt.Sprintf(
			"%s: the plugin declares default limit %d; the plugin must declare a positive limit", where, in.Fact.DefaultLimit)}
	}
	var err error
	switch in.Fact.Category {
	case SharedState:
		res.Key, res.WouldCreate, err = sharedStateKey(in, where, getenv)
		res.Limit, res.LimitSource = 1, LimitFromSharedState
	case Stateless:
		res.Key, err = statelessKey(in, where)
		if err == nil {
			res.Limit, res.LimitSource, res.Warnings, err = statelessLimit(in, where, getenv)
		}
	}
	if err != nil {
		return Resolution{}, err
	}
	var warn string
	res.LockRoot, warn, err = lockRootFor(in, getenv)
	if err != nil {
		return Resolution{}, err
	}
	if warn != "" {
		res.Warnings = append(res.Warnings, warn)
	}
	return res, nil
}

// sharedStateKey keys a shared_state route by what it shares, never by the
// provider: two providers (or two aliases) of one directory get one key.
// wouldCreate reports a missing directory that in.Create did not allow to
// create (the key is then "").
func sharedStateKey(in ResolveInput, where string, getenv func(string) string) (key string, wouldCreate bool, err error) {
	f := in.Fact
	if in.ConfiguredLimit > 1 {
		return "", false, &FactError{FactLimitOnSharedState, fmt.Sprintf(
			"%s: relay.hcl sets limit %d on a shared_state route, which is always single-flight; remove the limit", where, in.ConfiguredLimit)}
	}
	if f.DefaultLimit > 1 {
		return "", false, &FactError{FactLimitOnSharedState, fmt.Sprintf(
			"%s: the plugin declares limit %d on a shared_state fact, which is always single-flight; the plugin must declare 1", where, f.DefaultLimit)}
	}
	hasDir := strings.TrimSpace(f.Directory) != ""
	identity := strings.TrimSpace(f.Identity)
	if hasDir == (identity != "") {
		return "", false, &FactError{FactUnresolvableIdentity, fmt.Sprintf(
			"%s: a shared_state fact needs exactly one of directory and identity; fix the plugin's fact", where)}
	}
	if identity != "" {
		return factKeyDigest(identity), false, nil
	}
	return directoryKey(f.Directory, where, getenv, in.Create)
}

// directoryKey is sha256("st_dev:st_ino") of the resolved directory: the
// file system's own identity, so no spelling of the path can split the key.
//
// A missing directory is created (0700) when create is set, and otherwise
// reported as wouldCreate with no key: a key computed before the directory
// exists could not equal the one computed after, so there is none to give.
// A path that exists but is not a directory, or lies below a file, is
// refused either way, so a read-only look and a review agree on what fails.
func directoryKey(dir, where string, getenv func(string) string, create bool) (key string, wouldCreate bool, err error) {
	unresolvable := func(why string, err error) error {
		msg := fmt.Sprintf("%s: cannot resolve the shared_state directory: %s", where, why)
		if err != nil {
			msg += ": " + withoutPath(err).Error()
		}
		return &FactError{FactUnresolvableIdentity, msg + "; check the directory the plugin declares"}
	}
	notDir := &FactError{FactNotADirectory, fmt.Sprintf(
		"%s: the shared_state directory exists but is not a directory; move the file away or fix the plugin's fact", where)}

	p, err := expandUserPath(dir, getenv, os.UserHomeDir)
	if err != nil {
		return "", false, unresolvable("cannot expand ~", err)
	}
	if p, err = filepath.Abs(p); err != nil {
		return "", false, unresolvable("cannot make it absolute", err)
	}
	fi, err := os.Stat(p)
	switch {
	case err == nil && !fi.IsDir(), errors.Is(err, syscall.ENOTDIR):
		return "", false, notDir
	case errors.Is(err, fs.ErrNotExist):
		if _, lerr := os.Lstat(p); lerr == nil {
			// A symlink to nothing: MkdirAll fails on it, so refuse it now
			// rather than have a read-only look promise a directory.
			return "", false, unresolvable("it is a symlink to a missing directory", nil)
		}
		if !create {
			return "", true, nil
		}
		// Create it now: if the key waited for the CLI to create the directory,
		// a run before and a run after that would hold different keys.
		if err := os.MkdirAll(p, 0o700); err != nil {
			if errors.Is(err, syscall.ENOTDIR) {
				return "", false, notDir
			}
			return "", false, unresolvable("cannot create it", err)
		}
	case err != nil:
		return "", false, unresolvable("cannot stat it", err)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false, unresolvable("cannot resolve symlinks", err)
	}
	if fi, err = os.Stat(real); err != nil {
		return "", false, unresolvable("cannot stat it", err)
	}
	if !fi.IsDir() {
		return "", false, notDir
	}
	dev, ino, ok := fileIdentity(fi)
	if !ok {
		return "", false, unresolvable("this platform reports no device and inode numbers", nil)
	}
	return factKeyDigest(fmt.Sprintf("%d:%d", dev, ino)), false, nil
}

func statelessKey(in ResolveInput, where string) (string, error) {
	if !validRouteName(in.Provider) || !validRouteName(in.Route) {
		return "", &FactError{FactInvalidRouteName, fmt.Sprintf(
			"%s: provider and route names must match [A-Za-z0-9_-]+; rename them", where)}
	}
	return in.Provider + "." + in.Route, nil
}

// statelessLimit is relay.hcl's limit, else the declared default, then
// lowered (never raised) by the env cap.
func statelessLimit(in ResolveInput, where string, getenv func(string) string) (int, LimitSource, []string, error) {
	limit, source := in.Fact.DefaultLimit, LimitFromDefault
	if in.ConfiguredLimit > 0 {
		limit, source = in.ConfiguredLimit, LimitFromConfig
	}
	if limit < 1 {
		return 0, "", nil, &FactError{FactInvalidLimit, fmt.Sprintf(
			"%s: no limit is set and the plugin declares none; set limit in relay.hcl", where)}
	}
	name := in.Fact.EnvCapVar
	if name == "" {
		return limit, source, nil, nil
	}
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return limit, source, nil, nil
	}
	// The cap can only lower the limit: it is a user's brake, not a way around
	// a limit the plugin or relay.hcl chose.
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return limit, source, []string{fmt.Sprintf(
			"%s: %s is not a positive integer and is ignored (limit stays %d)", where, name, limit)}, nil
	}
	if n < limit {
		limit, source = n, LimitFromEnvCap
	}
	return limit, source, nil, nil
}

// lockRootFor is the lock root for in (see ResolveLockRoot).
func lockRootFor(in ResolveInput, getenv func(string) string) (string, string, error) {
	return ResolveLockRoot(LockRootInput{Configured: in.LockRoot, Category: in.Fact.Category, Getenv: getenv})
}

// DefaultLockRoot is $XDG_STATE_HOME/relay/locks/v2, else
// $HOME/.local/state/relay/locks/v2 (HOME from getenv, else os.UserHomeDir).
// getenv nil means os.Getenv.
func DefaultLockRoot(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	return defaultLockRoot(getenv, os.UserHomeDir)
}

func defaultLockRoot(getenv func(string) string, userHome func() (string, error)) (string, error) {
	// The XDG spec says a relative XDG_STATE_HOME is invalid and to be ignored.
	if x := getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "relay", "locks", "v2"), nil
	}
	home, err := homeDir(getenv, userHome)
	if err != nil {
		return "", &FactError{FactNoLockRoot, "neither XDG_STATE_HOME nor HOME is set; set one, or admission.lock_root in relay.hcl"}
	}
	return filepath.Join(home, ".local", "state", "relay", "locks", "v2"), nil
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

// expandUserPath is ExpandHome with HOME from getenv, else userHome.
func expandUserPath(p string, getenv func(string) string, userHome func() (string, error)) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~") && !strings.HasPrefix(p, "$HOME") {
		return p, nil
	}
	home, err := homeDir(getenv, userHome)
	if err != nil {
		return "", errors.New("HOME is not set")
	}
	return ExpandHome(p, home)
}

// withoutPath drops the path from an *fs.PathError so a message never names a
// state directory; other errors pass through.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func factKeyDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func validRouteName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
