package admission

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

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

// withoutPath drops the path from an *fs.PathError so a message never names
// a directory; other errors pass through.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
