package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// CodeResendConfirmationRequired is the error code of a *ResendError.
const CodeResendConfirmationRequired = "resend_confirmation_required"

// Fingerprint identifies "this packet to this route": sha256 hex over a
// versioned, length-prefixed encoding of the four fields, so no two
// different field tuples share an encoding ("ab","c" vs "a","bc").
func Fingerprint(provider, route, promptHash, packetHash string) string {
	h := sha256.New()
	h.Write([]byte("relay-fingerprint-v1\n"))
	for _, f := range []string{provider, route, promptHash, packetHash} {
		fmt.Fprintf(h, "%d:%s\n", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ResendError means an earlier attempt may already have sent this packet,
// so sending it again needs the user's explicit --confirm-resend.
type ResendError struct {
	JobID  string // the earlier attempt that gates
	Reason string // why it gates, e.g. "failed after the source was sent"
}

// Code returns CodeResendConfirmationRequired.
func (e *ResendError) Code() string { return CodeResendConfirmationRequired }

func (e *ResendError) Error() string {
	return fmt.Sprintf("job %s may already have sent this packet (%s): rerun with --confirm-resend to send it again", e.JobID, e.Reason)
}

// CheckResend decides whether a new attempt with fingerprint fp may send
// without --confirm-resend. It returns the attempt that decided (nil if
// none) and a *ResendError when that attempt gates.
//
// Only finished attempts count. Each earlier attempt is settled first (see
// Settle): one whose worker died is failed/worker_lost from then on. An
// attempt still queued or running with its worker alive is skipped: it has
// not failed, and whether two reviews of one packet may run at once is
// admission's call, not this guard's.
//
// The deciding attempt is the latest finished record with fp (by
// StartedAt, ties by id), skipping attempts that are consistent, not
// completed and not_sent: those provably sent nothing, so they neither gate
// nor clear an earlier send (otherwise a blocked retry would hide the
// failure before it). The decider then:
//   - gates if its record contradicts itself (see contradictions);
//   - clears if it completed (the provider answered; resending is a new review);
//   - gates if it did not complete and its transmission is sent or
//     may_be_sent: failed (a dead worker's attempt included) or cancelled.
//
// A record that contradicts itself gates whatever its status, and so does a
// record file that cannot be read: it may be a later attempt with this
// fingerprint, and nothing proves otherwise.
func (s *Store) CheckResend(fp string) (*Record, error) {
	records, err := s.attempts(fp)
	if err != nil {
		return nil, err
	}
	var decider *Record
	for _, r := range records { // newest first
		if r.Corrupt() || r.Fingerprint != fp {
			continue
		}
		problems := contradictions(r)
		if len(problems) > 0 {
			return r, &ResendError{JobID: r.JobID, Reason: "its record contradicts itself: " + strings.Join(problems, "; ")}
		}
		if r.Live() {
			// An error here means its liveness cannot be checked: it stays
			// as it is, unfinished, and so does not count.
			r, _ = s.Settle(r)
			if r.Live() {
				continue
			}
		}
		if r.Status != StatusCompleted && r.Transmission == NotSent {
			continue
		}
		decider = r
		break
	}
	if decider != nil && decider.Status != StatusCompleted {
		reason := fmt.Sprintf("%s with source_content_transmission %s", decider.Status, decider.Transmission)
		if decider.ErrorCode == CodeWorkerLost {
			reason = fmt.Sprintf("the earlier worker died after the review call started; source_content_transmission %s", decider.Transmission)
		}
		return decider, &ResendError{JobID: decider.JobID, Reason: reason}
	}
	for _, r := range records {
		if r.Corrupt() {
			// Its marker says it was an attempt with this fingerprint.
			return decider, &ResendError{JobID: r.JobID, Reason: "its record is unreadable, so it cannot be ruled out"}
		}
	}
	return decider, nil
}

var (
	knownStatus       = []Status{StatusQueued, StatusRunning, StatusCompleted, StatusFailed, StatusCancelled}
	knownTransmission = []Transmission{NotSent, Sent, MayBeSent}
	knownVerdict      = []string{"approve", "request_changes", "missing"}
)

// contradictions lists the ways r disagrees with itself. Such a record
// cannot be trusted to say the source was not sent, so it gates. Checked:
//   - status is not queued, running, completed, failed or cancelled;
//   - transmission is not not_sent, sent or may_be_sent;
//   - completed, but transmission is not sent (a review came back, so the
//     source left; the pipeline records sent on success);
//   - completed with an error_code;
//   - completed without a verdict of approve, request_changes or missing;
//   - not completed, but with a verdict;
//   - failed without an error_code;
//   - queued, but transmission is not not_sent (nothing sends before it runs);
//   - queued or running with finished_at; completed, failed or cancelled
//     without it;
//   - started_at missing, or finished_at before started_at.
func contradictions(r *Record) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if !slices.Contains(knownStatus, r.Status) {
		add("unknown status %q", r.Status)
	}
	if !slices.Contains(knownTransmission, r.Transmission) {
		add("unknown source_content_transmission %q", r.Transmission)
	}
	done := r.Status == StatusCompleted || r.Status == StatusFailed || r.Status == StatusCancelled
	switch r.Status {
	case StatusCompleted:
		if r.Transmission != Sent {
			add("completed but source_content_transmission is %s", r.Transmission)
		}
		if r.ErrorCode != "" {
			add("completed with error_code %s", r.ErrorCode)
		}
		if !slices.Contains(knownVerdict, r.Verdict) {
			add("completed with verdict %q", r.Verdict)
		}
	case StatusFailed:
		if r.ErrorCode == "" {
			add("failed without an error_code")
		}
	case StatusQueued:
		if r.Transmission != NotSent {
			add("queued but source_content_transmission is %s", r.Transmission)
		}
	}
	if r.Status != StatusCompleted && r.Verdict != "" {
		add("%s with verdict %q", r.Status, r.Verdict)
	}
	if r.StartedAt.IsZero() {
		add("no started_at")
	}
	switch {
	case done && r.FinishedAt.IsZero():
		add("%s without finished_at", r.Status)
	case !done && !r.FinishedAt.IsZero():
		add("%s with finished_at", r.Status)
	case !r.FinishedAt.IsZero() && r.FinishedAt.Before(r.StartedAt):
		add("finished_at before started_at")
	}
	return p
}
