package jobs

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: no record (or worker sidecar) with that id.
	ErrNotFound = errors.New("job not found")
	// ErrInvalidID: the id is not a job id; nothing was read.
	ErrInvalidID = errors.New("invalid job id")
	// ErrCorrupt: a record or sidecar exists but cannot be decoded.
	ErrCorrupt = errors.New("corrupt job record")
	// ErrUnsafeDir: the store directory is a symlink, not a directory,
	// foreign-owned or writable by others.
	ErrUnsafeDir = errors.New("unsafe job store directory")
)

// codedError is a one-line message that matches a sentinel with errors.Is.
type codedError struct {
	kind error
	msg  string
}

func (e *codedError) Error() string        { return e.msg }
func (e *codedError) Is(target error) bool { return target == e.kind }

func newError(kind error, format string, args ...any) error {
	return &codedError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
