package findings

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// github output is GitHub Actions workflow commands, one per line:
// ::error (high), ::warning (medium) or ::notice (low, info) with file,
// line, endLine and title, the body and who found it as the message; a
// failed reviewer is an ::error without a file. Values are escaped as the
// runner unescapes them (escapeData, escapeProperty).
func writeGitHub(w io.Writer, r *Result) error {
	b := bufio.NewWriter(w)
	for _, f := range r.Findings {
		props := []string{"file=" + escapeProperty(f.File)}
		if f.Line > 0 {
			props = append(props, fmt.Sprintf("line=%d", f.Line), fmt.Sprintf("endLine=%d", f.end()))
		}
		props = append(props, "title="+escapeProperty(fmt.Sprintf("[%s] %s", f.Severity, f.Title)))
		msg := f.Body
		if msg != "" {
			msg += "\n\n"
		}
		msg += "found by " + strings.Join(f.FoundBy, ", ") + " (" + f.ID + ")"
		fmt.Fprintf(b, "::%s %s::%s\n", ghCommand(f.Severity), strings.Join(props, ","), escapeData(msg))
	}
	for _, f := range r.Failures {
		fmt.Fprintf(b, "::error title=%s::%s\n", escapeProperty("reviewer "+f.Reviewer+" failed"), escapeData(f.Reason))
	}
	return b.Flush()
}

func ghCommand(s Severity) string {
	switch s {
	case High:
		return "error"
	case Medium:
		return "warning"
	}
	return "notice"
}

// escapeData escapes a command's message: the runner reads up to the
// newline, and turns %25, %0D and %0A back into %, CR and LF.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a property value: as escapeData, and ':' and ','
// too, which end a value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
