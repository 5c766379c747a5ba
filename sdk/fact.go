package sdk

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Description is what a plugin says about itself in Describe.
type Description struct {
	// Name is the <name> of relay-provider-<name>.
	Name string
	// Version is the plugin's own version.
	Version string
	// SDKVersion is filled in by Serve with [Version]; a plugin need not set
	// it. The client reports what the plugin sent.
	SDKVersion string
	// Routes are the plugin's routes; at least one, names unique.
	Routes []Route
}

// Route is one way a plugin can run a review, with the capability fact the
// host's admission uses to pick a concurrency key and limit.
type Route struct {
	Name string
	Fact Fact
	// Budget is the route's default source packet budget in bytes; zero
	// means the host default. A CLI whose prompt must travel in argv, for
	// example, needs a budget well under 128 KiB.
	Budget int64
}

// FactKind is the category of a capability fact.
type FactKind string

const (
	// FactSharedState: the route serialises on state shared by every user of
	// one account (limit 1).
	FactSharedState FactKind = "shared_state"
	// FactStateless: independent requests up to a limit.
	FactStateless FactKind = "stateless"
)

// Fact is a route's capability fact. Build it with [SharedStateDir],
// [SharedStateIdentity] or [Stateless]; the fields are exported so the host
// can read them.
type Fact struct {
	Kind FactKind
	// Directory is the shared state directory (shared_state only): absolute,
	// or "~" / "~/..." for the user's home. The host expands and resolves it.
	Directory string
	// Identity is an opaque account identity (shared_state only), e.g. an
	// endpoint plus an account marker. Never put a secret in it: hash keys.
	Identity string
	// DefaultLimit is the declared concurrency (stateless only, >= 1).
	DefaultLimit int
	// EnvCapVar names an environment variable that may lower the limit
	// (stateless only); empty for none.
	EnvCapVar string
}

// SharedStateDir is a shared_state fact keyed by a directory: every review
// using that directory (in any provider) runs one at a time.
func SharedStateDir(path string) Fact {
	return Fact{Kind: FactSharedState, Directory: path}
}

// SharedStateIdentity is a shared_state fact keyed by an opaque identity
// string, for state that is not a directory (a tunnel endpoint + account).
func SharedStateIdentity(identity string) Fact {
	return Fact{Kind: FactSharedState, Identity: identity}
}

// Stateless is a stateless fact: up to defaultLimit concurrent reviews,
// lowered (never raised) by the environment variable envCapVar when set.
func Stateless(defaultLimit int, envCapVar string) Fact {
	return Fact{Kind: FactStateless, DefaultLimit: defaultLimit, EnvCapVar: envCapVar}
}

// Limits on what a description may contain; generous, but finite so a
// misbehaving plugin cannot make the host allocate without bound.
const (
	maxRoutes      = 64
	maxIdentityLen = 4096
	maxPathLen     = 4096
	maxVersionLen  = 128
)

// Names become HCL labels, file-name parts and "<provider>.<route>" keys,
// so they are restricted to characters that need no quoting anywhere:
// namePattern. validName and validEnvVar are those patterns written out,
// because compiling their bounded repeats cost every plugin and host start
// about 0.13 ms.
const (
	namePattern   = `^[a-z0-9][a-z0-9_-]{0,63}$`
	envVarPattern = `^[A-Za-z_][A-Za-z0-9_]{0,127}$`
)

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

func validEnvVar(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Validate reports the first problem with d, or nil. Serve validates what a
// plugin returns before sending it, and the client validates what it
// receives, so neither side trusts the other.
func (d Description) Validate() error {
	if !validName(d.Name) {
		return fmt.Errorf("plugin name %q must match %s", d.Name, namePattern)
	}
	if d.Version == "" || len(d.Version) > maxVersionLen || !printable(d.Version) {
		return fmt.Errorf("plugin version %q must be 1-%d printable characters", d.Version, maxVersionLen)
	}
	if len(d.SDKVersion) > maxVersionLen || !printable(d.SDKVersion) {
		return fmt.Errorf("sdk version must be at most %d printable characters", maxVersionLen)
	}
	if len(d.Routes) == 0 {
		return errors.New("plugin describes no routes")
	}
	if len(d.Routes) > maxRoutes {
		return fmt.Errorf("plugin describes %d routes, more than %d", len(d.Routes), maxRoutes)
	}
	seen := make(map[string]bool, len(d.Routes))
	for _, r := range d.Routes {
		if err := r.Validate(); err != nil {
			return err
		}
		if seen[r.Name] {
			return fmt.Errorf("route %q is described twice", r.Name)
		}
		seen[r.Name] = true
	}
	return nil
}

// Validate reports the first problem with r, or nil.
func (r Route) Validate() error {
	if !validName(r.Name) {
		return fmt.Errorf("route name %q must match %s", r.Name, namePattern)
	}
	if r.Budget < 0 {
		return fmt.Errorf("route %q: packet budget %d is negative", r.Name, r.Budget)
	}
	if err := r.Fact.Validate(); err != nil {
		return fmt.Errorf("route %q: %w", r.Name, err)
	}
	return nil
}

// Validate reports the first problem with f, or nil.
func (f Fact) Validate() error {
	switch f.Kind {
	case FactSharedState:
		if f.DefaultLimit != 0 || f.EnvCapVar != "" {
			// A shared_state limit is always 1; a plugin that declares one
			// has confused the categories.
			return errors.New("shared_state fact must not declare a limit or env cap var")
		}
		switch {
		case f.Directory != "" && f.Identity != "":
			return errors.New("shared_state fact has both a directory and an identity; set exactly one")
		case f.Directory != "":
			return validateDir(f.Directory)
		case f.Identity != "":
			if len(f.Identity) > maxIdentityLen || !printable(f.Identity) {
				return fmt.Errorf("shared_state identity must be 1-%d printable characters", maxIdentityLen)
			}
			return nil
		default:
			return errors.New("shared_state fact has neither a directory nor an identity; set exactly one")
		}
	case FactStateless:
		if f.Directory != "" || f.Identity != "" {
			return errors.New("stateless fact must not name a directory or identity")
		}
		if f.DefaultLimit < 1 {
			return fmt.Errorf("stateless default limit %d must be at least 1", f.DefaultLimit)
		}
		if f.EnvCapVar != "" && !validEnvVar(f.EnvCapVar) {
			return fmt.Errorf("env cap var %q is not a valid environment variable name", f.EnvCapVar)
		}
		return nil
	case "":
		return errors.New("route has no capability fact")
	default:
		return fmt.Errorf("unknown capability fact kind %q", f.Kind)
	}
}

func validateDir(dir string) error {
	if len(dir) > maxPathLen || !printable(dir) {
		return fmt.Errorf("shared_state directory must be 1-%d printable characters", maxPathLen)
	}
	// A relative path would be resolved against the plugin's working
	// directory, which the host does not control; two launches from two
	// directories would then split one account's key.
	if dir == "~" || strings.HasPrefix(dir, "~/") || filepath.IsAbs(dir) {
		return nil
	}
	return fmt.Errorf("shared_state directory %q must be absolute or start with ~/", dir)
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}
