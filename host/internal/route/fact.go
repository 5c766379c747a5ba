package route

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

	"github.com/relay-host/relay-host/admission"
	"github.com/relay-host/relay-host/host/internal/lockroot"
	"github.com/relay-host/relay-host/sdk"
)

// LimitSource says where an Admission's limit came from.
type LimitSource string

const (
	LimitFromDefault     LimitSource = "default"
	LimitFromConfig      LimitSource = "relay.hcl"
	LimitFromEnvCap      LimitSource = "env_cap"
	LimitFromSharedState LimitSource = "shared_state"
	// LimitFromRepo: a trusted repository's relay.hcl lowered the limit
	// (limit_cap).
	LimitFromRepo LimitSource = "repo relay.hcl"
)

// Admission is what admission needs for one route: the key, the limit and
// the lock root. Nothing else crosses into the admission package.
type Admission struct {
	// Key is the concurrency key. For shared_state it is a sha256 hex digest
	// of an account's state identity: never print it. It is empty exactly
	// when WouldCreate is set, and an empty key is never acquired.
	Key string
	// WouldCreate: the shared_state directory does not exist and the
	// session was not opened to acquire. There is no key yet (it is the
	// directory's st_dev:st_ino), and no lease can be held on a key that
	// does not exist, so the route has no active reviews. Limit,
	// LimitSource and LockRoot are filled in as usual.
	WouldCreate bool

	Limit       int
	LimitSource LimitSource
	LockRoot    string
	// StateDir is the shared_state directory the fact declares, expanded
	// and absolute ("" for an identity or a stateless route). It is for
	// redaction only: a message never names a state directory.
	StateDir string
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

// factInput is one route's fact plus the relay.hcl settings that apply.
type factInput struct {
	Provider, Route string
	Fact            sdk.Fact
	// ConfiguredLimit is the route's limit in relay.hcl; 0 means not set.
	ConfiguredLimit int
	// LockRoot is relay.hcl admission.lock_root; "" means lockroot.Default.
	LockRoot string
	Getenv   func(string) string
	// Create lets resolveFact create a missing shared_state directory (0700)
	// so that it has a key. It is set only when a lease is about to be
	// acquired on the result; a read-only caller (listing routes or their
	// capacity) gets WouldCreate instead, so looking never creates a CLI's
	// state directory.
	Create bool
}

// resolveFact turns a route's capability fact into the key, limit and lock
// root admission uses. It refuses (a *FactError) rather than guess: there
// is no fallback keyed on the provider's name.
func resolveFact(in factInput) (Admission, error) {
	var res Admission
	where := fmt.Sprintf("provider %q route %q", in.Provider, in.Route)
	if k := in.Fact.Kind; k != sdk.FactSharedState && k != sdk.FactStateless {
		return Admission{}, &FactError{FactUnknownCategory, fmt.Sprintf(
			"%s: unknown capability category %q; the plugin must declare %q or %q", where, k, sdk.FactSharedState, sdk.FactStateless)}
	}
	if in.ConfiguredLimit < 0 {
		return Admission{}, &FactError{FactInvalidLimit, fmt.Sprintf(
			"%s: relay.hcl sets limit %d; set a positive integer or remove it", where, in.ConfiguredLimit)}
	}
	if in.Fact.DefaultLimit < 0 {
		return Admission{}, &FactError{FactInvalidLimit, fmt.Sprintf(
			"%s: the plugin declares default limit %d; the plugin must declare a positive limit", where, in.Fact.DefaultLimit)}
	}
	var err error
	switch in.Fact.Kind {
	case sdk.FactSharedState:
		res.Key, res.StateDir, res.WouldCreate, err = sharedStateKey(in, where)
		res.Limit, res.LimitSource = 1, LimitFromSharedState
	case sdk.FactStateless:
		res.Key, err = statelessKey(in, where)
		if err == nil {
			res.Limit, res.LimitSource, res.Warnings, err = statelessLimit(in, where)
		}
	}
	if err != nil {
		return Admission{}, err
	}
	root, warn, err := lockroot.Resolve(lockroot.Input{Configured: in.LockRoot, SharedState: in.Fact.Kind == sdk.FactSharedState, Getenv: in.Getenv})
	var le *lockroot.Error
	if errors.As(err, &le) {
		return Admission{}, &FactError{FactNoLockRoot, le.Msg}
	}
	if err != nil {
		return Admission{}, err
	}
	res.LockRoot = root
	if warn != "" {
		res.Warnings = append(res.Warnings, warn)
	}
	return res, nil
}

// sharedStateKey keys a shared_state route by what it shares, never by the
// provider: two providers (or two aliases) of one directory get one key.
// wouldCreate reports a missing directory that in.Create did not allow to
// create (the key is then "").
func sharedStateKey(in factInput, where string) (key, dir string, wouldCreate bool, err error) {
	f := in.Fact
	if in.ConfiguredLimit > 1 {
		return "", "", false, &FactError{FactLimitOnSharedState, fmt.Sprintf(
			"%s: relay.hcl sets limit %d on a shared_state route, which is always single-flight; remove the limit", where, in.ConfiguredLimit)}
	}
	if f.DefaultLimit > 1 {
		return "", "", false, &FactError{FactLimitOnSharedState, fmt.Sprintf(
			"%s: the plugin declares limit %d on a shared_state fact, which is always single-flight; the plugin must declare 1", where, f.DefaultLimit)}
	}
	hasDir := strings.TrimSpace(f.Directory) != ""
	identity := strings.TrimSpace(f.Identity)
	if hasDir == (identity != "") {
		return "", "", false, &FactError{FactUnresolvableIdentity, fmt.Sprintf(
			"%s: a shared_state fact needs exactly one of directory and identity; fix the plugin's fact", where)}
	}
	if identity != "" {
		return keyDigest(identity), "", false, nil
	}
	return directoryKey(f.Directory, where, in.Getenv, in.Create)
}

// directoryKey is sha256("st_dev:st_ino") of the resolved directory: the
// file system's own identity, so no spelling of the path can split the key.
// dir is the declared path, expanded and absolute.
//
// A missing directory is created (0700) when create is set, and otherwise
// reported as wouldCreate with no key: a key computed before the directory
// exists could not equal the one computed after, so there is none to give.
// A path that exists but is not a directory, or lies below a file, is
// refused either way, so a read-only look and a review agree on what fails.
func directoryKey(declared, where string, getenv func(string) string, create bool) (key, dir string, wouldCreate bool, err error) {
	unresolvable := func(why string, err error) error {
		msg := fmt.Sprintf("%s: cannot resolve the shared_state directory: %s", where, why)
		if err != nil {
			msg += ": " + lockroot.WithoutPath(err).Error()
		}
		return &FactError{FactUnresolvableIdentity, msg + "; check the directory the plugin declares"}
	}
	notDir := &FactError{FactNotADirectory, fmt.Sprintf(
		"%s: the shared_state directory exists but is not a directory; move the file away or fix the plugin's fact", where)}

	p, err := expandUserPath(declared, getenv)
	if err != nil {
		return "", "", false, unresolvable("cannot expand ~", err)
	}
	if p, err = filepath.Abs(p); err != nil {
		return "", "", false, unresolvable("cannot make it absolute", err)
	}
	fi, err := os.Stat(p)
	switch {
	case err == nil && !fi.IsDir(), errors.Is(err, syscall.ENOTDIR):
		return "", "", false, notDir
	case errors.Is(err, fs.ErrNotExist):
		if _, lerr := os.Lstat(p); lerr == nil {
			// A symlink to nothing: MkdirAll fails on it, so refuse it now
			// rather than have a read-only look promise a directory.
			return "", "", false, unresolvable("it is a symlink to a missing directory", nil)
		}
		if !create {
			return "", p, true, nil
		}
		// Create it now: if the key waited for the CLI to create the directory,
		// a run before and a run after that would hold different keys.
		if err := os.MkdirAll(p, 0o700); err != nil {
			if errors.Is(err, syscall.ENOTDIR) {
				return "", "", false, notDir
			}
			return "", "", false, unresolvable("cannot create it", err)
		}
	case err != nil:
		return "", "", false, unresolvable("cannot stat it", err)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", "", false, unresolvable("cannot resolve symlinks", err)
	}
	if fi, err = os.Stat(real); err != nil {
		return "", "", false, unresolvable("cannot stat it", err)
	}
	if !fi.IsDir() {
		return "", "", false, notDir
	}
	dev, ino, ok := fileIdentity(fi)
	if !ok {
		return "", "", false, unresolvable("this platform reports no device and inode numbers", nil)
	}
	return keyDigest(fmt.Sprintf("%d:%d", dev, ino)), p, false, nil
}

func statelessKey(in factInput, where string) (string, error) {
	if !validRouteName(in.Provider) || !validRouteName(in.Route) {
		return "", &FactError{FactInvalidRouteName, fmt.Sprintf(
			"%s: provider and route names must match [A-Za-z0-9_-]+; rename them", where)}
	}
	return in.Provider + "." + in.Route, nil
}

// statelessLimit is relay.hcl's limit, else the declared default, then
// lowered (never raised) by the env cap.
func statelessLimit(in factInput, where string) (int, LimitSource, []string, error) {
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
	raw := strings.TrimSpace(in.Getenv(name))
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

// expandUserPath is admission.ExpandHome with the home lockroot.Home finds.
func expandUserPath(p string, getenv func(string) string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~") && !strings.HasPrefix(p, "$HOME") {
		return p, nil
	}
	home, err := lockroot.Home(getenv)
	if err != nil {
		return "", errors.New("HOME is not set")
	}
	return admission.ExpandHome(p, home)
}

func keyDigest(s string) string {
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
