package review

import (
	"fmt"

	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/sdk"
)

// Exit codes of `relay-host review`: names for this package's failure
// paths of values in the host's one table (exitcode).
const (
	ExitOK             = exitcode.OK
	ExitRequestChanges = exitcode.RequestChanges
	ExitUsage          = exitcode.Usage
	ExitProvider       = exitcode.Provider
	ExitIOErr          = exitcode.IOErr
	ExitBlocked        = exitcode.Blocked
)

// Error codes a review records. A plugin's failure keeps the sdk's code
// (sdk.Code*, the closed set a plugin may report). These are the host's
// own, each defined only here.
const (
	CodeWorkloadBlocked   = "provider_workload_blocked"
	CodePluginNotFound    = "plugin_not_found"
	CodePluginUnsafe      = "plugin_unsafe"
	CodeChecksumMismatch  = "plugin_checksum_mismatch"
	CodePluginStartFailed = "plugin_start_failed"
	CodePluginInvalid     = "plugin_invalid"
	CodePluginCrashed     = "plugin_crashed"
	CodePluginProtocol    = "plugin_protocol_error"
	CodeAdmissionFailed   = "admission_unavailable"
	CodeAdmissionLost     = "admission_lost"
	CodeJobStoreFailed    = "job_store_failed"
	CodeUnknownRoute      = "unknown_route"
	CodeInvalidRequest    = "invalid_request"
	CodeSharedStateLimit  = "limit_on_shared_state"
)

// Codes defined elsewhere that the host records itself: the sdk's for a
// review that had an invalid configuration, timed out, was cancelled or hit
// a bug in relay-host, and the job store's for a resend the user did not
// confirm. Named here for this package's failure paths, not redefined.
const (
	CodeConfigInvalid      = string(sdk.CodeConfigInvalid)
	CodeTimeout            = string(sdk.CodeTimeout)
	CodeCancelled          = string(sdk.CodeCancelled)
	CodeInternal           = string(sdk.CodeInternal)
	CodeResendConfirmation = jobs.CodeResendConfirmationRequired
)

// Error is a review that did not complete. Msg is one line naming the
// problem and the fix; it holds no secret, state-dir path or holder
// identity. Diag, when set, is an HCL diagnostic the CLI renders in full.
type Error struct {
	Code string
	Msg  string
	Exit exitcode.Code
	Diag *config.DiagError
}

func (e *Error) Error() string { return e.Msg }

func errorf(code string, exit exitcode.Code, format string, args ...any) *Error {
	return &Error{Code: code, Exit: exit, Msg: fmt.Sprintf(format, args...)}
}
