package review

import (
	"fmt"

	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/exitcode"
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
