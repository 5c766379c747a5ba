package packet

import "fmt"

// Error codes returned in Error.Code.
const (
	CodeNotAGitRepo          = "not_a_git_repo"
	CodeGitFailed            = "git_failed"
	CodeBadBaseRef           = "bad_base_ref"
	CodeEmptyPacket          = "empty_packet"
	CodeSourcePacketTooLarge = "source_packet_too_large"
	CodeBadRelayignore       = "bad_relayignore"
	CodeBadExclude           = "bad_exclude" // a "!" pattern in Options.Exclude
	CodeBadPromptFile        = "bad_prompt_file"
)

// Error is a typed packet failure. Msg is one line naming the problem and,
// when there is one, the fix; it never contains file contents.
type Error struct {
	Code string
	Msg  string

	err error // underlying cause, if any, for errors.Is/As
}

func (e *Error) Error() string { return e.Msg }

func (e *Error) Unwrap() error { return e.err }

func errorf(code string, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), err: cause}
}
